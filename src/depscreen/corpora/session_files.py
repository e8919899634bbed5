"""A session's files wherever they sit, for the corpus readers and prediction alike.

`zip_member` finds a file by name inside a zip archive (DAIC-WOZ's ``{ID}_P.zip`` sessions are
read in place); `AudioFormats` collects the sessions whose audio is not in the models' format,
for one corpus note each.
"""

from __future__ import annotations

from pathlib import PurePosixPath

from depscreen import audio


def zip_member(names: list[str], wanted: str) -> str | None:
    """The member called `wanted` (any case) at the top level or in a folder, shallowest first."""
    hits = [
        n for n in names if not n.endswith("/") and PurePosixPath(n).name.lower() == wanted.lower()
    ]
    return min(hits, key=lambda n: (n.count("/"), n)) if hits else None


def too_short(info: audio.AudioInfo) -> str | None:
    """Why audio this short is unusable (no speech window fits), or None. From the header
    alone: prepare never decodes the audio (silence and bad samples are found where it is
    first decoded, when features are extracted)."""
    if info.duration >= audio.MIN_SECONDS:
        return None
    return (f"audio is {info.duration:.2f} s long, shorter than the {audio.MIN_SECONDS:g} s of "
            "the shortest speech window")


class AudioFormats:
    """Collects sessions whose audio is not 16 kHz mono, for one note each."""

    def __init__(self) -> None:
        self.odd: dict[str, audio.AudioInfo] = {}

    def add(self, session_id: str, info: audio.AudioInfo) -> None:
        if info.samplerate != audio.TARGET_SR or info.channels != 1:
            self.odd[session_id] = info

    def notes(self) -> list[str]:
        return [
            f"session {sid}: audio is {info.samplerate} Hz with {info.channels} channel(s); "
            f"converted to {audio.TARGET_SR} Hz mono when loaded"
            for sid, info in self.odd.items()
        ]
