"""PHQ-8 regression metrics on cases worked out by hand, plus independent numpy checks."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from depscreen.errors import ConfigError
from depscreen.stats.metrics import METRIC_KEYS
from depscreen.stats.regression import (
    PHQ8_MAX,
    REGRESSION_AGGREGATIONS,
    SCREEN_CUTOFF,
    SEVERITY_BANDS,
    aggregate_scores,
    bootstrap_regression_ci,
    ccc,
    mae,
    naive_references,
    pearson_r,
    prediction_interval,
    regression_metrics,
    residual_interval,
    rmse,
    severity_band,
)


def _ccc_numpy(y, p) -> float:
    """Lin's CCC from numpy.cov with population moments (bias=True)."""
    c = np.cov(y, p, bias=True)
    return 2 * c[0, 1] / (c[0, 0] + c[1, 1] + (np.mean(y) - np.mean(p)) ** 2)


def test_constants() -> None:
    assert PHQ8_MAX == 24 and SCREEN_CUTOFF == 10
    assert REGRESSION_AGGREGATIONS == ("mean", "median")
    # The bands tile 0..24 without gaps or overlaps.
    assert SEVERITY_BANDS[0][0] == 0 and SEVERITY_BANDS[-1][1] == 24
    for (_, hi, _), (lo, _, _) in zip(SEVERITY_BANDS, SEVERITY_BANDS[1:], strict=False):
        assert lo == hi + 1


def test_ccc_shifted_by_one() -> None:
    # means 2 and 3; population variances 2/3 each; cov 2/3
    # CCC = (4/3) / (2/3 + 2/3 + 1) = (4/3) / (7/3) = 4/7
    assert ccc([1, 2, 3], [2, 3, 4]) == pytest.approx(4 / 7)
    assert pearson_r([1, 2, 3], [2, 3, 4]) == pytest.approx(1.0)


def test_ccc_perfect_and_anti() -> None:
    assert ccc([1, 2, 3], [1, 2, 3]) == pytest.approx(1.0)
    # p = 4 - y: means 2 and 2, variances 2/3 each, cov -2/3 -> (-4/3) / (4/3) = -1
    assert ccc([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    # p = 2y: means 2 and 4, var_y 2/3, var_p 8/3, cov 4/3 -> (8/3) / (2/3 + 8/3 + 4) = 8/22
    assert ccc([1, 2, 3], [2, 4, 6]) == pytest.approx(8 / 22)


def test_ccc_constant_prediction_is_exactly_zero() -> None:
    assert ccc([1, 2, 3], [2, 2, 2]) == 0.0
    # constants whose float mean is not the constant (numpy: mean([0.1] * 3) != 0.1)
    assert ccc([0, 3, 9], [0.1] * 3) == 0.0
    assert ccc([0, 3, 9, 1, 7, 2, 2], [10 / 3] * 7) == 0.0
    assert ccc(np.arange(189) % 25, [7.3] * 189) == 0.0
    # both constant, different: cov 0, denominator (5 - 2)^2 > 0
    assert ccc([5, 5], [2, 2]) == 0.0
    # both constant and equal: 0/0
    assert math.isnan(ccc([4, 4, 4], [4, 4, 4]))


def test_ccc_matches_numpy_cov() -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(2, 60))
        y = rng.integers(0, 25, n).astype(float)
        y[:2] = [0, 24]
        p = np.clip(y + rng.normal(rng.normal(), 4, n), 0, 24)
        assert ccc(y, p) == pytest.approx(_ccc_numpy(y, p), abs=1e-12)
        assert pearson_r(y, p) == pytest.approx(np.corrcoef(y, p)[0, 1], abs=1e-12)


def test_rmse_mae_by_hand() -> None:
    # errors 3, -4, 0: MAE = 7/3, RMSE = sqrt(25/3)
    y, p = [0, 10, 20], [3, 6, 20]
    assert mae(y, p) == pytest.approx(7 / 3)
    assert rmse(y, p) == pytest.approx(math.sqrt(25 / 3))
    assert rmse(y, y) == 0.0 and mae(y, y) == 0.0


def test_pearson_nan_for_constant_side() -> None:
    assert math.isnan(pearson_r([1, 2, 3], [5, 5, 5]))
    assert math.isnan(pearson_r([5, 5, 5], [1, 2, 3]))
    assert math.isnan(pearson_r([0.1] * 3, [1, 2, 3]))
    assert math.isnan(pearson_r(np.arange(7), [10 / 3] * 7))


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        rmse([1, 2], [1, 2, 3])
    with pytest.raises(ValueError):
        mae([], [])
    with pytest.raises(ValueError):
        ccc([1, float("nan")], [1, 2])


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (0, "none/minimal"), (4, "none/minimal"), (4.49, "none/minimal"), (4.5, "mild"),
        (5, "mild"), (9, "mild"), (9.5, "moderate"), (10, "moderate"), (14, "moderate"),
        (15, "moderately severe"), (19, "moderately severe"), (20, "severe"),
        (24, "severe"), (-1, "none/minimal"), (30, "severe"), (-0.5, "none/minimal"),
    ],
)
def test_severity_band(score: float, band: str) -> None:
    assert severity_band(score) == band


def test_regression_metrics_and_screen_at_cutoff() -> None:
    # 9.6 and 9.99 predict negative, 10.0 positive: y_bin 0 1 1 1, p_bin 0 1 0 1
    # tn 1, fp 0, fn 1, tp 2
    y, p = [5, 12, 10, 20], [9.6, 10.0, 9.99, 15]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = regression_metrics(y, p)
    assert set(m) == {"n", "rmse", "mae", "ccc", "pearson_r", "screen"}
    assert m["n"] == 4
    # errors -4.6, 2, 0.01, 5
    assert m["mae"] == pytest.approx((4.6 + 2 + 0.01 + 5) / 4)
    assert m["rmse"] == pytest.approx(math.sqrt((4.6**2 + 4 + 0.01**2 + 25) / 4))
    assert all(type(m[k]) is float for k in ("rmse", "mae", "ccc", "pearson_r"))
    s = m["screen"]
    assert set(s) == set(METRIC_KEYS)
    assert s["confusion_matrix"] == [[1, 0], [1, 2]]
    assert s["wa"] == pytest.approx(3 / 4)
    assert s["recall_depressed"] == pytest.approx(2 / 3)
    assert s["precision_depressed"] == pytest.approx(1.0)
    assert s["f1_depressed"] == pytest.approx(4 / 5)  # 2tp / (2tp + fp + fn) = 4/5
    assert s["f1_macro"] == pytest.approx((4 / 5 + 2 / 3) / 2)  # f1_neg = 2/(2+0+1)
    assert s["ua"] == pytest.approx((2 / 3 + 1) / 2)


def test_naive_references_use_train_only() -> None:
    # train mean 10/3, train median 0; y = 0, 6, 12
    refs = naive_references([0, 0, 10], [0, 6, 12])
    assert set(refs) == {"train mean", "train median"}
    mean, median = refs["train mean"], refs["train median"]
    # mean: errors -10/3, 8/3, 26/3 -> MAE 44/9, MSE (100 + 64 + 676) / 27
    assert mean["mae"] == pytest.approx(44 / 9)
    assert mean["rmse"] == pytest.approx(math.sqrt(840 / 27))
    # median 0: errors 0, 6, 12 -> MAE 6, MSE (0 + 36 + 144) / 3 = 60
    assert median["mae"] == pytest.approx(6.0)
    assert median["rmse"] == pytest.approx(math.sqrt(60))
    for ref in (mean, median):
        assert ref["n"] == 3
        assert ref["ccc"] == 0.0  # constant prediction, var_y > 0
        assert math.isnan(ref["pearson_r"])
        assert ref["screen"]["confusion_matrix"] == [[2, 0], [1, 0]]  # all predicted < 10
    # The test scores never move the constants: a different y gives the same median MAE rule.
    assert naive_references([0, 0, 10], [24, 24])["train median"]["mae"] == pytest.approx(24)
    assert naive_references([12, 20, 10], [0, 0])["train mean"]["mae"] == pytest.approx(14)


def _noisy(n: int = 60, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 25, n).astype(float)
    return y, np.clip(y + rng.normal(0, 4, n), 0, 24)


def test_bootstrap_ci_deterministic_and_contains_estimate() -> None:
    y, p = _noisy()
    point = {"rmse": rmse(y, p), "mae": mae(y, p), "ccc": ccc(y, p), "pearson_r": pearson_r(y, p)}
    for metric, est in point.items():
        lo, hi = bootstrap_regression_ci(y, p, metric, n_boot=500, seed=0)
        assert isinstance(lo, float) and isinstance(hi, float)
        assert lo < est < hi, (metric, lo, est, hi)
        assert bootstrap_regression_ci(y, p, metric, n_boot=500, seed=0) == (lo, hi)
        assert bootstrap_regression_ci(y, p, metric, n_boot=500, seed=1) != (lo, hi)
        nlo, nhi = bootstrap_regression_ci(y, p, metric, n_boot=500, seed=0, level=0.5)
        assert lo <= nlo <= nhi <= hi
    with pytest.raises(ValueError):
        bootstrap_regression_ci(y, p, "r2")


def test_bootstrap_ci_equals_a_plain_loop() -> None:
    y, p = _noisy(n=15, seed=5)
    rng = np.random.default_rng(7)
    idx = rng.integers(0, len(y), size=(300, len(y)))
    dist = [ccc(y[i], p[i]) for i in idx]
    dist = [d for d in dist if not math.isnan(d)]
    want = tuple(np.percentile(dist, [2.5, 97.5]))
    got = bootstrap_regression_ci(y, p, "ccc", n_boot=300, seed=7)
    assert got == pytest.approx(want, abs=1e-12)


def test_bootstrap_ci_skips_undefined_resamples() -> None:
    # Three participants: 3 of the 27 possible resamples repeat one participant (r undefined).
    y, p = [0.0, 10.0, 20.0], [1.0, 12.0, 18.0]
    lo, hi = bootstrap_regression_ci(y, p, "pearson_r", n_boot=400, seed=0)
    assert np.isfinite(lo) and np.isfinite(hi) and -1 <= lo <= hi <= 1
    # A constant prediction: r undefined in every resample.
    lo, hi = bootstrap_regression_ci(y, [5, 5, 5], "pearson_r", n_boot=50, seed=0)
    assert math.isnan(lo) and math.isnan(hi)


def test_residual_interval_by_hand() -> None:
    # sorted -2 -1 0 1 2 (linear interpolation, positions q * 4):
    # level 0.8 -> q 0.1, 0.9 -> positions 0.4, 3.6 -> -1.6, 1.6
    # level 0.5 -> q 0.25, 0.75 -> positions 1, 3 -> -1, 1
    r = [2, -1, 0, -2, 1]
    assert residual_interval(r) == pytest.approx((-1.6, 1.6))
    assert residual_interval(r, level=0.5) == pytest.approx((-1.0, 1.0))
    # skewed: sorted 0 0 0 0 10 -> q 0.9 at position 3.6 -> 0 + 0.6 * 10 = 6
    assert residual_interval([0, 10, 0, 0, 0]) == pytest.approx((0.0, 6.0))
    lo, hi = prediction_interval([0.5, 12, 23.5], (-1.6, 1.6))
    np.testing.assert_allclose(lo, [0.0, 10.4, 21.9])
    np.testing.assert_allclose(hi, [2.1, 13.6, 24.0])


def test_residual_interval_needs_five() -> None:
    with pytest.raises(ConfigError, match="at least 5"):
        residual_interval([1, 2, 3, 4])


def test_aggregate_scores_first_appearance_order() -> None:
    ids = ["b", "a", "b", "c", "a", "b"]
    est = [1.0, 10.0, 2.0, 5.0, 20.0, 9.0]
    got_ids, mean = aggregate_scores(ids, est, "mean")
    assert got_ids == ["b", "a", "c"]
    np.testing.assert_allclose(mean, [4.0, 15.0, 5.0])  # b: (1 + 2 + 9) / 3
    got_ids, med = aggregate_scores(ids, est, "median")
    assert got_ids == ["b", "a", "c"]
    np.testing.assert_allclose(med, [2.0, 15.0, 5.0])
    with pytest.raises(ValueError):
        aggregate_scores(ids, est, "max")
    with pytest.raises(ValueError):
        aggregate_scores(ids, est[:-1], "mean")
