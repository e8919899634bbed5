"""Decision thresholds, chosen on dev only (never on test).

Two rules:

* `balanced-logistic` (the default): UA is the accuracy under equal class priors, so the
  threshold that maximises it in expectation is where the class-balanced posterior crosses
  1/2. A class-balanced Platt fit on the dev log-odds (two parameters) estimates that point.
  It uses every dev score, not just the order of the few that sit near the boundary; on a
  dev split of a few dozen participants the empirical maximum can land far from the best
  test threshold of a well-separating model (bench/threshold_rules.py, README "Metrics").
* `max-ua`: the grid point with the highest UA on dev, ties to the one nearest 0.5.

When the fit cannot give a threshold (dev scores that fall as the label rises), the
balanced-logistic rule falls back to max-ua.
"""

from __future__ import annotations

import math

import numpy as np

from depscreen.stats.bootstrap import metrics_from_counts
from depscreen.stats.platt import fit_platt, logit

GRID = np.round(np.arange(0.05, 0.951, 0.01), 2)
THRESHOLD_RULES = ("balanced-logistic", "max-ua")
DEFAULT_RULE = "balanced-logistic"


def choose_threshold(labels, probs, rule: str = DEFAULT_RULE, grid: np.ndarray = GRID) -> float:
    """The decision threshold on probabilities for the given (dev) predictions.

    Returns 0.5 when the dev set has a single class (it says nothing about the boundary).
    """
    if rule not in THRESHOLD_RULES:
        raise ValueError(f"unknown threshold rule {rule!r}; choose one of {THRESHOLD_RULES}")
    labels = np.asarray(labels, dtype=int)
    probs = np.asarray(probs, dtype=float)
    if len(labels) == 0 or len(np.unique(labels)) < 2:
        return 0.5
    if rule == "balanced-logistic":
        threshold = balanced_logistic_threshold(labels, probs)
        if threshold is not None:
            return threshold
    return max_ua_threshold(labels, probs, grid)


def balanced_logistic_threshold(labels: np.ndarray, probs: np.ndarray) -> float | None:
    """Where sigmoid(a logit(p) + b), fitted class-balanced on dev, crosses 1/2; None if the
    fitted slope is not positive (the scores do not rise with the label)."""
    a, b = fit_platt(logit(probs), labels, balanced=True, symmetric_targets=True)
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 1e-9:
        return None
    # Rounded as the outputs print it, so a printed threshold reproduces every decision.
    return round(1.0 / (1.0 + math.exp(b / a)), 4)


def max_ua_threshold(labels: np.ndarray, probs: np.ndarray, grid: np.ndarray = GRID) -> float:
    """The grid threshold that maximises UA (balanced accuracy); ties go nearest 0.5, so the
    choice is stable and defaults to 0.5 when the dev set says nothing."""
    grid = np.asarray(grid, dtype=float)
    # UA at every threshold at once, from confusion counts (the same definition as
    # metrics.binary_metrics; one sklearn call per threshold made evaluation slow).
    pred = probs[None, :] >= grid[:, None]  # (G, N)
    pos = labels[None, :] == 1
    counts = np.stack([(~pred & ~pos).sum(1), (pred & ~pos).sum(1),
                       (~pred & pos).sum(1), (pred & pos).sum(1)], axis=-1)  # (G, 4) tn fp fn tp
    scores = metrics_from_counts(counts)["ua"]
    best = np.flatnonzero(np.isclose(scores, scores.max()))
    return float(grid[best[np.argmin(np.abs(grid[best] - 0.5))]])
