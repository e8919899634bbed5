"""`train` on the tiny corpus: every registered model writes a complete, self-describing run
folder that rebuilds its model without unpickling anything."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SMOKE, Tiny
from safetensors import safe_open
from safetensors.torch import load_file

from depscreen.errors import DepscreenError
from depscreen.models import list_models, model_class
from depscreen.training.config import TrainConfig
from depscreen.training.run import load_run_model, train

DEV_METRICS = {"dev_ua", "dev_f1", "dev_wa", "dev_participant_ua", "dev_participant_f1"}
REPO = Path(__file__).resolve().parents[2]


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


def _check_safetensors(path: Path, model: str) -> dict[str, torch.Tensor]:
    raw = path.read_bytes()
    assert not raw.startswith((b"PK", b"\x80")), "weights must not be a zip/pickle"
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + header_len])
    assert header["__metadata__"]["model"] == model
    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["model"] == model
    return load_file(str(path))


@pytest.mark.parametrize("model", list_models())
def test_run_folder_is_complete(model: str, trained_run: Callable[[str], Path],
                                tiny: Tiny) -> None:
    run = trained_run(model)

    cfg = _json(run / "config.json")
    assert cfg["train"] == TrainConfig(model=model, **SMOKE).to_dict()
    assert Path(cfg["prepared"]) == tiny.prepared.resolve()
    assert {"audio", "text", "modalities"} <= set(cfg["features"])

    env = _json(run / "env.json")
    assert "git_commit" in env
    if (REPO / ".git").exists():
        assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", env["git_commit"])
    for lib in ("torch", "lightning", "numpy", "scikit-learn", "safetensors"):
        assert env["libraries"][lib], f"env.json lacks the {lib} version"

    done = _json(run / "done.json")
    assert done["model"] == model and done["seed"] == 0
    assert set(done["dev_metrics"]) == DEV_METRICS
    assert all(0.0 <= v <= 1.0 for v in done["dev_metrics"].values())

    fitting = model_class(model).fitting
    if fitting == "decision":
        # No gradient training of its own: its per-modality classifiers are ordinary runs.
        assert done["best_epoch"] == -1
        assert set(_json(run / "model.json")["sub_runs"]) == {"text", "speech"}
        folders = [f for f in (run / "text", run / "speech")
                   if model_class(_json(f / "model.json")["name"]).fitting == "gradient"]
    elif fitting == "closed-form":
        # A classical model: fitted in one go, C chosen on dev, no epochs or checkpoints.
        assert done["best_epoch"] == -1
        fit = _json(run / "fit.json")
        assert fit["C"] in _json(run / "model.json")["config"]["c_grid"]
        assert len(fit["dev_participant_auc_by_C"]) >= 1
        folders = []
    else:
        assert done["best_epoch"] == 0
        folders = [run]
    for folder in folders:
        assert (folder / "checkpoints" / "last.ckpt").is_file()
        metrics = pd.read_csv(folder / "metrics.csv")
        assert metrics["epoch"].tolist() == [0]  # one row per epoch
        assert DEV_METRICS | {"train_loss", "dev_loss"} <= set(metrics.columns)
        assert np.isfinite(metrics["train_loss"]).all()

    tensors = _check_safetensors(run / "weights.safetensors", model)
    spec = _json(run / "model.json")
    assert spec["name"] == model

    rebuilt, spec2 = load_run_model(run)
    assert spec2 == spec and type(rebuilt).model_name == model
    state = rebuilt.state_dict()
    assert set(state) == set(tensors)
    assert all(torch.equal(state[k], tensors[k]) for k in tensors)

    dev = pd.read_csv(run / "dev_predictions.csv", dtype={"session_id": str})
    dev_ids = {s.session_id for s in tiny.corpus.by_split("dev")}
    assert set(dev["session_id"]) == dev_ids
    assert dev["prob"].between(0, 1).all() and set(dev["label"]) == {0, 1}


def test_rebuilt_model_reproduces_dev_predictions(trained_run: Callable[[str], Path]) -> None:
    """The saved weights are the ones that produced dev_predictions.csv."""
    from depscreen.evaluation.evaluate import predict_split

    run = trained_run("bilstm-cnn-fusion")
    saved = pd.read_csv(run / "dev_predictions.csv", dtype={"session_id": str})
    again = predict_split(run, "dev")
    key = ["session_id", "utt_index", "window_index"]
    merged = saved.merge(again, on=key, suffixes=("_saved", "_again"), validate="1:1")
    assert len(merged) == len(saved) == len(again)
    np.testing.assert_allclose(merged["prob_saved"], merged["prob_again"], atol=2e-6)


def test_existing_run_needs_resume_and_the_same_config(
    trained_run: Callable[[str], Path], tiny: Tiny
) -> None:
    run = trained_run("lstm-cnn-text")
    cfg = TrainConfig(model="lstm-cnn-text", **SMOKE)
    with pytest.raises(DepscreenError, match="pass --resume"):
        train(tiny.prepared, cfg, run, progress=False)
    # A finished run is skipped by --resume: nothing is trained or rewritten.
    before = (run / "done.json").stat().st_mtime_ns
    result = train(tiny.prepared, cfg, run, resume=True, progress=False)
    assert result.skipped and result.best_epoch == 0
    assert (run / "done.json").stat().st_mtime_ns == before


def test_resume_with_another_config_is_refused(tiny: Tiny, tmp_path: Path) -> None:
    from depscreen.training.run_folder import write_json as _write_json

    out = tmp_path / "run"
    out.mkdir()
    started = TrainConfig(model="cnn-speech", **SMOKE)
    _write_json(out / "config.json", {"prepared": str(tiny.prepared.resolve()),
                                      "train": started.to_dict()})
    other = TrainConfig(model="cnn-speech", max_epochs=1, limit_train_batches=2, lr=0.1)
    with pytest.raises(DepscreenError, match="different configuration"):
        train(tiny.prepared, other, out, resume=True, progress=False)


def test_the_same_weights_are_the_same_bytes_in_any_process(tmp_path):
    """safetensors writes metadata in hash-map order, which varies between processes; the
    weights file (and the bundle version, its hash) must not."""
    import subprocess
    import sys

    code = ("import sys, torch; from depscreen.models import create_model; "
            "from depscreen.training.run_folder import RunFolder; torch.manual_seed(0); "
            "m = create_model('lstm-cnn-text', vocab_size=50); "
            "RunFolder(sys.argv[1]).save_model(m, 'lstm-cnn-text')")
    outs = []
    for i in range(6):
        out = tmp_path / f"r{i}"
        out.mkdir()
        subprocess.run([sys.executable, "-c", code, str(out)], check=True, timeout=120,
                       env={**os.environ, "PYTHONHASHSEED": str(i)})
        outs.append((out / "weights.safetensors").read_bytes())
    assert all(o == outs[0] for o in outs)
