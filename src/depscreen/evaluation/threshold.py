"""Decision thresholds, chosen on dev only (never on test)."""

from __future__ import annotations

import numpy as np

from depscreen.evaluation.bootstrap import metrics_from_counts

GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def choose_threshold(labels, probs, grid: np.ndarray = GRID) -> float:
    """The threshold that maximises UA (balanced accuracy) on the given (dev) predictions.

    Ties — common on a small dev set — go to the threshold nearest 0.5, so the choice is
    stable and defaults to 0.5 when the dev set says nothing.
    """
    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=float)
    grid = np.asarray(grid, dtype=float)
    if len(labels) == 0 or len(np.unique(labels)) < 2:
        return 0.5
    # UA at every threshold at once, from confusion counts (the same definition as
    # metrics.binary_metrics; one sklearn call per threshold made evaluation slow).
    pred = probs[None, :] >= grid[:, None]  # (G, N)
    pos = labels[None, :] == 1
    counts = np.stack([(~pred & ~pos).sum(1), (pred & ~pos).sum(1),
                       (~pred & pos).sum(1), (pred & pos).sum(1)], axis=-1)  # (G, 4) tn fp fn tp
    scores = metrics_from_counts(counts)["ua"]
    best = np.flatnonzero(np.isclose(scores, scores.max()))
    return float(grid[best[np.argmin(np.abs(grid[best] - 0.5))]])
