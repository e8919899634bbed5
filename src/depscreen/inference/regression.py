"""What a bundle of a PHQ-8 score model knows besides its weights (`regression.json`), and the
score part of a prediction.

A model with a score head (task regression, multitask or items) estimates the PHQ-8 total of
every sample; the participant's estimate aggregates them with the mean or the median, whichever
gave the run's dev participants the lower RMSE (`evaluation.regression.choose_aggregation`,
never test). The 80% prediction interval is [estimate + lo, estimate + hi] clipped to 0-24,
where lo and hi are the 10% and 90% quantiles of the dev participants' residuals (true -
estimate, participant level, the same aggregation; `stats.regression.residual_interval`).
With fewer dev participants than `residual_interval` needs, the interval is the whole 0-24
range and says so. The severity band is `stats.regression.severity_band` of the estimate.

Models without a binary head (regression, items) have no probability: calibration does not
apply (method "none") and the screen is the estimate at the PHQ-8 cutoff of 10, not tuned.
Multitask models keep their binary head's calibration and dev thresholds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from depscreen.inference.archive import BundleError
from depscreen.inference.calibration import NO_CALIBRATION
from depscreen.stats.regression import (
    MIN_RESIDUALS,
    PHQ8_MAX,
    REGRESSION_AGGREGATIONS,
    SCREEN_CUTOFF,
    prediction_interval,
    residual_interval,
    severity_band,
)

TASKS_WITH_SCORE = ("regression", "multitask", "items")
TASKS_WITH_BINARY = ("binary", "multitask")
KNOWN_TASKS = ("binary", "regression", "multitask", "items")
INTERVAL_LEVEL = 0.8
SCORE_THRESHOLD_SOURCE = "PHQ-8 cutoff"


def has_score_head(task: str) -> bool:
    return task in TASKS_WITH_SCORE


def has_binary_head(task: str) -> bool:
    return task in TASKS_WITH_BINARY


def no_calibration(task: str) -> dict:
    """calibration.json of a model without a binary head."""
    return {"method": NO_CALIBRATION,
            "detail": f"not applicable: a model of task {task} has no binary head and gives no "
                      f"probability; the screen is its PHQ-8 estimate >= {SCREEN_CUTOFF}"}


def score_thresholds() -> dict:
    """thresholds.json (and LoadedModel.thresholds) of a model without a binary head."""
    return {"score": float(SCREEN_CUTOFF), "chosen_on": SCORE_THRESHOLD_SOURCE,
            "detail": "the PHQ-8 screening cutoff, not tuned"}


# ----------------------------------------------------------------------------- from dev


def dev_regression(dev) -> dict:
    """regression.json from a run's dev predictions (all rows; columns session_id, score,
    score_pred): the aggregation, the interval offsets, the dev participant RMSE and n."""
    from depscreen.evaluation.regression import choose_aggregation, participant_scores

    known = dev[np.isfinite(dev["score"].to_numpy(dtype=float))]
    if len(known) == 0:
        raise BundleError("no dev participant has a PHQ-8 score: the score model's "
                          "aggregation and interval cannot be chosen")
    how, by_how = choose_aggregation(known)
    people = participant_scores(known, how)
    residuals = people["score"].to_numpy(dtype=float) - people["score_pred"].to_numpy(dtype=float)
    n = int(len(residuals))
    if n >= MIN_RESIDUALS:
        lo, hi = residual_interval(residuals, INTERVAL_LEVEL)
        source = f"dev participants' residuals (n={n})"
    else:
        lo, hi = -float(PHQ8_MAX), float(PHQ8_MAX)
        source = (f"too few dev participants for residual quantiles (n={n}, at least "
                  f"{MIN_RESIDUALS} needed): the whole 0-{PHQ8_MAX} range")
    return {
        "aggregation": how,
        "aggregation_chosen_on": "dev",
        "dev_rmse_by_aggregation": {h: round(float(v), 6) for h, v in by_how.items()},
        "interval": [round(float(lo), 6), round(float(hi), 6)],
        "interval_level": INTERVAL_LEVEL,
        "interval_from": source,
        "dev_rmse": round(float(np.sqrt(np.mean(residuals ** 2))), 6),
        "n": n,
    }


def check_regression(obj, where: Path) -> dict:
    """regression.json when this depscreen can use it; BundleError otherwise."""
    if not isinstance(obj, dict):
        raise BundleError("regression.json is not a JSON object", where)
    if obj.get("aggregation") not in REGRESSION_AGGREGATIONS:
        raise BundleError(f"unknown score aggregation {obj.get('aggregation')!r} in "
                          "regression.json", where)
    interval = obj.get("interval")
    if (not isinstance(interval, list) or len(interval) != 2
            or not all(_finite(v) for v in interval) or interval[0] > interval[1]):
        raise BundleError("the interval in regression.json is not two finite numbers lo <= hi",
                          where)
    level, n = obj.get("interval_level"), obj.get("n")
    if not _finite(level) or not 0 < level < 1:
        raise BundleError(f"the interval level {level!r} is not a number in (0, 1)", where)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise BundleError(f"the number of dev participants {n!r} is not a positive integer",
                          where)
    if not isinstance(obj.get("interval_from"), str):
        raise BundleError("regression.json does not say where its interval comes from", where)
    return obj


def check_score_thresholds(obj: dict, where: Path) -> dict:
    t = obj.get("score")
    if not _finite(t) or not 0 <= t <= PHQ8_MAX:
        raise BundleError(f"the score threshold {t!r} is not a number in [0, {PHQ8_MAX}]", where)
    return {**obj, "score": float(t)}


def _finite(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


# ----------------------------------------------------------------------------- predictions


def aggregate(values: np.ndarray, how: str) -> float:
    """One estimate from sample estimates (`how`: mean or median, as at evaluation)."""
    v = np.asarray(values, dtype=np.float64)
    return float(np.median(v) if how == "median" else np.mean(v))


def score_summary(regression: dict, estimate: float) -> dict:
    """The result's "score" object for a participant estimate."""
    x = round(float(estimate), 2)
    lo, hi = prediction_interval(x, tuple(regression["interval"]))
    return {
        "estimate": x,
        "interval": [round(float(lo), 2), round(float(hi), 2)],
        "interval_level": regression["interval_level"],
        "interval_from": regression["interval_from"],
        "aggregation": regression["aggregation"],
        "band": severity_band(x),
        "screen_at_10": bool(x >= SCREEN_CUTOFF),
    }


def score_decision(score: dict, threshold: float) -> dict:
    """The result's "decision" of a model without a binary head: the estimate at the cutoff."""
    positive = bool(score["estimate"] >= threshold)
    return {
        "depressed": positive,
        "label": "screen positive" if positive else "screen negative",
        "threshold": round(float(threshold), 4),
        "threshold_level": "score",
        "threshold_chosen_on": SCORE_THRESHOLD_SOURCE,
    }
