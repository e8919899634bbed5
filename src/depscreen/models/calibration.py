"""The dev-set searches that calibrate the fusion models after training, and their results.

- `search_text_balance` (`bilstm-cnn-fusion`): the text branch's factor and a temperature;
- `search_decision_calibration` (`decision-fusion`): Platt scaling per modality and the text
  weight w;
- `fit_stack` (`stacked-fusion`): Platt scaling per modality and a logistic regression over
  the two models' log-odds.

Each takes the models' dev outputs (numpy, or tensors) and returns what it chose; the models'
methods (`fit_text_balance`, `fit_calibration`) write that into their buffers.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
from sklearn.metrics import balanced_accuracy_score
from torch import Tensor

from depscreen.errors import CorpusError
from depscreen.stats.aggregate import aggregate_participants
from depscreen.stats.platt import class_weights, fit_platt

# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class TextBalanceResult:
    """What `BiLSTMCNNFusion.fit_text_balance` chose on dev."""

    factor: float
    temperature: float
    score: float  # participant_log_likelihood at that factor and temperature
    n: int
    n_participants: int


@dataclasses.dataclass(frozen=True)
class CalibrationResult:
    """What `DecisionFusion.fit_calibration` fitted on dev, and on how many samples."""

    text_a: float
    text_b: float
    speech_a: float
    speech_b: float
    weight: float  # w in p = w * p_text + (1 - w) * p_speech
    criterion: str
    score: float  # the criterion at the chosen w (nan when no sample had both modalities)
    n_text: int
    n_speech: int
    n_both: int


@dataclasses.dataclass
class StackResult:
    """What `StackedFusion.fit_calibration` fitted on dev (written to done.json)."""

    text_a: float
    text_b: float
    speech_a: float
    speech_b: float
    stack_text: float
    stack_speech: float
    stack_bias: float
    n_text: int
    n_speech: int
    n_both: int


# --------------------------------------------------------------------------------------------
# Inputs and scores
# --------------------------------------------------------------------------------------------


def _margins(logits: Any, name: str) -> np.ndarray:
    """(N, 2) logits or (N,) log-odds -> (N,) log-odds as float64; NaN marks a missing row."""
    if isinstance(logits, Tensor):
        logits = logits.detach().cpu().double().numpy()
    arr = np.asarray(logits, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 2:
        return arr[:, 1] - arr[:, 0]
    if arr.ndim == 1:
        return arr
    raise ValueError(f"{name} must be (N, 2) logits or (N,) log-odds, got shape {arr.shape}")


def _binary_labels(labels: Any) -> np.ndarray:
    """(N,) labels (tensor or array-like) -> int64 array of 0/1; ValueError otherwise."""
    if isinstance(labels, Tensor):
        labels = labels.detach().cpu().numpy()
    y = np.asarray(labels).reshape(-1)
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return y.astype(np.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _log_likelihood(p: np.ndarray, y: np.ndarray, balanced: bool) -> float:
    """Mean (class-weighted) log-likelihood of labels y under probabilities p."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    cw = class_weights(y, balanced) if len(np.unique(y)) == 2 else np.ones(len(y))
    return float(np.average(np.where(y == 1, np.log(p), np.log1p(-p)), weights=cw))


def participant_log_likelihood(
    p: np.ndarray, y: np.ndarray, groups: Any, balanced: bool = True
) -> float:
    """How well the participants' mean probability separates them, as a log-likelihood.

    `p`, `y`, `groups`: per sample. Each participant's score is the log-odds of the mean of
    its samples' p (the default participant-level aggregation); a Platt fit on those scores
    (2 parameters, so only the ranking and spread matter, not the calibration) gives the
    mean (class-weighted) log-likelihood of the participants' labels. Smooth in the
    parameters being chosen, unlike AUC or balanced accuracy on a few dozen people.
    """
    people = aggregate_participants(groups, p, y, method="mean")
    mean_p = np.clip(people["prob"].to_numpy(), 1e-7, 1 - 1e-7)
    y_group = people["label"].to_numpy(dtype=np.int64)
    if len(np.unique(y_group)) < 2:
        raise CorpusError("cannot judge participants: dev has only one class of participant")
    z = np.log(mean_p) - np.log1p(-mean_p)
    a, b = fit_platt(z, y_group, balanced)
    return _log_likelihood(_sigmoid(a * z + b), y_group, balanced)


# --------------------------------------------------------------------------------------------
# Feature-level fusion: the text factor and a temperature
# --------------------------------------------------------------------------------------------


def search_text_balance(
    margin_with_text: Any, margin_without_text: Any, labels: Any, groups: Any
) -> TextBalanceResult:
    """The text factor k and temperature t whose participants' mean probability separates
    dev participants best (`participant_log_likelihood`).

    A sample's log-odds at factor k and temperature t are (m0 + k (m1 - m0)) / t, where
    m1 / m0 (N,) are its log-odds with the text features at factor 1 / 0. Grids:
    k = 2^(j/4), 1/4 <= k <= 32; t in 1, 2, ..., 32; ties go to the k closest to 1, then the
    smaller t. See `BiLSTMCNNFusion.fit_text_balance` for why.
    """
    m1 = _margins(margin_with_text, "margin_with_text")
    m0 = _margins(margin_without_text, "margin_without_text")
    y = _binary_labels(labels)
    if not (len(m1) == len(m0) == len(y) == len(groups)):
        raise ValueError("margins, labels and groups must have one entry per sample")
    best: tuple[float, float, float] | None = None
    factor, temperature, score = 1.0, 1.0, math.nan
    for j in range(-8, 21):
        k = 2.0 ** (j / 4)
        for t in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0):
            ll = participant_log_likelihood(_sigmoid((m0 + k * (m1 - m0)) / t), y, groups)
            key = (round(ll, 9), -abs(j), -t)
            if best is None or key > best:
                best, factor, temperature, score = key, k, t, ll
    return TextBalanceResult(factor=factor, temperature=temperature, score=score, n=len(y),
                             n_participants=len(set(np.asarray(groups).tolist())))


# --------------------------------------------------------------------------------------------
# Decision-level fusion: Platt per modality, then the weight w or a stacker
# --------------------------------------------------------------------------------------------


def _platt_per_modality(
    z_t: np.ndarray, z_s: np.ndarray, y: np.ndarray, balanced: bool
) -> dict[str, tuple[float, float]]:
    """{"text", "speech"} -> Platt (a, b), each fitted on the samples that have it."""
    params = {}
    for name, z in (("text", z_t), ("speech", z_s)):
        ok = ~np.isnan(z)
        if len(np.unique(y[ok])) < 2:
            raise CorpusError(
                f"cannot calibrate the {name} model: its {int(ok.sum())} dev samples "
                "do not include both classes"
            )
        params[name] = fit_platt(z[ok], y[ok], balanced)
    return params


def _search_weight(
    p_t: np.ndarray, p_s: np.ndarray, y: np.ndarray, groups: np.ndarray | None, *,
    criterion: str, balanced: bool, weight_step: float,
) -> tuple[float, float]:
    """The weight w on the grid 0, step, ..., 1 that maximises `criterion` of
    p = w p_t + (1 - w) p_s, judged per participant when `groups` is given (else per
    sample); ties by log-likelihood, then closeness to 0.5. Returns (w, criterion at w)."""
    weight, score = 0.5, math.nan
    n = round(1.0 / weight_step)
    best: tuple[float, float, float] | None = None
    for w in np.linspace(0.0, 1.0, n + 1):
        p = np.clip(w * p_t + (1 - w) * p_s, 1e-7, 1 - 1e-7)
        if groups is not None:
            ll = participant_log_likelihood(p, y, groups, balanced)
        else:
            ll = _log_likelihood(p, y, balanced)
        if criterion == "balanced_accuracy":
            crit = float(balanced_accuracy_score(y, (p >= 0.5).astype(int)))
        else:
            crit = ll
        key = (round(crit, 12), round(ll, 12), -abs(w - 0.5))
        if best is None or key > best:
            best, weight, score = key, float(w), crit
    return weight, score


def search_decision_calibration(
    text_logits: Any, speech_logits: Any, labels: Any, groups: Any = None, *,
    criterion: str, class_weight: str, weight_step: float, weight_level: str,
) -> CalibrationResult:
    """Platt scaling per modality and the text weight w on dev outputs (the arguments of
    `DecisionFusion.fit_calibration`, the rest from its config).

    Each modality's Platt fit uses its own samples; w is chosen on samples with both by
    `criterion` (stays 0.5 if there are none), judged per participant or per sample
    (`weight_level`).
    """
    z_t = _margins(text_logits, "text_logits")
    z_s = _margins(speech_logits, "speech_logits")
    y = _binary_labels(labels)
    if not (len(z_t) == len(z_s) == len(y)):
        raise ValueError(f"lengths differ: text {len(z_t)}, speech {len(z_s)}, labels {len(y)}")
    balanced = class_weight == "balanced"
    params = _platt_per_modality(z_t, z_s, y, balanced)

    both = ~np.isnan(z_t) & ~np.isnan(z_s)
    weight, score = 0.5, math.nan
    if both.any():
        p_t = _sigmoid(params["text"][0] * z_t[both] + params["text"][1])
        p_s = _sigmoid(params["speech"][0] * z_s[both] + params["speech"][1])
        gb = None
        if weight_level == "participant":
            if groups is None:
                raise ValueError("weight_level='participant' needs the samples' groups")
            gb = np.asarray(groups)[both]
        weight, score = _search_weight(p_t, p_s, y[both], gb, criterion=criterion,
                                       balanced=balanced, weight_step=weight_step)
    return CalibrationResult(
        *params["text"],
        *params["speech"],
        weight=weight,
        criterion=criterion,
        score=score,
        n_text=int((~np.isnan(z_t)).sum()),
        n_speech=int((~np.isnan(z_s)).sum()),
        n_both=int(both.sum()),
    )


def fit_stack(
    text_logits: Any, speech_logits: Any, labels: Any, *, class_weight: str, C: float
) -> StackResult:
    """Platt per modality (for samples with one modality) and the stacker
    p = sigmoid(a_t z_text + a_s z_speech + b), a logistic regression (regularised by C) on
    the dev samples with both; without both classes there, a_t, a_s = half the Platt slopes
    and b = 0."""
    from sklearn.linear_model import LogisticRegression

    z_t = _margins(text_logits, "text_logits")
    z_s = _margins(speech_logits, "speech_logits")
    y = _binary_labels(labels)
    balanced = class_weight == "balanced"
    params = _platt_per_modality(z_t, z_s, y, balanced)
    both = ~np.isnan(z_t) & ~np.isnan(z_s)
    coef = [params["text"][0] / 2, params["speech"][0] / 2, 0.0]
    if both.any() and len(np.unique(y[both])) == 2:
        lr = LogisticRegression(C=C, max_iter=1000,
                                class_weight="balanced" if balanced else None)
        lr.fit(np.stack([z_t[both], z_s[both]], axis=1), y[both])
        coef = [float(lr.coef_[0, 0]), float(lr.coef_[0, 1]), float(lr.intercept_[0])]
    return StackResult(*params["text"], *params["speech"], *coef,
                       n_text=int((~np.isnan(z_t)).sum()),
                       n_speech=int((~np.isnan(z_s)).sum()), n_both=int(both.sum()))


def search_score_weight(text_scores: Any, speech_scores: Any, truth: Any, groups: Any,
                        step: float) -> dict[str, Any]:
    """Decision-level regression: the text weight w of w * s_text + (1 - w) * s_speech with
    the lowest dev participant RMSE (participant estimate = mean over their samples; a sample
    with one modality uses it alone). Ties go to the w nearest 0.5."""
    import pandas as pd

    s_t = np.asarray(text_scores, dtype=np.float64)
    s_s = np.asarray(speech_scores, dtype=np.float64)
    y = np.asarray(truth, dtype=np.float64)
    known = np.isfinite(y)
    grid = np.round(np.arange(0.0, 1.0 + step / 2, step), 6)
    by_w = {}
    for w in grid:
        fused = np.where(np.isnan(s_t), s_s, np.where(np.isnan(s_s), s_t, w * s_t + (1 - w) * s_s))
        frame = pd.DataFrame({"g": np.asarray(groups)[known], "p": fused[known], "y": y[known]})
        people = frame.groupby("g", sort=True).mean()
        by_w[float(w)] = float(np.sqrt(np.mean((people["p"] - people["y"]) ** 2)))
    best = min(by_w, key=lambda w: (round(by_w[w], 9), abs(w - 0.5)))
    return {"weight": best, "dev_participant_rmse": by_w[best],
            "dev_participant_rmse_by_weight": {repr(w): v for w, v in by_w.items()}}
