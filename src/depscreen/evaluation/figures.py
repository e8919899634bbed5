"""Figures: the confusion matrix (the paper's Fig. 1), training curves, participant
probabilities, and for the PHQ-8 score (Table II) estimated-vs-true and residuals by gender.

Figures are written atomically as small PNGs; `png_bytes` gives the same figure for embedding
in the self-contained HTML report.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from depscreen.stats.regression import PHQ8_MAX, SCREEN_CUTOFF  # noqa: E402
from depscreen.utils.atomic import atomic_write_bytes  # noqa: E402

CLASS_NAMES = ("healthy", "depressed")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def confusion_matrix_figure(cm: np.ndarray, title: str) -> bytes:
    """Row-normalised confusion matrix with the counts printed in each cell."""
    cm = np.asarray(cm, dtype=float)
    rows = cm.sum(axis=1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    fig, ax = plt.subplots(figsize=(3.8, 3.3))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(2):
        for j in range(2):
            ax.text(j, i, f"{norm[i, j]:.0%}\n({int(cm[i, j])})", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=10)
    ax.set_xticks([0, 1], CLASS_NAMES)
    ax.set_yticks([0, 1], CLASS_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return _png(fig)


def save_confusion_matrix(cm: np.ndarray, path: Path, title: str) -> None:
    atomic_write_bytes(path, confusion_matrix_figure(cm, title))


def curves_figure(curves: dict[str, list[tuple[int, float]]], ylabel: str, title: str) -> bytes:
    """One line per model: a dev metric per epoch."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    for name, pts in curves.items():
        if pts:
            x, y = zip(*pts, strict=True)
            ax.plot(x, y, marker=".", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # runs without epochs (classical models) draw none
        ax.legend(fontsize=7)
    return _png(fig)


def probabilities_figure(probs: np.ndarray, labels: np.ndarray, threshold: float,
                         title: str) -> bytes:
    """Each participant's probability of depression, by true class, with the dev threshold."""
    rng = np.random.default_rng(0)
    fig, ax = plt.subplots(figsize=(5.0, 3.0))
    for cls in (0, 1):
        p = probs[labels == cls]
        ax.scatter(p, cls + rng.uniform(-0.15, 0.15, len(p)), s=14, alpha=0.7,
                   label=CLASS_NAMES[cls])
    ax.axvline(threshold, color="gray", ls="--", lw=1, label=f"threshold {threshold:.2f} (dev)")
    ax.set_yticks([0, 1], CLASS_NAMES)
    ax.set_xlim(0, 1)
    ax.set_xlabel("P(depressed), participant level")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=3)
    return _png(fig)


PHQ8_RANGE = (0, PHQ8_MAX)


def _by_gender(gender) -> list[tuple[str, np.ndarray]]:
    g = np.asarray(["unknown" if v is None or v != v else str(v) for v in gender])
    return [(name, g == name) for name in sorted(set(g))]


def score_scatter_figure(true: np.ndarray, pred: np.ndarray, gender, title: str) -> bytes:
    """Each participant's estimated PHQ-8 against the true one, with the identity line and
    the screening cut-off on both axes."""
    true, pred = np.asarray(true, dtype=float), np.asarray(pred, dtype=float)
    fig, ax = plt.subplots(figsize=(4.2, 4.0))
    lo, hi = PHQ8_RANGE
    ax.plot([lo, hi], [lo, hi], color="gray", lw=1, label="identity (estimate = true)")
    ax.axhline(SCREEN_CUTOFF, color="gray", ls=":", lw=0.8)
    ax.axvline(SCREEN_CUTOFF, color="gray", ls=":", lw=0.8)
    for name, mask in _by_gender(gender):
        ax.scatter(true[mask], pred[mask], s=16, alpha=0.75, label=name)
    ax.set_xlim(lo - 0.5, hi + 0.5)
    ax.set_ylim(lo - 0.5, hi + 0.5)
    ax.set_aspect("equal")
    ax.set_xlabel("true PHQ-8")
    ax.set_ylabel("estimated PHQ-8")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return _png(fig)


def residuals_figure(true: np.ndarray, pred: np.ndarray, gender, title: str) -> bytes:
    """Residual (estimate - true) against the true PHQ-8, one colour per gender, with each
    gender's mean residual as a dashed line."""
    true, pred = np.asarray(true, dtype=float), np.asarray(pred, dtype=float)
    resid = pred - true
    fig, ax = plt.subplots(figsize=(5.2, 3.4))
    ax.axhline(0, color="gray", lw=1)
    for name, mask in _by_gender(gender):
        dots = ax.scatter(true[mask], resid[mask], s=16, alpha=0.75,
                          label=f"{name} (n={int(mask.sum())}, mean {resid[mask].mean():+.2f})")
        ax.axhline(resid[mask].mean(), color=dots.get_facecolor()[0], ls="--", lw=1)
    ax.set_xlim(PHQ8_RANGE[0] - 0.5, PHQ8_RANGE[1] + 0.5)
    ax.set_xlabel("true PHQ-8")
    ax.set_ylabel("estimate − true")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return _png(fig)
