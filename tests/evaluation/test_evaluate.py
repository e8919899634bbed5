"""evaluate_run: thresholds come from the run's dev predictions only; `depscreen evaluate`
writes metrics, predictions and figures."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import Tiny
from typer.testing import CliRunner

import depscreen.evaluation.evaluate as evaluate_mod
from depscreen.cli import app
from depscreen.errors import DepscreenError
from depscreen.evaluation.evaluate import evaluate_run
from depscreen.stats.metrics import METRIC_KEYS
from depscreen.stats.threshold import balanced_logistic_threshold

PNG = b"\x89PNG\r\n\x1a\n"
MODEL = "bilstm-text"  # the quickest model to score

# Dev predictions implying max-ua thresholds by hand (see test_threshold):
# utterances: negatives <= 0.28, positives >= 0.315 -> UA 1 on 0.29..0.31 -> 0.31;
# participants (means): A 0.1833, B 0.215 | C 0.44, D 0.3325 -> UA 1 on 0.22..0.33 -> 0.33.
DEV = [("A", 0, [0.1, 0.2, 0.25]), ("B", 0, [0.15, 0.28]),
       ("C", 1, [0.32, 0.4, 0.6]), ("D", 1, [0.35, 0.315])]
EXPECTED = {"utterance": 0.31, "participant": 0.33}


def _copy_run(trained_run: Callable[[str], Path], tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained_run(MODEL), run)
    return run


def _write_dev_predictions(run: Path) -> None:
    rows = [{"session_id": sid, "utt_index": i, "window_index": 0, "start": float(i),
             "end": i + 1.0, "has_text": True, "has_speech": False, "label": label, "prob": p}
            for sid, label, probs in DEV for i, p in enumerate(probs)]
    pd.DataFrame(rows).to_csv(run / "dev_predictions.csv", index=False)


def test_thresholds_come_from_dev_predictions(
    trained_run: Callable[[str], Path], tmp_path: Path, tiny: Tiny
) -> None:
    run = _copy_run(trained_run, tmp_path)
    _write_dev_predictions(run)
    ev = evaluate_run(run, "test", out=tmp_path / "ev", threshold_rule="max-ua")

    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["thresholds"] == EXPECTED
    assert metrics["threshold_rule"] == "max-ua"
    assert metrics["split"] == "test"
    test_ids = {s.session_id for s in tiny.corpus.by_split("test")}
    assert set(ev.utterances["session_id"]) == test_ids
    # The thresholds are the ones applied.
    utt = ev.utterances
    assert (utt["pred"] == (utt["prob"] >= 0.31).astype(int)).all()
    part = ev.participants
    assert (part["pred"] == (part["prob"] >= 0.33).astype(int)).all()
    assert metrics["participant"]["n"] == len(test_ids)


def test_default_rule_is_the_balanced_logistic_fit_on_dev(
    trained_run: Callable[[str], Path], tmp_path: Path
) -> None:
    run = _copy_run(trained_run, tmp_path)
    _write_dev_predictions(run)
    ev = evaluate_run(run, "test")
    utt_probs = [p for _sid, _y, probs in DEV for p in probs]
    utt_labels = [y for _sid, y, probs in DEV for _ in probs]
    part_probs = [float(np.mean(probs)) for _sid, _y, probs in DEV]
    part_labels = [y for _sid, y, _probs in DEV]
    assert ev.metrics["threshold_rule"] == "balanced-logistic"
    assert ev.metrics["thresholds"] == {
        "utterance": pytest.approx(balanced_logistic_threshold(
            np.array(utt_labels), np.array(utt_probs))),
        "participant": pytest.approx(balanced_logistic_threshold(
            np.array(part_labels), np.array(part_probs))),
    }
    # Separable dev scores: the fit crosses 1/2 between the classes.
    assert 0.28 < ev.metrics["thresholds"]["utterance"] < 0.315
    assert 0.215 < ev.metrics["thresholds"]["participant"] < 0.3325


def test_test_predictions_do_not_move_the_thresholds(
    trained_run: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = _copy_run(trained_run, tmp_path)
    _write_dev_predictions(run)
    real = evaluate_mod.predict_split(run, "test")
    seen = []
    for transform in (lambda p: p, lambda p: np.full_like(p, 0.05), lambda p: np.full_like(p, 0.9)):
        frame = real.assign(prob=transform(real["prob"].to_numpy()))
        monkeypatch.setattr(evaluate_mod, "predict_split", lambda *a, _f=frame, **k: _f.copy())
        ev = evaluate_run(run, "test", threshold_rule="max-ua")
        assert ev.metrics["thresholds"] == EXPECTED
        seen.append(ev.metrics["utterance"]["confusion_matrix"])
    # The test predictions did change what was scored: nothing, then everything, depressed.
    assert np.array(seen[1])[:, 1].sum() == 0 and np.array(seen[2])[:, 0].sum() == 0


def test_evaluate_refuses_unfinished_runs_and_other_splits(
    trained_run: Callable[[str], Path], tmp_path: Path
) -> None:
    run = _copy_run(trained_run, tmp_path)
    with pytest.raises(DepscreenError, match="--split must be dev or test"):
        evaluate_run(run, "train")
    (run / "done.json").unlink()
    with pytest.raises(DepscreenError, match="not a finished run"):
        evaluate_run(run, "test")


def test_cli_evaluate_dev_writes_everything(
    trained_run: Callable[[str], Path], tmp_path: Path, tiny: Tiny
) -> None:
    run = _copy_run(trained_run, tmp_path)
    result = CliRunner().invoke(app, ["evaluate", str(run), "--split", "dev"])
    assert result.exit_code == 0, result.output
    out = run / "eval-dev"

    metrics = json.loads((out / "metrics.json").read_text())
    dev_rows = pd.read_csv(run / "dev_predictions.csv")
    dev_ids = {s.session_id for s in tiny.corpus.by_split("dev")}
    for level, n in (("utterance", len(dev_rows)), ("participant", len(dev_ids))):
        assert set(METRIC_KEYS) <= set(metrics[level])
        assert metrics[level]["n"] == n
        assert np.sum(metrics[level]["confusion_matrix"]) == n
        for key in ("f1_macro", "f1_depressed", "wa", "ua", "precision_depressed",
                    "recall_depressed"):
            assert 0.0 <= metrics[level][key] <= 1.0
        assert (out / f"confusion_matrix_{level}.png").read_bytes().startswith(PNG)

    preds = pd.read_csv(out / "predictions.csv", dtype={"session_id": str})
    assert set(preds["session_id"]) == dev_ids and len(preds) == len(dev_ids)
    assert {"label", "prob", "pred"} <= set(preds.columns)
    assert "from dev" in result.output


def test_cli_evaluate_takes_a_threshold_rule_and_refuses_unknown_ones(
    trained_run: Callable[[str], Path], tmp_path: Path
) -> None:
    run = _copy_run(trained_run, tmp_path)
    _write_dev_predictions(run)
    ok = CliRunner().invoke(app, ["evaluate", str(run), "--threshold-rule", "max-ua"])
    assert ok.exit_code == 0, ok.output
    assert json.loads((run / "eval-test" / "metrics.json").read_text())["thresholds"] == EXPECTED
    bad = CliRunner().invoke(app, ["evaluate", str(run), "--threshold-rule", "best-on-test"])
    assert isinstance(bad.exception, DepscreenError)  # main() prints it as one line
    assert "--threshold-rule must be one of balanced-logistic, max-ua" in str(bad.exception)
