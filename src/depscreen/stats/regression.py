"""PHQ-8 score regression: RMSE, MAE, Pearson r, Lin's CCC, the binary screen, bootstrap CIs.

Scores run 0-24 (AVEC 2017 scored RMSE and MAE on DAIC-WOZ, AVEC 2019 the CCC). A PHQ-8 of
10 or more is a positive screen, so thresholding true and predicted scores at
`SCREEN_CUTOFF` gives the binary metrics of `metrics.binary_metrics`. Undefined values are
float('nan') (Pearson r or CCC when a side is constant, see `pearson_r` and `ccc`).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from depscreen.errors import ConfigError
from depscreen.stats.metrics import binary_metrics

PHQ8_MAX = 24
SCREEN_CUTOFF = 10  # PHQ-8 >= 10 is a positive screen
SEVERITY_BANDS = (
    (0, 4, "none/minimal"),
    (5, 9, "mild"),
    (10, 14, "moderate"),
    (15, 19, "moderately severe"),
    (20, 24, "severe"),
)
REGRESSION_METRICS = ("rmse", "mae", "ccc", "pearson_r")
REGRESSION_AGGREGATIONS = ("mean", "median")
MIN_RESIDUALS = 5


def severity_band(score: float) -> str:
    """The PHQ-8 severity band of `score`, rounded half up and clipped to 0-24 first."""
    if not math.isfinite(score):
        raise ValueError(f"severity of a non-finite score {score!r}")
    s = min(max(math.floor(score + 0.5), 0), PHQ8_MAX)
    return next(name for lo, hi, name in SEVERITY_BANDS if lo <= s <= hi)


def _pair(y, p) -> tuple[np.ndarray, np.ndarray]:
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    if y.ndim != 1 or y.shape != p.shape:
        raise ValueError(f"true and predicted scores differ in shape: {y.shape} vs {p.shape}")
    if len(y) == 0:
        raise ValueError("no samples to score")
    if not (np.isfinite(y).all() and np.isfinite(p).all()):
        raise ValueError("scores must be finite")
    return y, p


# Row-wise versions (last axis) shared by the point metrics and the vectorised bootstrap.
# Deviations are taken after shifting by the first element, so a constant side has deviations
# exactly 0.0 (a float mean of equal values need not equal them).
def _dev(x: np.ndarray) -> np.ndarray:
    s = x - x[..., :1]
    return s - s.mean(axis=-1, keepdims=True)


def _rmse(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((y - p) ** 2, axis=-1))


def _mae(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.mean(np.abs(y - p), axis=-1)


def _pearson(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    dy, dp = _dev(y), _dev(p)
    syy, spp = np.sum(dy * dy, axis=-1), np.sum(dp * dp, axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.sum(dy * dp, axis=-1) / np.sqrt(syy * spp)
    return np.where((syy > 0) & (spp > 0), np.clip(r, -1.0, 1.0), np.nan)


def _ccc(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    dy, dp = _dev(y), _dev(p)
    cov = np.mean(dy * dp, axis=-1)
    den = np.mean(dy * dy, axis=-1) + np.mean(dp * dp, axis=-1)
    den = den + (np.mean(y, axis=-1) - np.mean(p, axis=-1)) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, 2 * cov / den, np.nan)


_ROW_METRICS = {"rmse": _rmse, "mae": _mae, "ccc": _ccc, "pearson_r": _pearson}


def rmse(y, p) -> float:
    """Root mean squared error."""
    return float(_rmse(*_pair(y, p)))


def mae(y, p) -> float:
    """Mean absolute error."""
    return float(_mae(*_pair(y, p)))


def pearson_r(y, p) -> float:
    """Pearson correlation; NaN when either side is constant."""
    return float(_pearson(*_pair(y, p)))


def ccc(y, p) -> float:
    """Lin's concordance correlation coefficient, population (1/n) moments.

    2 cov / (var_y + var_p + (mean_y - mean_p)^2). A constant prediction has cov 0, so CCC
    is exactly 0.0 when the other side varies; 0/0 (both sides constant and equal) is NaN.
    """
    return float(_ccc(*_pair(y, p)))


def regression_metrics(y, p) -> dict:
    """n, rmse, mae, ccc, pearson_r, and `screen`: binary_metrics of both sides >= SCREEN_CUTOFF."""
    y, p = _pair(y, p)
    return {
        "n": int(len(y)),
        "rmse": float(_rmse(y, p)),
        "mae": float(_mae(y, p)),
        "ccc": float(_ccc(y, p)),
        "pearson_r": float(_pearson(y, p)),
        "screen": binary_metrics(y >= SCREEN_CUTOFF, p >= SCREEN_CUTOFF),
    }


def naive_references(train_scores, y) -> dict:
    """regression_metrics of predicting the train mean ("train mean") and median ("train
    median") for every score in `y`; the constants come from `train_scores` only."""
    train = np.asarray(train_scores, dtype=float)
    if train.size == 0 or not np.isfinite(train).all():
        raise ValueError("train scores must be non-empty and finite")
    y = np.asarray(y, dtype=float)
    return {
        name: regression_metrics(y, np.full(y.shape, float(const)))
        for name, const in (("train mean", np.mean(train)), ("train median", np.median(train)))
    }


def bootstrap_regression_ci(
    y, p, metric: str, n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile CI of `metric`, resampling participants (rows) with replacement.

    Resamples where the metric is undefined (NaN) are skipped; (nan, nan) if all are.
    """
    if metric not in _ROW_METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose one of {REGRESSION_METRICS}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    y, p = _pair(y, p)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(y), size=(n_boot, len(y)))
    dist = _ROW_METRICS[metric](y[idx], p[idx])
    dist = dist[~np.isnan(dist)]
    if dist.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(dist, [(1 - level) / 2 * 100, (1 + level) / 2 * 100])
    return (float(lo), float(hi))


def residual_interval(residuals, level: float = 0.8) -> tuple[float, float]:
    """Empirical (1-level)/2 and (1+level)/2 quantiles of dev residuals (true - predicted).

    A prediction interval for a score p is then [p + lo, p + hi] (`prediction_interval`).
    """
    r = np.asarray(residuals, dtype=float).ravel()
    if len(r) < MIN_RESIDUALS:
        raise ConfigError(
            f"a residual interval needs at least {MIN_RESIDUALS} dev residuals, got {len(r)}"
        )
    if not np.isfinite(r).all():
        raise ValueError("residuals must be finite")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    lo, hi = np.quantile(r, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi))


def prediction_interval(p, interval: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """[p + lo, p + hi] for predictions `p` and a `residual_interval`, clipped to 0-24."""
    p = np.asarray(p, dtype=float)
    lo, hi = interval
    return np.clip(p + lo, 0, PHQ8_MAX), np.clip(p + hi, 0, PHQ8_MAX)


def aggregate_scores(session_ids, estimates, how: str) -> tuple[list, np.ndarray]:
    """Utterance score estimates -> one per participant (`how`: mean or median).

    Participants come in order of first appearance in `session_ids`.
    """
    if how not in REGRESSION_AGGREGATIONS:
        raise ValueError(f"unknown aggregation {how!r}; choose one of {REGRESSION_AGGREGATIONS}")
    ids, est = list(session_ids), np.asarray(estimates, dtype=float)
    if est.shape != (len(ids),):
        raise ValueError(f"{len(ids)} session ids but estimates of shape {est.shape}")
    out = pd.Series(est).groupby(pd.Series(ids), sort=False).agg(how)
    return list(out.index), out.to_numpy(dtype=float)
