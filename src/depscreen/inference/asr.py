"""Speech segments and offline speech recognition for interviews without a transcript.

`speech_segments` finds stretches of speech by frame energy (a simple, deterministic voice
activity detector), so that a recording without a transcript still gets an utterance
timeline. `Recognizer` transcribes segments with PocketSphinx 5, whose PyPI wheel carries the
US-English acoustic model, language model and dictionary: nothing is ever downloaded.

Neither separates speakers: in a single-channel interview recording without a transcript,
the interviewer's speech is segmented (and transcribed) together with the participant's.
Telling them apart (diarisation) is out of scope for depscreen.
"""

from __future__ import annotations

import numpy as np

from depscreen.errors import FeatureError

ASR_SAMPLE_RATE = 16000
SPEAKER_NOTE = (
    "depscreen does not separate interviewer from participant in a single-channel recording "
    "without a transcript (out of scope), so the whole recording is scored as the "
    "participant's speech; give a transcript with a speaker column to score the "
    "participant's turns only"
)


def speech_segments(
    wave: np.ndarray,
    sr: int,
    frame_ms: float = 30.0,
    min_speech: float = 0.3,
    min_gap: float = 0.6,
    pad: float = 0.15,
) -> list[tuple[float, float]]:
    """(start, end) seconds of the speech in `wave`, found by frame energy.

    A frame is speech when its energy is above a threshold placed 35% of the way from the
    recording's noise floor (10th percentile of frame energies, in dB) to its speech level
    (99th percentile); with less than 10 dB between the two the whole recording counts as
    speech (no pauses to find). Pauses shorter than `min_gap` are bridged, stretches shorter
    than `min_speech` dropped, and each segment is widened by `pad` on both sides.
    A (near-)silent recording gives no segments.
    """
    x = np.asarray(wave, dtype=np.float32)
    hop = max(1, int(round(sr * frame_ms / 1000)))
    n = x.size // hop
    duration = x.size / sr
    if n == 0:
        return []
    frames = x[: n * hop].reshape(n, hop)
    db = 10.0 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-12)
    floor, level = np.percentile(db, 10), np.percentile(db, 99)
    if level < -70.0:
        return []  # silence
    if level - floor < 10.0:
        return [(0.0, round(duration, 3))]
    speech = db > floor + 0.35 * (level - floor)
    # Runs of speech frames as [first, last) frame indices.
    edges = np.diff(np.concatenate([[0], speech.astype(np.int8), [0]]))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    frame_s = hop / sr
    runs: list[list[float]] = []
    for a, b in zip(starts, ends, strict=True):
        s, e = a * frame_s, b * frame_s
        if runs and s - runs[-1][1] < min_gap:
            runs[-1][1] = e
        else:
            runs.append([s, e])
    out = []
    for s, e in runs:
        if e - s < min_speech:
            continue
        out.append((round(float(max(0.0, s - pad)), 3), round(float(min(duration, e + pad)), 3)))
    # Padding can make neighbours touch: merge overlaps.
    merged: list[tuple[float, float]] = []
    for s, e in out:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


class Recognizer:
    """PocketSphinx with its bundled US-English model, loaded on first use (offline)."""

    def __init__(self) -> None:
        self._decoder = None

    def _load(self):
        if self._decoder is None:
            try:
                import pocketsphinx
            except ImportError as e:
                raise FeatureError(
                    "--asr needs the package pocketsphinx (pip install 'pocketsphinx>=5')"
                ) from e
            from pathlib import Path

            model = Path(pocketsphinx.get_model_path())
            files = {"hmm": model / "en-us" / "en-us", "lm": model / "en-us" / "en-us.lm.bin",
                     "dict": model / "en-us" / "cmudict-en-us.dict"}
            missing = [str(p) for p in files.values() if not p.exists()]
            if missing:
                raise FeatureError("the pocketsphinx English model files are missing "
                                   f"({', '.join(missing)}); reinstall pocketsphinx")
            try:
                self._decoder = pocketsphinx.Decoder(
                    **{k: str(v) for k, v in files.items()}, samprate=ASR_SAMPLE_RATE,
                    loglevel="FATAL",
                )
            except (RuntimeError, ValueError) as e:
                raise FeatureError(f"cannot start pocketsphinx ({e})") from e
        return self._decoder

    def transcribe(self, wave: np.ndarray, sr: int) -> str:
        """The words recognised in `wave` (float mono at `sr`), lower-case, space-separated."""
        x = np.asarray(wave, dtype=np.float32)
        if sr != ASR_SAMPLE_RATE:
            from depscreen.audio import resample

            x = resample(x, sr, ASR_SAMPLE_RATE)
        if x.size == 0:
            return ""
        pcm = (np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16)
        decoder = self._load()
        decoder.start_utt()
        decoder.process_raw(pcm.tobytes(), no_search=False, full_utt=True)
        decoder.end_utt()
        hyp = decoder.hyp()
        return " ".join(hyp.hypstr.split()) if hyp is not None else ""


def transcribe_segments(
    wave: np.ndarray, sr: int, segments: list[tuple[float, float]],
    recognizer: Recognizer | None = None,
) -> list[str]:
    """The recognised text of each (start, end) segment of `wave`."""
    rec = recognizer or Recognizer()
    return [rec.transcribe(wave[int(round(s * sr)): int(round(e * sr))], sr)
            for s, e in segments]
