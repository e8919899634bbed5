"""Bootstrap confidence intervals over participants (cluster bootstrap), vectorised.

Resampling participants — not utterances — respects that a participant's utterances are
not independent. For utterance-level metrics each resampled participant brings all of its
utterances. Metrics are computed from confusion counts in numpy (the same definitions as
`metrics.binary_metrics`, checked against scikit-learn in the tests), so thousands of
resamples cost milliseconds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def counts_per_participant(frame: pd.DataFrame, participants: list[str]) -> np.ndarray:
    """(n_participants, 4) counts of tn, fp, fn, tp from rows with label and pred."""
    y, p = frame["label"].to_numpy(int), frame["pred"].to_numpy(int)
    cell = 2 * y + p  # 0 tn, 1 fp, 2 fn, 3 tp
    idx = pd.Index(participants).get_indexer(frame["session_id"])
    out = np.zeros((len(participants), 4), dtype=np.int64)
    np.add.at(out, (idx, cell), 1)
    return out


def metrics_from_counts(c: np.ndarray) -> dict[str, np.ndarray]:
    """f1_macro, wa, ua from (..., 4) counts [tn, fp, fn, tp]."""
    tn, fp, fn, tp = (c[..., i].astype(float) for i in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        f1_pos = np.where(2 * tp + fp + fn > 0, 2 * tp / (2 * tp + fp + fn), 0.0)
        f1_neg = np.where(2 * tn + fn + fp > 0, 2 * tn / (2 * tn + fn + fp), 0.0)
        rec_pos = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        rec_neg = np.where(tn + fp > 0, tn / (tn + fp), np.nan)
        ua = np.nanmean(np.stack([rec_pos, rec_neg]), axis=0)
        wa = (tp + tn) / np.maximum(tp + tn + fp + fn, 1)
    return {"f1_macro": (f1_pos + f1_neg) / 2, "wa": wa, "ua": ua}


def bootstrap_ci(
    counts_by_seed: list[np.ndarray], n_boot: int = 1000, seed: int = 0, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """95 % CI of the seed-mean of each metric, resampling participants (shared across seeds).

    `counts_by_seed`: one (n_participants, 4) array per seed, rows in the same participant order.
    """
    n = counts_by_seed[0].shape[0]
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, n, size=(n_boot, n))
    per_seed = [metrics_from_counts(c[idx].sum(axis=1)) for c in counts_by_seed]
    lo, hi = (1 - level) / 2 * 100, (1 + level) / 2 * 100
    out = {}
    for key in per_seed[0]:
        dist = np.nanmean(np.stack([m[key] for m in per_seed]), axis=0)
        out[key] = (float(np.nanpercentile(dist, lo)), float(np.nanpercentile(dist, hi)))
    return out
