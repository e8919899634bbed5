"""Small input files for the inference tests, built in code."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf


def write_wav(path: Path, seconds: float = 4.0, sr: int = 16000, channels: int = 1,
              subtype: str = "PCM_16", seed: int = 0) -> Path:
    """Tone bursts with pauses (speech-like energy), 16-bit PCM by default."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 0.5 * t) > -0.3)
    y = (y + 0.01 * rng.standard_normal(t.size)).astype(np.float32)
    if channels > 1:
        y = np.stack([y] * channels, axis=1)
    sf.write(path, y, sr, subtype=subtype)
    return path


def write_transcript(path: Path, rows: list[tuple[float, float, str, str]],
                     encoding: str = "utf-8") -> Path:
    lines = ["start_time\tstop_time\tspeaker\tvalue"]
    lines += [f"{a}\t{b}\t{who}\t{text}" for a, b, who, text in rows]
    path.write_bytes(("\n".join(lines) + "\n").encode(encoding))
    return path
