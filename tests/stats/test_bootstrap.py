"""Count-based metrics agree with scikit-learn; the participant bootstrap is deterministic."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from depscreen.stats.bootstrap import (
    bootstrap_ci,
    counts_per_participant,
    metrics_from_counts,
)


def _counts(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    return np.array([np.sum((y == 0) & (p == 0)), np.sum((y == 0) & (p == 1)),
                     np.sum((y == 1) & (p == 0)), np.sum((y == 1) & (p == 1))])


def test_metrics_from_counts_equal_sklearn() -> None:
    rng = np.random.default_rng(0)
    cases, expected = [], []
    for _ in range(200):
        n = int(rng.integers(2, 40))
        y = rng.integers(0, 2, n)
        y[: 2] = [0, 1]  # both classes present (balanced accuracy is defined)
        p = (rng.random(n) < rng.random()).astype(int)  # sometimes one class only
        cases.append(_counts(y, p))
        expected.append((f1_score(y, p, average="macro", labels=[0, 1], zero_division=0),
                         accuracy_score(y, p), balanced_accuracy_score(y, p)))
    got = metrics_from_counts(np.stack(cases))  # vectorised over the first axis
    want = np.array(expected)
    np.testing.assert_allclose(got["f1_macro"], want[:, 0], atol=1e-12)
    np.testing.assert_allclose(got["wa"], want[:, 1], atol=1e-12)
    np.testing.assert_allclose(got["ua"], want[:, 2], atol=1e-12)


def test_counts_per_participant() -> None:
    frame = pd.DataFrame({"session_id": ["b", "a", "b", "a", "c"],
                          "label": [1, 0, 1, 0, 1], "pred": [1, 1, 0, 0, 1]})
    counts = counts_per_participant(frame, ["a", "b", "c"])
    # columns tn, fp, fn, tp
    assert counts.tolist() == [[1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 1]]


def _seed_counts(rng: np.random.Generator, labels: np.ndarray, skill: float) -> np.ndarray:
    """(participants, 4) counts of 5 utterances each from a classifier right `skill` of the time."""
    rows = []
    for y in labels:
        pred = np.where(rng.random(5) < skill, y, 1 - y)
        rows.append(_counts(np.full(5, y), pred))
    return np.array(rows)


def test_bootstrap_ci_contains_the_estimate_and_is_deterministic() -> None:
    rng = np.random.default_rng(1)
    labels = np.array([0] * 25 + [1] * 15)
    seeds = [_seed_counts(rng, labels, 0.75), _seed_counts(rng, labels, 0.7)]
    point = {k: np.mean([metrics_from_counts(c.sum(axis=0))[k] for c in seeds])
             for k in ("f1_macro", "wa", "ua")}

    ci = bootstrap_ci(seeds, n_boot=500, seed=0)
    assert set(ci) == set(point)
    for key, (lo, hi) in ci.items():
        assert 0.0 <= lo < point[key] < hi <= 1.0, (key, lo, point[key], hi)
        assert hi - lo < 0.4  # 40 participants: an informative interval, not [0, 1]
    assert bootstrap_ci(seeds, n_boot=500, seed=0) == ci
    assert bootstrap_ci(seeds, n_boot=500, seed=1) != ci
    narrow = bootstrap_ci(seeds, n_boot=500, seed=0, level=0.5)
    for key in ci:
        assert ci[key][0] <= narrow[key][0] <= narrow[key][1] <= ci[key][1]


def test_bootstrap_ci_one_class_resamples_are_finite() -> None:
    # Two participants: many resamples hold only one of them (one class only).
    counts = [np.array([[3, 0, 0, 0], [0, 0, 1, 2]])]
    ci = bootstrap_ci(counts, n_boot=200, seed=0)
    for lo, hi in ci.values():
        assert np.isfinite(lo) and np.isfinite(hi) and 0.0 <= lo <= hi <= 1.0
