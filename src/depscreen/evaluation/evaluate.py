"""`depscreen evaluate`: score a finished run on dev or test, at utterance and participant level.

Thresholds come from the run's dev predictions (utterance level and participant level each
get their own), so evaluating on test never tunes anything on test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from depscreen.corpora.prepare import load_prepared
from depscreen.errors import DepscreenError
from depscreen.evaluation.regression import score_regression, train_scores
from depscreen.stats.aggregate import AGGREGATIONS, LEVELS, aggregate_participants
from depscreen.stats.metrics import binary_metrics
from depscreen.stats.threshold import DEFAULT_RULE, choose_threshold
from depscreen.training.run_folder import RunFolder
from depscreen.utils.atomic import atomic_folder, atomic_write_text
from depscreen.utils.outputs import check_output_folder, corpus_folder


@dataclass
class Evaluation:
    metrics: dict  # {"utterance": {...}, "participant": {...}, ...}
    utterances: pd.DataFrame  # one row per sample with prob and pred
    participants: pd.DataFrame  # one row per participant with prob and pred


def run_thresholds(run: Path, aggregation: str = "mean",
                   rule: str = DEFAULT_RULE) -> dict[str, float]:
    """Utterance- and participant-level thresholds chosen on the run's dev predictions."""
    dev = RunFolder(run).read_dev_predictions()
    return dev_thresholds(dev["session_id"], dev["prob"], dev["label"], aggregation, rule)


def dev_thresholds(session_ids, probs, labels, aggregation: str = "mean",
                   rule: str = DEFAULT_RULE) -> dict[str, float]:
    """Thresholds for both levels from dev predictions (one row per sample).

    A majority vote is aggregated at the utterance threshold, as `score` does on test; its
    participant scores are vote fractions (coarse steps, often exactly 0 or 1), which a
    logistic fit on log-odds does not suit, so they always use the max-UA rule.
    """
    utterance = choose_threshold(labels, probs, rule)
    part = aggregate_participants(session_ids, probs, labels, aggregation, threshold=utterance)
    part_rule = "max-ua" if aggregation == "majority" else rule
    return {"utterance": utterance,
            "participant": choose_threshold(part["label"], part["prob"], part_rule)}


def predict_split(run: Path, split: str, cache_dir: Path | None = None,
                  prepared: Path | None = None, progress: bool = False,
                  corpus=None) -> pd.DataFrame:
    """Per-sample probabilities of a finished run on `split` (utterance level); `corpus`:
    the run's prepared corpus when the caller has loaded it already."""
    from depscreen.features.dataset import build_split_for_run
    from depscreen.training.data import (
        predict_dataset,
        predict_scores,
        prediction_frame,
        with_source,
    )

    folder = RunFolder(run)
    header = folder.header()
    prepared = Path(prepared or header["prepared"])
    corpus = with_source(corpus if corpus is not None else load_prepared(prepared),
                         header["train"].get("source", "participant"))
    model, _ = folder.load_model()
    ds = build_split_for_run(corpus, split, header["features"],
                             cache_dir or prepared / "features", folder.load_vocab(),
                             progress=progress,
                             text_input=header["train"].get("text_input", "tokens"))
    if len(ds) == 0:
        raise DepscreenError(f"the {split} split has no usable samples", prepared)
    probs = (predict_dataset(model, ds) if model.task in ("binary", "multitask")
             else np.full(len(ds), np.nan))
    scores, items = predict_scores(model, ds) if model.task != "binary" else (None, None)
    frame = prediction_frame(ds, probs, scores, items)
    genders = {s.session_id: s.gender for s in corpus.sessions}
    frame["gender"] = frame["session_id"].map(genders)
    return frame


def score(frame: pd.DataFrame, thresholds: dict[str, float], aggregation: str = "mean",
          threshold_rule: str | None = None) -> Evaluation:
    """Metrics at both levels for per-sample predictions (rows with label -1 are refused)."""
    if (frame["label"] < 0).any():
        raise DepscreenError("this split has unlabelled sessions; metrics need labels "
                             "(for DAIC-WOZ test labels, add full_test_split.csv)")
    utt = frame.copy()
    utt["pred"] = (utt["prob"] >= thresholds["utterance"]).astype(int)
    part = aggregate_participants(utt["session_id"], utt["prob"], utt["label"], aggregation,
                                  threshold=thresholds["utterance"])
    part["pred"] = (part["prob"] >= thresholds["participant"]).astype(int)
    if "gender" in utt:
        part["gender"] = part["session_id"].map(
            utt.drop_duplicates("session_id").set_index("session_id")["gender"])
    metrics = {
        "utterance": binary_metrics(utt["label"], utt["pred"]),
        "participant": binary_metrics(part["label"], part["pred"]),
        "thresholds": thresholds,
        "threshold_rule": threshold_rule,
        "aggregation": aggregation,
    }
    return Evaluation(metrics, utt, part)


def evaluate_run(run: Path, split: str = "test", out: Path | None = None,
                 aggregation: str = "mean", cache_dir: Path | None = None,
                 progress: bool = False, threshold_rule: str = DEFAULT_RULE) -> Evaluation:
    """Score `run` on `split`; with `out`, write metrics.json, predictions and confusion PNGs."""
    run = Path(run)
    RunFolder(run).require_finished()
    if split not in ("dev", "test"):
        raise DepscreenError(f"--split must be dev or test, got {split!r}")
    if aggregation not in AGGREGATIONS:
        raise DepscreenError(f"--aggregation must be one of {', '.join(AGGREGATIONS)}, got "
                             f"{aggregation!r}")
    folder = RunFolder(run)
    task = folder.model_spec().get("task", "binary")
    prepared = folder.header()["prepared"]
    corpus = load_prepared(prepared)  # loaded once, for both uses below
    if out is not None:  # checked before any work; RUN/eval-SPLIT (the default) is allowed
        out = check_output_folder(out, inputs=[("the run folder", run),
                                               ("the prepared corpus", prepared)],
                                  roots=[("the corpus root", corpus_folder(corpus.root))],
                                  owned=_is_evaluation_file, owner="an evaluation's")
    frame = predict_split(run, split, cache_dir=cache_dir, progress=progress, corpus=corpus)
    if task in ("regression", "items"):
        metrics, people = score_regression(folder, frame, split, train_scores(corpus))
        ev = Evaluation(metrics, frame, people)
    else:
        thresholds = run_thresholds(run, aggregation, threshold_rule)
        ev = score(frame, thresholds, aggregation, threshold_rule)
        if task == "multitask":
            metrics, people = score_regression(folder, frame, split, train_scores(corpus))
            ev.metrics.update(metrics)
            ev.participants = ev.participants.merge(
                people[["session_id", "score", "score_pred"]], on="session_id")
    ev.metrics["task"] = task
    ev.metrics["split"] = split
    ev.metrics["run"] = str(run)
    if out is not None:
        write_evaluation(ev, Path(out), title=f"{run.name} on {split}")
    return ev


def load_evaluation(folder: Path) -> Evaluation:
    """An evaluation written by `write_evaluation`, read back (no model, no features)."""
    folder = Path(folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    read = {"dtype": {"session_id": str}}
    return Evaluation(metrics, pd.read_csv(folder / "utterance_predictions.csv", **read),
                      pd.read_csv(folder / "predictions.csv", **read))


EVALUATION_FILES = ("metrics.json", "predictions.csv", "utterance_predictions.csv")


def _is_evaluation_file(name: str) -> bool:
    return name in EVALUATION_FILES or (name.startswith("confusion_matrix_")
                                        and name.endswith(".png"))


def write_evaluation(ev: Evaluation, out: Path, title: str) -> None:
    """metrics.json, the prediction CSVs and the confusion PNGs, built in a temporary sibling
    folder and swapped in whole: a failure leaves the previous evaluation (or nothing)."""
    from depscreen.evaluation.figures import save_confusion_matrix

    out = check_output_folder(out, owned=_is_evaluation_file, owner="an evaluation's")
    try:
        with atomic_folder(out) as tmp:
            atomic_write_text(tmp / "predictions.csv", ev.participants.to_csv(index=False))
            atomic_write_text(tmp / "utterance_predictions.csv",
                              ev.utterances.to_csv(index=False))
            for level in [lv for lv in LEVELS if lv in ev.metrics]:
                cm = np.array(ev.metrics[level]["confusion_matrix"])
                save_confusion_matrix(cm, tmp / f"confusion_matrix_{level}.png",
                                      title=f"{title} — {level} level")
            # Last: its presence marks a complete evaluation.
            atomic_write_text(tmp / "metrics.json", json.dumps(ev.metrics, indent=2) + "\n")
    except OSError as e:
        raise DepscreenError(f"cannot write the evaluation ({e.strerror or e})", out) from None
