"""binary_metrics and aggregate_participants on cases worked out by hand."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from depscreen.stats.aggregate import aggregate_participants
from depscreen.stats.metrics import METRIC_KEYS, binary_metrics


def _quiet(y, p) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no UndefinedMetricWarning or the like, ever
        return binary_metrics(y, p)


def test_symmetric_case() -> None:
    # tn 2, fp 1, fn 1, tp 2
    m = _quiet([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 0, 1])
    assert set(m) == set(METRIC_KEYS)
    assert m["wa"] == pytest.approx(4 / 6)
    assert m["ua"] == pytest.approx(((2 / 3) + (2 / 3)) / 2)
    assert m["precision_depressed"] == pytest.approx(2 / 3)
    assert m["recall_depressed"] == pytest.approx(2 / 3)
    assert m["f1_depressed"] == pytest.approx(2 / 3)
    assert m["f1_macro"] == pytest.approx(2 / 3)
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    assert m["n"] == 6


def test_unbalanced_case() -> None:
    # tn 3, fp 1, fn 1, tp 1: recall 3/4 (healthy) and 1/2 (depressed)
    m = _quiet([0, 0, 0, 0, 1, 1], [0, 1, 0, 0, 1, 0])
    assert m["wa"] == pytest.approx(4 / 6)
    assert m["ua"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert m["precision_depressed"] == pytest.approx(1 / 2)
    assert m["recall_depressed"] == pytest.approx(1 / 2)
    assert m["f1_depressed"] == pytest.approx(2 * 1 / (2 * 1 + 1 + 1))  # 1/2
    # healthy: precision 3/4, recall 3/4 -> F1 3/4
    assert m["f1_macro"] == pytest.approx((3 / 4 + 1 / 2) / 2)
    assert m["confusion_matrix"] == [[3, 1], [1, 1]]


def test_depressed_never_predicted() -> None:
    m = _quiet([0, 0, 1, 1], [0, 0, 0, 0])
    assert m["f1_depressed"] == 0.0
    assert m["precision_depressed"] == 0.0
    assert m["recall_depressed"] == 0.0
    assert m["ua"] == pytest.approx(0.5)
    assert m["wa"] == pytest.approx(0.5)
    # healthy: tn 2, fn 2 -> F1 = 2*2 / (2*2 + 2) = 2/3; macro = (2/3 + 0) / 2
    assert m["f1_macro"] == pytest.approx(1 / 3)
    assert m["confusion_matrix"] == [[2, 0], [2, 0]]


def test_one_class_truth() -> None:
    m = _quiet([0, 0, 0], [0, 1, 0])
    assert m["wa"] == pytest.approx(2 / 3)
    assert m["ua"] == pytest.approx(2 / 3)  # the recall of the one class present
    assert m["f1_depressed"] == 0.0 and m["precision_depressed"] == 0.0
    assert m["recall_depressed"] == 0.0
    # healthy: tn 2, fp 1 -> F1 = 4 / 5; depressed F1 0 -> macro 0.4
    assert m["f1_macro"] == pytest.approx(0.4)
    assert m["confusion_matrix"] == [[2, 1], [0, 0]]
    perfect = _quiet([1, 1], [1, 1])
    assert (perfect["ua"], perfect["wa"], perfect["f1_depressed"]) == (1.0, 1.0, 1.0)


def test_no_samples() -> None:
    with pytest.raises(ValueError, match="no samples"):
        binary_metrics([], [])


def test_aggregate_mean_and_majority() -> None:
    sids = ["b", "a", "b", "a", "a", "c"]
    probs = [0.9, 0.2, 0.3, 0.6, 0.7, 0.5]
    labels = [1, 0, 1, 0, 0, 1]
    mean = aggregate_participants(sids, probs, labels, "mean")
    assert mean["session_id"].tolist() == ["a", "b", "c"]  # sorted, one row each
    np.testing.assert_allclose(mean["prob"], [(0.2 + 0.6 + 0.7) / 3, (0.9 + 0.3) / 2, 0.5])
    assert mean["label"].tolist() == [0, 1, 1]
    assert mean["n_utterances"].tolist() == [3, 2, 1]

    # majority: the fraction of utterances at or above the threshold (0.5 counts as yes)
    vote = aggregate_participants(sids, probs, labels, "majority")
    np.testing.assert_allclose(vote["prob"], [2 / 3, 1 / 2, 1.0])
    vote_high = aggregate_participants(sids, probs, labels, "majority", threshold=0.65)
    np.testing.assert_allclose(vote_high["prob"], [1 / 3, 1 / 2, 0.0])

    with pytest.raises(ValueError, match="unknown aggregation"):
        aggregate_participants(sids, probs, labels, "median")
