"""Classification metrics, from scikit-learn where they exist.

WA (weighted accuracy) is overall accuracy and UA (unweighted accuracy) is the mean of
per-class recall (balanced accuracy): the standard definitions. The paper prints
`Acc_i = TP_i / (TP_i + FP_i)`, which is a per-class precision; we follow the standard
definitions instead (README, "Metrics").
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
)

METRIC_KEYS = (
    "f1_macro",
    "f1_depressed",
    "wa",
    "ua",
    "precision_depressed",
    "recall_depressed",
    "confusion_matrix",
    "n",
)


def binary_metrics(y_true, y_pred) -> dict:
    """F1 (macro and depressed class), WA, UA, precision/recall of class 1, confusion matrix.

    A class that is never predicted gets precision 0 (zero_division=0), not a warning.
    """
    y_true = np.asarray(y_true, dtype=int)
    y_pred = np.asarray(y_pred, dtype=int)
    labels = [0, 1]
    if len(y_true) == 0:
        raise ValueError("no samples to score")
    return {
        "f1_macro": float(f1_score(y_true, y_pred, average="macro", labels=labels, zero_division=0)),
        "f1_depressed": float(f1_score(y_true, y_pred, pos_label=1, zero_division=0)),
        "wa": float(accuracy_score(y_true, y_pred)),
        "ua": float(_balanced_accuracy(y_true, y_pred)),
        "precision_depressed": float(precision_score(y_true, y_pred, pos_label=1, zero_division=0)),
        "recall_depressed": float(recall_score(y_true, y_pred, pos_label=1, zero_division=0)),
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        "n": int(len(y_true)),
    }


def _balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    # sklearn warns (and averages over present classes) when y_true has one class only.
    if len(np.unique(y_true)) < 2:
        return float(np.mean(y_true == y_pred))
    return float(balanced_accuracy_score(y_true, y_pred))
