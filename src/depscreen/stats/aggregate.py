"""From utterance probabilities to one decision per participant."""

from __future__ import annotations

import numpy as np
import pandas as pd

AGGREGATIONS = ("mean", "majority")
# The levels predictions are scored at: each utterance, and each participant (aggregated).
LEVELS = ("utterance", "participant")


def aggregate_participants(
    session_ids, probs, labels, method: str = "mean", threshold: float = 0.5
) -> pd.DataFrame:
    """One row per participant: session_id, label, prob (aggregated), n_utterances.

    `mean`: the mean of the utterance probabilities; `majority`: the fraction of utterances
    whose probability is at or above `threshold` (so the participant decision at 0.5 is a
    majority vote).
    """
    if method not in AGGREGATIONS:
        raise ValueError(f"unknown aggregation {method!r}; choose one of {AGGREGATIONS}")
    df = pd.DataFrame(
        {"session_id": list(session_ids), "prob": np.asarray(probs, float),
         "label": np.asarray(labels, int)}
    )
    if method == "majority":
        df["prob"] = (df["prob"] >= threshold).astype(float)
    out = df.groupby("session_id", sort=True).agg(
        label=("label", "first"), prob=("prob", "mean"), n_utterances=("prob", "size")
    )
    return out.reset_index()
