"""The typed records every corpus recipe produces.

A *session* is one interview of one participant; its *utterances* are the participant's
speech turns with times in the audio's own time base (corpus quirks such as transcript
offsets are already applied), so `audio[start:end]` is exactly what was said. The
interviewer's turns, where the transcript tells them apart, are kept on their own
(`Session.interviewer`), never mixed into the utterances.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

from depscreen.errors import CorpusWarning

Split = Literal["train", "dev", "test"]
SPLITS: tuple[str, ...] = ("train", "dev", "test")
# The input modalities, in the order outputs list them; defined here only.
MODALITIES: tuple[str, ...] = ("text", "speech")
PHQ8_ITEMS: tuple[str, ...] = (
    "NoInterest",
    "Depressed",
    "Sleep",
    "Tired",
    "Appetite",
    "Failure",
    "Concentrating",
    "Moving",
)
PHQ8_CUTOFF = 10  # PHQ8_Binary = 1 when PHQ8_Score >= 10


@dataclass(frozen=True)
class Utterance:
    """One speech turn (the participant's, or the interviewer's in `Session.interviewer`).
    `start`/`end` are seconds in the audio's time; `text` is cleaned."""

    session_id: str
    start: float
    end: float
    text: str

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass
class Session:
    """One interview: labels, metadata, where its audio lives and the participant's utterances.

    `audio` is an audio reference understood by `depscreen.audio` — a file path, or
    `archive.zip::member.wav` for audio read in place from a zip file. `None` = text only.
    `phq8_items` maps PHQ8_ITEMS names to 0-3 (None where the corpus leaves it empty).
    `gender` is "male", "female" or None.
    """

    session_id: str
    split: Split
    label: int | None
    phq8_score: float | None = None
    phq8_items: dict[str, int | None] | None = None
    gender: str | None = None
    audio: str | None = None
    utterances: list[Utterance] = field(default_factory=list)
    # True when the text channel exists (a transcript or inline text was given).
    has_text: bool = True
    # Who is interviewed, when the corpus says (manifests); None = the session is its own
    # speaker. Used by per-speaker feature normalisation and grouped splits.
    speaker: str | None = None
    # The interviewer's turns (same time base and cleaning as `utterances`), sorted by start;
    # None where the transcript has no speaker column or no interviewer line (E-DAIC, text
    # or audio-only manifest rows). Not written to sessions.csv; no model input reads it.
    interviewer: list[Utterance] | None = None

    @property
    def has_audio(self) -> bool:
        return self.audio is not None

    @property
    def speech_seconds(self) -> float:
        return float(sum(u.duration for u in self.utterances))

    @property
    def n_words(self) -> int:
        return sum(len(u.text.split()) for u in self.utterances)

    def to_row(self) -> dict:
        """The row written to sessions.csv."""
        row = {
            "session_id": self.session_id,
            "split": self.split,
            "label": self.label,
            "phq8_score": self.phq8_score,
            "gender": self.gender,
            "n_utterances": len(self.utterances),
            "speech_seconds": round(self.speech_seconds, 3),
            "n_words": self.n_words,
            "has_audio": self.has_audio,
            "has_text": self.has_text,
            "audio": self.audio,
            "speaker": self.speaker,
        }
        for item in PHQ8_ITEMS:
            row[f"PHQ8_{item}"] = (self.phq8_items or {}).get(item)
        return row


@dataclass
class Corpus:
    """What a recipe returns: the sessions, and the warnings about sessions it skipped or fixed."""

    name: str
    root: Path
    sessions: list[Session]
    warnings: list[CorpusWarning] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_split(self, split: str) -> list[Session]:
        return [s for s in self.sessions if s.split == split]


def utterance_dict(u: Utterance) -> dict:
    return asdict(u)
