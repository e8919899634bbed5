"""PHQ-8 score regression (--task regression / multitask / items) through training."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SMOKE, Tiny

from depscreen.errors import ConfigError
from depscreen.evaluation.evaluate import evaluate_run
from depscreen.features.dataset import collate
from depscreen.models import create_model
from depscreen.training.config import TrainConfig
from depscreen.training.data import scored_corpus
from depscreen.training.module import LitClassifier
from depscreen.training.run import train
from depscreen.training.run_folder import RunFolder


def test_a_regression_run_records_its_task_and_estimates(tiny: Tiny, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = train(tiny.prepared, TrainConfig(model="lstm-cnn-text", task="regression", **SMOKE),
                out, progress=False)
    assert {"dev_rmse", "dev_participant_rmse", "dev_participant_ccc"} <= set(res.dev_metrics)
    assert "dev_ua" not in res.dev_metrics  # no binary head to score
    spec = json.loads((out / "model.json").read_text())
    assert spec["task"] == "regression"
    dev = pd.read_csv(out / "dev_predictions.csv")
    assert dev["prob"].isna().all()
    assert dev["score_pred"].between(0, 24).all() and dev["score"].notna().all()
    model, _ = RunFolder(out).load_model()
    assert model.task == "regression" and model.score_head.out_features == 1
    config = json.loads((out / "config.json").read_text())["train"]
    assert config["monitor"] == "dev_participant_rmse"


def test_items_sum_to_the_total(tiny: Tiny) -> None:
    model = create_model("lstm-cnn-text", task="items", vocab_size=50)
    model.eval()
    batch = collate([{"session_id": "s", "label": 0, "mel": torch.zeros(1, 64),
                      "tokens": torch.tensor([2, 3, 4]), "has_text": True,
                      "has_speech": False, "score": 5.0, "items": (1.0,) * 8}])
    items = model.predict_items(batch)
    assert items.shape == (1, 8) and bool(((items >= 0) & (items <= 3)).all())
    assert torch.allclose(model.predict_score(batch), items.sum(-1))


def test_the_score_loss_leaves_out_unknown_targets() -> None:
    model = create_model("lstm-cnn-text", task="regression", vocab_size=50)
    lit = LitClassifier(model, lr=1e-3)
    features = torch.randn(3, model.feature_dim)
    known = {"score": torch.tensor([3.0, float("nan"), 20.0])}
    only = {"score": torch.tensor([3.0, 20.0])}
    z = model.score_logits(features)
    both = lit._score_loss(known, z)
    assert torch.isfinite(both)
    assert torch.allclose(both, lit._score_loss(only, z[[0, 2]]))
    none = lit._score_loss({"score": torch.tensor([float("nan")] * 3)}, z)
    assert float(none.detach()) == 0.0


def test_multitask_trains_both_heads(tiny: Tiny, tmp_path: Path) -> None:
    res = train(tiny.prepared, TrainConfig(model="cnn-speech", task="multitask", **SMOKE),
                tmp_path / "run", progress=False)
    assert {"dev_ua", "dev_participant_rmse"} <= set(res.dev_metrics)
    dev = pd.read_csv(tmp_path / "run" / "dev_predictions.csv")
    assert dev["prob"].between(0, 1).all() and dev["score_pred"].between(0, 24).all()


def test_a_model_without_the_head_says_which_have_it() -> None:
    with pytest.raises(ConfigError, match="items is not one of decision-fusion's .*"
                                          "models with it: .*lstm-cnn-text"):
        TrainConfig(model="decision-fusion", task="items")
    with pytest.raises(ConfigError, match="items is not one of tfidf-lr's"):
        TrainConfig(model="tfidf-lr", task="items")
    with pytest.raises(ConfigError, match="task must be one of"):
        TrainConfig(model="tfidf-lr", task="severity")


def test_sessions_without_a_score_are_counted_or_skipped(tiny: Tiny) -> None:
    corpus = tiny.corpus
    train_ids = [s.session_id for s in corpus.by_split("train")][:2]
    sessions = [dataclasses.replace(s, phq8_score=None) if s.session_id in train_ids else s
                for s in corpus.sessions]
    broken = dataclasses.replace(corpus, sessions=sessions)
    with pytest.raises(ConfigError, match=r"--task regression: 2 of \d+ train/dev sessions lack "
                                          r"a PHQ-8 score .*--skip-unscored"):
        scored_corpus(broken, "regression", skip_unscored=False)
    kept = scored_corpus(broken, "regression", skip_unscored=True)
    assert len(kept.sessions) == len(corpus.sessions) - 2
    assert not set(train_ids) & {s.session_id for s in kept.sessions}
    # Test sessions without a score are not the training's business.
    test_ids = {s.session_id for s in corpus.by_split("test")}
    no_test = dataclasses.replace(corpus, sessions=[
        dataclasses.replace(s, phq8_score=None) if s.session_id in test_ids else s
        for s in corpus.sessions])
    assert scored_corpus(no_test, "regression", skip_unscored=False) is no_test


def _with_test_scores(prepared: Path, out: Path, value: float) -> Path:
    shutil.copytree(prepared, out, ignore=shutil.ignore_patterns("features"))
    (out / "features").symlink_to(prepared / "features")
    sessions = pd.read_csv(out / "sessions.csv", dtype={"session_id": str})
    sessions.loc[sessions["split"] == "test", "phq8_score"] = value
    sessions.to_csv(out / "sessions.csv", index=False)
    return out


@pytest.mark.parametrize("model", ["tfidf-lr", "lstm-cnn-text"])
def test_nothing_is_chosen_on_test_scores(tiny: Tiny, tmp_path: Path, model: str) -> None:
    """Training and selection give the same run whatever the test split's scores are."""
    runs = []
    for value in (0.0, 24.0):
        prepared = _with_test_scores(tiny.prepared, tmp_path / f"prep{value:g}", value)
        out = tmp_path / f"run{value:g}"
        train(prepared, TrainConfig(model=model, task="regression", **SMOKE), out,
              progress=False)
        runs.append(out)
    for name in ("weights.safetensors", "dev_predictions.csv", "done.json"):
        assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name
    if (runs[0] / "fit.json").exists():
        assert (runs[0] / "fit.json").read_bytes() == (runs[1] / "fit.json").read_bytes()
    evs = [evaluate_run(r, "test") for r in runs]
    assert evs[0].metrics["score_aggregation"] == evs[1].metrics["score_aggregation"]
    assert np.allclose(evs[0].participants["score_pred"], evs[1].participants["score_pred"])
    assert (evs[0].participants["score"] == 0).all() and (evs[1].participants["score"] == 24).all()


@pytest.mark.parametrize("model", ["stacked-fusion", "decision-fusion"])
def test_decision_level_regression_weights_the_sub_models_on_dev(tiny: Tiny, tmp_path: Path,
                                                                 model: str) -> None:
    from depscreen.inference.bundle import load_model
    from depscreen.inference.predict import predict_interview

    out = tmp_path / model
    res = train(tiny.prepared, TrainConfig(model=model, task="regression", **SMOKE), out,
                progress=False)
    assert "dev_participant_rmse" in res.dev_metrics
    done = json.loads((out / "done.json").read_text())
    w = done["score_weight"]["weight"]
    assert 0.0 <= w <= 1.0
    assert done["score_weight"]["dev_participant_rmse"] == min(
        done["score_weight"]["dev_participant_rmse_by_weight"].values())
    reloaded, _ = RunFolder(out).load_model()
    assert float(reloaded.score_weight) == pytest.approx(w)
    session = tiny.corpus.by_split("test")[0]
    audio_only = predict_interview(load_model(out), audio=session.audio)
    assert 0.0 <= audio_only["score"]["estimate"] <= 24.0  # one modality is enough


def test_evaluate_command_prints_the_score_metrics(tiny: Tiny, tmp_path: Path, cli) -> None:
    out = tmp_path / "run"
    train(tiny.prepared, TrainConfig(model="tfidf-lr", task="regression", **SMOKE), out,
          progress=False)
    code, stdout, stderr = cli("evaluate", out, "--split", "dev")
    assert code == 0, stderr
    assert "PHQ-8 score n=" in stdout and "RMSE" in stdout and "train-mean reference" in stdout
    metrics = json.loads((out / "eval-dev" / "metrics.json").read_text())
    assert metrics["task"] == "regression" and "utterance" not in metrics


@pytest.mark.parametrize("model", ["tfidf-lr", "stacked-fusion"])
def test_multitask_for_closed_form_and_decision_level_models(tiny: Tiny, tmp_path: Path,
                                                             model: str) -> None:
    out = tmp_path / model
    res = train(tiny.prepared, TrainConfig(model=model, task="multitask", **SMOKE), out,
                progress=False)
    assert {"dev_ua", "dev_participant_rmse"} <= set(res.dev_metrics)
    dev = pd.read_csv(out / "dev_predictions.csv")
    assert dev["prob"].between(0, 1).all() and dev["score_pred"].between(0, 24).all()
    reloaded, spec = RunFolder(out).load_model()
    assert spec["task"] == "multitask" and reloaded.task == "multitask"
    from depscreen.inference.bundle import export_bundle, load_model
    from depscreen.inference.predict import predict_interview

    export_bundle(out, tmp_path / "m.dsb")
    session = tiny.corpus.by_split("test")[0]
    transcript = tiny.root / f"{session.session_id}_P" / f"{session.session_id}_TRANSCRIPT.csv"
    result = predict_interview(load_model(tmp_path / "m.dsb"), audio=session.audio,
                               transcript=transcript)
    assert 0 <= result["probability"] <= 1 and 0 <= result["score"]["estimate"] <= 24
