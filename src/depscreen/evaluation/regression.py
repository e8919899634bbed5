"""Scoring a PHQ-8 regression run (`--task regression`, `items`, and the score head of
`multitask`) at participant level, the way the AVEC challenges score it.

The participant's estimate is the mean or the median of their utterance estimates, whichever
gives the dev participants the lower RMSE (from the run's dev predictions, never test). The
metrics: RMSE, MAE, CCC and Pearson r with participant-bootstrap CIs; the same for two naive
references computed from the TRAIN split's scores only (predict the train mean, the train
median), so every number says how far above trivial it is; and the binary screen obtained
by thresholding the estimate at 10, comparable with the classifiers' rows. Item runs add the
per-item MAE.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from depscreen.corpora.records import PHQ8_ITEMS
from depscreen.errors import DepscreenError
from depscreen.stats.regression import (
    REGRESSION_AGGREGATIONS,
    REGRESSION_METRICS,
    aggregate_scores,
    bootstrap_regression_ci,
    naive_references,
    regression_metrics,
    rmse,
)
from depscreen.training.run_folder import RunFolder

N_BOOT = 1000


def choose_aggregation(dev: pd.DataFrame) -> tuple[str, dict[str, float]]:
    """The utterance -> participant aggregation with the lower dev participant RMSE (ties:
    the first of REGRESSION_AGGREGATIONS), and the RMSE of each."""
    dev = dev[np.isfinite(dev["score"])]
    by_how = {}
    for how in REGRESSION_AGGREGATIONS:
        ids, est = aggregate_scores(dev["session_id"].tolist(), dev["score_pred"].to_numpy(), how)
        truth = dev.groupby("session_id", sort=False)["score"].first().loc[ids].to_numpy()
        by_how[how] = rmse(truth, est)
    best = min(REGRESSION_AGGREGATIONS, key=lambda h: (by_how[h], REGRESSION_AGGREGATIONS.index(h)))
    return best, by_how


def participant_scores(frame: pd.DataFrame, how: str) -> pd.DataFrame:
    """One row per participant: true score, estimate (aggregated `how`), gender, and the
    true and estimated items when the frame has them."""
    ids, est = aggregate_scores(frame["session_id"].tolist(), frame["score_pred"].to_numpy(), how)
    first = frame.groupby("session_id", sort=False).first().loc[ids]
    out = pd.DataFrame({"session_id": ids, "score": first["score"].to_numpy(),
                        "score_pred": np.round(est, 4)})
    if "gender" in frame:
        out["gender"] = first["gender"].to_numpy()
    for name in PHQ8_ITEMS:
        if f"pred_{name}" in frame:
            _, item_est = aggregate_scores(frame["session_id"].tolist(),
                                           frame[f"pred_{name}"].to_numpy(), how)
            out[f"item_{name}"] = first[f"item_{name}"].to_numpy()
            out[f"pred_{name}"] = np.round(item_est, 4)
    return out


def item_mae(people: pd.DataFrame) -> dict[str, float] | None:
    """Per PHQ-8 item, the MAE of the participants' item estimates; None without item
    estimates or when no participant has the true items (DAIC-WOZ's test labels have none)."""
    if f"pred_{PHQ8_ITEMS[0]}" not in people:
        return None
    out = {}
    for name in PHQ8_ITEMS:
        ok = np.isfinite(people[f"item_{name}"].to_numpy(dtype=float))
        if not ok.any():
            return None
        out[name] = float(np.mean(np.abs(people.loc[ok, f"item_{name}"]
                                         - people.loc[ok, f"pred_{name}"])))
    return out


def train_scores(corpus) -> np.ndarray:
    """The PHQ-8 totals of the corpus's TRAIN split (what the naive references may use)."""
    vals = [s.phq8_score for s in corpus.by_split("train") if s.phq8_score is not None]
    return np.asarray(vals, dtype=np.float64)


def score_regression(folder: RunFolder, frame: pd.DataFrame, split: str,
                     train: np.ndarray) -> tuple[dict, pd.DataFrame]:
    """The participant-level regression evaluation of per-sample estimates on `split`:
    (metrics, one row per participant); `train`: the train split's scores (`train_scores`),
    the only scores the naive references see."""
    dev = folder.read_dev_predictions(labelled_only=False)
    if "score_pred" not in dev:
        raise DepscreenError("the run's dev predictions have no score estimates; is it a "
                             "regression run?", folder.dev_predictions_file)
    how, dev_rmse = choose_aggregation(dev)
    people = participant_scores(frame, how)
    known = people[np.isfinite(people["score"])]
    if len(known) == 0:
        raise DepscreenError(f"no {split} participant has a PHQ-8 score; the regression "
                             "metrics need them")
    y, p = known["score"].to_numpy(), known["score_pred"].to_numpy()
    metrics = regression_metrics(y, p)
    metrics["ci"] = {m: list(bootstrap_regression_ci(y, p, m, n_boot=N_BOOT))
                     for m in REGRESSION_METRICS}
    return ({"regression": metrics, "naive": naive_references(train, y),
             "score_aggregation": how, "score_aggregation_chosen_on": "dev",
             "dev_participant_rmse_by_aggregation": dev_rmse,
             "item_mae": item_mae(known),
             "item_mae_dev": item_mae(participant_scores(dev, how)),
             "n_unscored": int(len(people) - len(known))}, people)
