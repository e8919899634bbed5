"""Tiny corpora built in code: short WAVs (plain and zipped) and hand-made Session records."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from depscreen.audio import zip_ref
from depscreen.corpora.records import Corpus, Session, Utterance
from depscreen.features.audio import LogMelConfig


def write_wav(path: Path, seconds: float, sr: int = 16000, seed: int = 0, freq: float = 220.0,
              channels: int = 1) -> Path:
    """Noise plus a tone, 16-bit PCM."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.05 * rng.standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * freq * t)
    if channels > 1:
        y = np.stack([y] * channels, axis=1)
    sf.write(path, y.astype(np.float32), sr, subtype="PCM_16")
    return path


def utts(sid: str, spans: list[tuple[float, float, str]]) -> list[Utterance]:
    return [Utterance(sid, a, b, text) for a, b, text in spans]


@pytest.fixture
def cfg() -> LogMelConfig:
    # Short windows so a 12 s file exercises cutting and remainder dropping.
    return LogMelConfig(max_seconds=3.0, min_seconds=1.0)


@pytest.fixture
def corpus(tmp_path: Path) -> Corpus:
    """train: A (audio+text, 1), B (zipped 8 kHz stereo audio only, 0), C (text only, 0);
    dev: D (audio+text, 1); test: E (audio+text, 0; its audio is corrupt, its words unique)."""
    audio = tmp_path / "audio"
    audio.mkdir()
    a = write_wav(audio / "A.wav", 12.0, seed=1)
    b_wav = write_wav(audio / "B.wav", 6.0, sr=8000, seed=2, channels=2)
    with zipfile.ZipFile(audio / "B.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(b_wav, "B_AUDIO.wav")
    b_wav.unlink()
    d = write_wav(audio / "D.wav", 4.0, seed=4)
    e = audio / "E.wav"
    e.write_bytes(b"RIFF this is not really a wav file at all" * 10)

    sessions = [
        Session("A", "train", 1, audio=str(a), utterances=utts("A", [
            (0.5, 2.0, "I feel tired all the time"),       # 1 window (1.5 s)
            (2.5, 3.2, "yes"),                             # 0.7 s: dropped
            (3.5, 11.9, "I don't sleep well, it's hard"),  # 3 + 3 + 2.4 s -> 3 windows
        ])),
        Session("B", "train", 0, audio=zip_ref(audio / "B.zip", "B_AUDIO.wav"),
                has_text=False, utterances=utts("B", [(0.0, 2.0, ""), (2.5, 6.0, "")])),
        Session("C", "train", 0, audio=None, utterances=utts("C", [
            (0.0, 1.0, "I feel fine"), (1.0, 2.0, "the time is fine"), (2.0, 2.5, "ok"),
        ])),
        Session("D", "dev", 1, audio=str(d), utterances=utts("D", [
            (0.0, 2.0, "tired again"), (2.0, 4.0, "devonlyword"),
        ])),
        Session("E", "test", 0, audio=str(e), utterances=utts("E", [
            (0.0, 2.0, "testonlyword testonlyword"),
        ])),
    ]
    return Corpus("tiny", tmp_path, sessions)
