"""Platt scaling (a logistic fit on log-odds), shared by calibration, fusion and thresholds.

Kept free of torch so that evaluation code can use it cheaply.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize


def logit(p) -> np.ndarray:
    """Log-odds of probabilities, clipped to [1e-6, 1 - 1e-6] so 0 and 1 stay finite."""
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p) - np.log1p(-p)


def class_weights(y: np.ndarray, balanced: bool) -> np.ndarray:
    if not balanced:
        return np.ones(len(y))
    n_pos = y.sum()
    n_neg = len(y) - n_pos
    return np.where(y == 1, len(y) / (2.0 * n_pos), len(y) / (2.0 * n_neg))


def fit_platt(z: np.ndarray, y: np.ndarray, balanced: bool,
              symmetric_targets: bool = False) -> tuple[float, float]:
    """Platt scaling: a, b of p = sigmoid(a z + b) fitted by (weighted) logistic regression.

    Uses Platt's (1999) smoothed targets (N+ + 1)/(N+ + 2) and 1/(N- + 2), which keep a and b
    finite when a small dev set is separable. Those targets pull the rarer class further
    from 0/1, which moves the point where the fit crosses 1/2; `symmetric_targets` uses
    1 - e and e with e = 1/(N + 2) for both classes instead (for locating that point).
    """
    n_pos = float(y.sum())
    n_neg = float(len(y) - n_pos)
    if symmetric_targets:
        eps = 1.0 / (len(y) + 2)
        t = np.where(y == 1, 1.0 - eps, eps)
    else:
        t = np.where(y == 1, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))
    w = class_weights(y, balanced)
    w = w / w.sum()

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        s = params[0] * z + params[1]
        nll = np.logaddexp(0.0, s) - t * s  # -[t log σ(s) + (1 - t) log(1 - σ(s))]
        g = w * (1.0 / (1.0 + np.exp(-s)) - t)  # d nll / d s
        return float((w * nll).sum()), np.array([(g * z).sum(), g.sum()])

    res = minimize(loss, np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])
