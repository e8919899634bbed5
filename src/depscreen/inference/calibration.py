"""How a loaded model's probabilities are calibrated (bundle.py records it; predict applies it).

A model that `carries_calibration` (decision-level fusion: Platt scaling per modality and the
fusion weight, fitted on dev by training) is used as is. Every other model's softmax output
is Platt-scaled on the run's dev predictions (class-balanced), and the decision thresholds are
chosen on the calibrated dev predictions. Nothing is ever fitted on test.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from depscreen.inference.archive import BundleError
from depscreen.stats.platt import fit_platt, logit


def apply_calibration(cal: dict, p):
    """Calibrated probabilities (numpy array or float) for the model's raw probabilities `p`."""
    if cal.get("method") != "platt":
        return p
    z = logit(np.asarray(p, dtype=np.float64))
    return 1.0 / (1.0 + np.exp(-(cal["a"] * z + cal["b"])))


# The calibration method of a model that carries its own (`carries_calibration`): the name
# bundles have always used for it, kept so that older bundles load.
OWN_CALIBRATION = "decision-fusion"


def own_calibration(model) -> dict:
    """The calibration a model that `carries_calibration` holds in its buffers, as JSON."""
    text = model.platt_text.tolist()
    speech = model.platt_speech.tolist()
    return {
        "method": OWN_CALIBRATION,
        "fitted_on": "dev",
        "detail": "Platt scaling per modality and the text weight w, fitted on dev by "
                  "training and stored in the weights; the fused probability is used as is",
        "text": [float(v) for v in text],
        "speech": [float(v) for v in speech],
        "weight": float(model.fusion_weight),
        "calibrated": bool(model.calibrated),
    }


def fit_dev_calibration(dev) -> dict:
    """Platt scaling of a run's dev predictions (class-balanced); identity if it fails.

    `dev`: the labelled rows of dev_predictions.csv (columns `prob`, `label`).
    """
    y = dev["label"].to_numpy(dtype=int)
    base = {"fitted_on": "dev", "n": int(len(y))}
    if len(y) < 2 or len(np.unique(y)) < 2:
        return {"method": "identity", **base,
                "detail": "dev has a single class; raw softmax probabilities are used"}
    a, b = fit_platt(logit(dev["prob"].to_numpy()), y, balanced=True)
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
        return {"method": "identity", **base,
                "detail": "the dev predictions do not rise with the label, so Platt scaling "
                          "would invert them; raw softmax probabilities are used"}
    return {"method": "platt", **base, "a": float(a), "b": float(b), "balanced": True,
            "detail": "Platt scaling of the softmax output, fitted on the dev predictions"}


# The calibration of a model without a binary head (no probability to calibrate).
NO_CALIBRATION = "none"


def check_calibration(cal: dict, where: Path, binary_head: bool = True) -> dict:
    """`cal` when it is a calibration this depscreen applies; BundleError otherwise. A model
    without a binary head has method "none" (and only it)."""
    method = cal.get("method")
    if not binary_head:
        if method != NO_CALIBRATION:
            raise BundleError(f"calibration method {method!r} for a model without a binary "
                              f"head (expected {NO_CALIBRATION!r})", where)
        return cal
    if method not in ("platt", "identity", OWN_CALIBRATION):
        raise BundleError(f"unknown calibration method {method!r}", where)
    if method == "platt":
        a, b = cal.get("a"), cal.get("b")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (a, b)):
            raise BundleError("the calibration parameters are not finite numbers", where)
    return cal
