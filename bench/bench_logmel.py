"""log-Mel extraction vs the librosa reference on 15 minutes of 16 kHz audio, one thread.

Run: .venv/bin/python bench/bench_logmel.py   (prints × real time, median of 5 runs each,
measured in the same process, and the largest difference in dB)
"""

from __future__ import annotations

import statistics
import time

import librosa
import numpy as np
import torch

from depscreen.features.audio import LogMelConfig, logmel

SECONDS = 900


def reference(y: np.ndarray, cfg: LogMelConfig) -> np.ndarray:
    S = librosa.feature.melspectrogram(
        y=y, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
        win_length=cfg.win_length, n_mels=cfg.n_mels,
    )
    return librosa.power_to_db(S, ref=1.0, amin=cfg.amin, top_db=None).T


def median_seconds(fn, y: np.ndarray, reps: int = 5) -> tuple[float, np.ndarray]:
    fn(y[:16000])  # warm-up: filterbank caches, FFT plans
    times, out = [], None
    for _ in range(reps):
        t0 = time.perf_counter()
        out = fn(y)
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    torch.set_num_threads(1)
    cfg = LogMelConfig()
    sr = cfg.sample_rate
    rng = np.random.default_rng(0)
    t = np.arange(sr * SECONDS) / sr
    voiced = np.sin(2 * np.pi * 0.5 * t) > 0
    y = (0.1 * rng.standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * 220 * t) * voiced)
    y = y.astype(np.float32)
    t_ref, ref = median_seconds(lambda x: reference(x, cfg), y)
    t_ours, ours = median_seconds(lambda x: logmel(x, cfg), y)
    print(f"librosa reference: {SECONDS / t_ref:8.0f}x real time")
    print(f"depscreen logmel:  {SECONDS / t_ours:8.0f}x real time")
    print(f"ratio: {t_ref / t_ours:.2f}x faster; max |difference| {np.abs(ours - ref).max():.1e} dB")


if __name__ == "__main__":
    main()
