"""Decision thresholds, chosen on dev only (never on test)."""

from __future__ import annotations

import numpy as np

from depscreen.evaluation.metrics import binary_metrics

GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)


def choose_threshold(labels, probs, grid: np.ndarray = GRID) -> float:
    """The threshold that maximises UA (balanced accuracy) on the given (dev) predictions.

    Ties — common on a small dev set — go to the threshold nearest 0.5, so the choice is
    stable and defaults to 0.5 when the dev set says nothing.
    """
    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if len(labels) == 0 or len(np.unique(labels)) < 2:
        return 0.5
    scores = np.array([binary_metrics(labels, (probs >= t).astype(int))["ua"] for t in grid])
    best = np.flatnonzero(np.isclose(scores, scores.max()))
    return float(grid[best[np.argmin(np.abs(grid[best] - 0.5))]])
