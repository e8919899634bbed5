"""log-Mel extraction: agreement with librosa, config validation, windows, normalisation."""

from __future__ import annotations

import numpy as np
import pytest

from depscreen.errors import AudioError, ConfigError, FeatureError
from depscreen.features.audio import (
    STD_FLOOR,
    LogMelConfig,
    logmel,
    mel_basis,
    normalise,
    session_stats,
    utterance_windows,
)


def reference(y: np.ndarray, cfg: LogMelConfig) -> np.ndarray:
    import librosa

    s = librosa.feature.melspectrogram(
        y=y, sr=cfg.sample_rate, n_fft=cfg.n_fft, hop_length=cfg.hop_length,
        win_length=cfg.win_length, n_mels=cfg.n_mels, fmin=cfg.fmin, fmax=cfg.fmax,
    )
    return librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=None).T


def signal(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.05 * rng.standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * 180 * t) * (t % 1 < 0.6)
    return y.astype(np.float32)


@pytest.mark.parametrize(
    "cfg",
    [LogMelConfig(), LogMelConfig(sample_rate=22050, win_ms=40, hop_ms=12.5, n_mels=80,
                                  fmin=50.0, fmax=8000.0)],
    ids=["default", "custom"],
)
def test_logmel_matches_librosa(cfg: LogMelConfig) -> None:
    y = signal(3.0, cfg.sample_rate)
    ours, ref = logmel(y, cfg), reference(y, cfg)
    assert ours.dtype == np.float32
    assert ours.shape == ref.shape == (1 + y.size // cfg.hop_length, cfg.n_mels)
    assert np.abs(ours - ref).max() < 1e-3


def test_logmel_pure_tone_matches_within_60_db_of_peak() -> None:
    # Bands >100 dB below a frame's peak sit at float32 rounding noise in both implementations.
    cfg = LogMelConfig()
    t = np.arange(cfg.sample_rate * 2) / cfg.sample_rate
    y = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    ours, ref = logmel(y, cfg), reference(y, cfg)
    audible = ref > ref.max(axis=1, keepdims=True) - 60
    assert np.abs(ours - ref)[audible].max() < 1e-3
    assert np.abs(ours - ref).max() < 0.5


def test_logmel_floor_and_short_input() -> None:
    cfg = LogMelConfig()
    out = logmel(np.zeros(100, np.float32), cfg)
    assert out.shape == (1, 64)
    assert np.allclose(out, -100.0)  # 10 * log10(amin)
    assert logmel(np.ones(10, np.float64) * 0.1, cfg).dtype == np.float32


def test_derived_sizes_and_basis() -> None:
    cfg = LogMelConfig()
    assert (cfg.win_length, cfg.hop_length, cfg.n_fft, cfg.f_max) == (400, 160, 512, 8000.0)
    assert LogMelConfig(sample_rate=22050).n_fft == 1024  # 551-sample window
    assert mel_basis(cfg).shape == (64, 257)
    assert cfg.n_frames(16000) == 101
    assert LogMelConfig().key() == cfg.key() != LogMelConfig(n_mels=40).key()
    assert LogMelConfig(win_ms=25, max_seconds=8).key() == cfg.key()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"sample_rate": 0}, {"sample_rate": 16000.0}, {"win_ms": 0}, {"hop_ms": -1},
        {"n_mels": 0}, {"fmin": -5}, {"fmax": 9000}, {"fmin": 4000, "fmax": 3000},
        {"amin": 0}, {"min_seconds": 0}, {"max_seconds": 0.5}, {"win_ms": float("nan")},
    ],
)
def test_config_validation(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        LogMelConfig(**kwargs)


def test_config_from_dict() -> None:
    assert LogMelConfig.from_dict({"n_mels": 40}).n_mels == 40
    with pytest.raises(ConfigError, match="unknown"):
        LogMelConfig.from_dict({"mels": 40})


def test_empty_mel_filters_are_a_config_error() -> None:
    with pytest.raises(ConfigError, match="empty"):
        logmel(np.zeros(1000, np.float32), LogMelConfig(n_mels=256, win_ms=10))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_input(bad: float) -> None:
    y = signal(1.0, 16000)
    y[5000] = bad
    with pytest.raises(AudioError, match="non-finite"):
        logmel(y)
    with pytest.raises(FeatureError):
        logmel(y)


def test_bad_shapes() -> None:
    with pytest.raises(FeatureError, match="empty"):
        logmel(np.zeros(0, np.float32))
    with pytest.raises(FeatureError, match="1-D"):
        logmel(np.zeros((2, 100), np.float32))


def test_utterance_windows() -> None:
    cfg = LogMelConfig(max_seconds=8.0, min_seconds=1.0)
    sr = cfg.sample_rate
    assert utterance_windows(0.0, 0.99, cfg) == []
    assert utterance_windows(2.0, 3.0, cfg) == [(2 * sr, 3 * sr)]
    assert utterance_windows(0.0, 8.0, cfg) == [(0, 8 * sr)]
    assert utterance_windows(0.0, 8.5, cfg) == [(0, 8 * sr)]  # 0.5 s remainder dropped
    spans = utterance_windows(1.0, 18.5, cfg)  # 8 + 8 + 1.5
    assert spans == [(sr, 9 * sr), (9 * sr, 17 * sr), (17 * sr, int(18.5 * sr))]
    assert utterance_windows(-0.5, 1.0, cfg) == [(0, sr)]  # clipped at the audio's start


def test_session_normalisation() -> None:
    rng = np.random.default_rng(0)
    frames = (rng.standard_normal((500, 4)) * [1, 2, 3, 4] + [-50, -20, 0, 5]).astype(np.float32)
    frames[:, 3] = -100.0  # a constant band: floored std, normalises to 0
    mean, std = session_stats(frames)
    assert std[3] == pytest.approx(STD_FLOOR)
    z = normalise(frames, mean, std)
    assert z.dtype == np.float32
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-4)
    np.testing.assert_allclose(z[:, :3].std(axis=0), 1, atol=1e-4)
    assert np.all(z[:, 3] == 0)
    mean0, std0 = session_stats(np.zeros((0, 4), np.float32))
    assert np.all(mean0 == 0) and np.all(std0 == 1)
