"""Bundles of PHQ-8 score models: export, load, the score in `predict`, and binary bundles
left exactly as they were."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from depscreen.inference.batch import BATCH_COLUMNS, BatchItem, batch_csv, predict_batch
from depscreen.inference.bundle import BundleError, export_bundle, load_bundle, load_model
from depscreen.inference.calibration import check_calibration
from depscreen.inference.predict import predict_interview
from depscreen.inference.regression import check_regression, dev_regression
from depscreen.stats.regression import residual_interval, severity_band

SCORE_KEYS = {"estimate", "interval", "interval_level", "interval_from", "aggregation", "band",
              "screen_at_10"}


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.fixture(scope="session")
def score_run(tiny, tmp_path_factory):
    """`score_run(model, task)`: a finished tiny run of a score model (made once)."""
    from depscreen.training.config import TrainConfig
    from depscreen.training.run import train
    from tests.conftest import SMOKE

    base = tmp_path_factory.mktemp("score-runs")
    runs: dict[tuple[str, str], Path] = {}

    def get(model: str, task: str) -> Path:
        if (model, task) not in runs:
            out = base / f"{model}-{task}"
            extra = {} if model == "tfidf-lr" else SMOKE
            train(tiny.prepared, TrainConfig(model=model, task=task, **extra), out,
                  progress=False)
            runs[model, task] = out
        return runs[model, task]

    return get


@pytest.fixture(scope="session")
def regression_run(score_run) -> Path:
    return score_run("tfidf-lr", "regression")


@pytest.fixture(scope="session")
def regression_bundle(regression_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("regression-bundle") / "model.dsb"
    export_bundle(regression_run, out)
    return out


def _check_score(score: dict) -> None:
    assert set(score) == SCORE_KEYS
    lo, hi = score["interval"]
    assert 0 <= lo <= hi <= 24
    assert lo <= score["estimate"] <= hi
    assert score["band"] == severity_band(score["estimate"])
    assert score["screen_at_10"] == (score["estimate"] >= 10)
    assert score["interval_level"] == 0.8


def test_a_regression_bundle_records_its_task_and_dev_regression(regression_bundle):
    members = _members(regression_bundle)
    assert "regression.json" in members
    manifest = json.loads(members["manifest.json"])
    assert "regression.json" in manifest["files"]
    assert json.loads(members["model.json"])["task"] == "regression"
    reg = json.loads(members["regression.json"])
    assert reg["aggregation"] in ("mean", "median") and reg["aggregation_chosen_on"] == "dev"
    assert reg["n"] >= 1 and reg["dev_rmse"] >= 0 and reg["interval"][0] <= reg["interval"][1]
    assert json.loads(members["calibration.json"])["method"] == "none"
    thresholds = json.loads(members["thresholds.json"])
    assert thresholds["score"] == 10 and thresholds["chosen_on"] == "PHQ-8 cutoff"
    loaded = load_bundle(regression_bundle)
    assert loaded.task == "regression" and loaded.regression == reg
    assert not loaded.has_binary_head and loaded.has_score_head
    assert loaded.model.task == "regression"
    assert loaded.describe()["task"] == "regression"
    assert not loaded.warnings  # no "probabilities are not calibrated" for a score model


def test_predict_gives_the_score_interval_and_band(regression_bundle, regression_run,
                                                   dev_session):
    _, _, transcript = dev_session
    loaded = load_model(regression_bundle)
    res = predict_interview(loaded, transcript=transcript)
    _check_score(res["score"])
    assert res["score"]["aggregation"] == loaded.regression["aggregation"]
    assert res["score"]["interval_from"] == loaded.regression["interval_from"]
    assert res["probability"] is None
    assert res["modalities"] == {"text": None, "speech": None}
    d = res["decision"]
    assert d["threshold"] == 10 and d["threshold_level"] == "score"
    assert d["threshold_chosen_on"] == "PHQ-8 cutoff"
    assert d["depressed"] == res["score"]["screen_at_10"]
    assert res["model"]["calibration"] == "none"
    assert all(0 <= e["score"] <= 24 and e["probability"] is None for e in res["timeline"])
    assert "items" not in res
    json.dumps(res, allow_nan=False)  # strict JSON
    # The run folder scores the same.
    from_run = predict_interview(load_model(regression_run), transcript=transcript)
    assert from_run["score"] == res["score"]


def test_a_tampered_regression_json_is_refused(regression_bundle, tmp_path):
    members = _members(regression_bundle)
    reg = json.loads(members["regression.json"])
    reg["interval"] = [-0.1, 0.1]
    members["regression.json"] = json.dumps(reg).encode()
    bad = tmp_path / "edited.dsb"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
        z.comment = zipfile.ZipFile(regression_bundle).comment
    bad.write_bytes(buf.getvalue())
    with pytest.raises(BundleError, match="regression.json does not match its checksum"):
        load_bundle(bad)


def test_the_batch_csv_has_the_score_columns(regression_bundle, bundle_path, two_sessions):
    assert BATCH_COLUMNS[-4:] == ("score", "score_low", "score_high", "band")
    items = [BatchItem(sid, None, transcript, None) for sid, _, transcript in two_sessions]
    rows = predict_batch(load_model(regression_bundle), items)
    table = list(csv.DictReader(io.StringIO(batch_csv(rows))))
    for row in table:
        assert not row["error"] and row["probability"] == ""
        assert float(row["score_low"]) <= float(row["score"]) <= float(row["score_high"])
        assert row["band"] == severity_band(float(row["score"]))
        assert row["decision"] == str(int(float(row["score"]) >= 10))
    binary = predict_batch(load_model(bundle_path),
                           [BatchItem(sid, str(a), t, None) for sid, a, t in two_sessions[:1]])
    assert all(binary[0][c] == "" for c in ("score", "score_low", "score_high", "band"))
    assert binary[0]["probability"] != ""


def test_binary_bundles_are_unchanged(bundle_path, dev_session):
    """A binary model's bundle and result have no score parts: the same bytes as before."""
    members = _members(bundle_path)
    assert "regression.json" not in members
    assert set(json.loads(members["model.json"])) == {"format", "name", "config", "text_input"}
    assert set(json.loads(members["thresholds.json"])) == {"utterance", "participant",
                                                           "aggregation", "chosen_on"}
    loaded = load_bundle(bundle_path)
    assert loaded.task == "binary" and loaded.regression is None
    assert "task" not in loaded.describe()
    sid, audio, transcript = dev_session
    res = predict_interview(loaded, audio=audio, transcript=transcript)
    assert "score" not in res and "items" not in res
    assert all("score" not in e for e in res["timeline"])
    assert res["decision"]["threshold_level"] == "participant"


def test_an_items_model_gives_its_items(score_run, tmp_path, dev_session):
    from depscreen.corpora.records import PHQ8_ITEMS

    out = tmp_path / "items.dsb"
    export_bundle(score_run("lstm-cnn-text", "items"), out)
    loaded = load_bundle(out)
    assert loaded.task == "items" and loaded.model.task == "items"
    res = predict_interview(loaded, transcript=dev_session[2])
    _check_score(res["score"])
    assert list(res["items"]) == list(PHQ8_ITEMS)
    assert all(0 <= v <= 3 for v in res["items"].values())
    assert res["probability"] is None


# ----------------------------------------------------------------------------- unit checks


def _dev_frame(n_people: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_people):
        truth = float(rng.integers(0, 25))
        for _ in range(4):
            rows.append({"session_id": f"p{k}", "score": truth,
                         "score_pred": float(np.clip(truth + rng.normal(0, 3), 0, 24))})
    rows.append({"session_id": "unknown", "score": np.nan, "score_pred": 5.0})
    return pd.DataFrame(rows)


def test_dev_regression_takes_quantiles_of_participant_residuals():
    from depscreen.evaluation.regression import choose_aggregation, participant_scores

    dev = _dev_frame(12)
    reg = dev_regression(dev)
    known = dev[np.isfinite(dev["score"])]
    how, _ = choose_aggregation(known)
    people = participant_scores(known, how)
    lo, hi = residual_interval(people["score"] - people["score_pred"], 0.8)
    assert reg["aggregation"] == how and reg["n"] == 12
    assert reg["interval"] == pytest.approx([lo, hi], abs=1e-5)
    assert reg["interval_from"] == "dev participants' residuals (n=12)"
    assert check_regression(reg, Path("x")) == reg


def test_too_few_dev_participants_give_the_whole_range():
    reg = dev_regression(_dev_frame(3))
    assert reg["interval"] == [-24.0, 24.0] and reg["n"] == 3
    assert "too few dev participants" in reg["interval_from"]


@pytest.mark.parametrize("edit", [
    {"aggregation": "mode"}, {"interval": [1.0]}, {"interval": [2.0, 1.0]},
    {"interval_level": 1.5}, {"n": 0}, {"interval_from": None},
])
def test_check_regression_refuses_what_it_cannot_use(edit):
    reg = {**dev_regression(_dev_frame(6)), **edit}
    with pytest.raises(BundleError):
        check_regression(reg, Path("x"))


def test_calibration_none_only_without_a_binary_head():
    with pytest.raises(BundleError):
        check_calibration({"method": "none"}, Path("x"))
    with pytest.raises(BundleError):
        check_calibration({"method": "identity"}, Path("x"), binary_head=False)
    assert check_calibration({"method": "none"}, Path("x"), binary_head=False)


def test_a_multitask_model_keeps_its_binary_head(score_run, tmp_path, dev_session):
    out = tmp_path / "multitask.dsb"
    export_bundle(score_run("lstm-cnn-text", "multitask"), out)
    loaded = load_bundle(out)
    assert loaded.task == "multitask" and loaded.has_binary_head and loaded.has_score_head
    assert loaded.calibration["method"] != "none"
    assert set(loaded.thresholds) == {"utterance", "participant"}
    res = predict_interview(loaded, transcript=dev_session[2])
    _check_score(res["score"])
    assert 0 <= res["probability"] <= 1
    assert res["decision"]["threshold_level"] == "participant"
    assert res["model"]["task"] == "multitask" and res["model"]["thresholds_chosen_on"] == "dev"


def test_the_cli_shows_the_score(cli, regression_bundle, dev_session):
    code, stdout, stderr = cli("predict", "--model", regression_bundle, "--transcript",
                               dev_session[2])
    assert code == 0, stderr
    assert "estimated PHQ-8" in stderr and "interval" in stderr
    res = json.loads(stdout)
    assert res["score"]["band"] in stderr
