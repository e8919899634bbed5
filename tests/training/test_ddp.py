"""Two-process DDP on CPU (gloo): Lightning's launcher re-runs the command for rank 1; rank 0
alone writes the run folder, and each rank trains on its own half of the batches."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import torch
from conftest import Tiny
from safetensors.torch import load_file

from depscreen.training.config import TrainConfig
from depscreen.training.data import build_data
from depscreen.training.run import load_run_model

MODEL = "cnn-speech"
BATCH = 12  # several batches to share out (3 on the tiny corpus: one rank repeats one)


def test_ddp_two_processes_on_cpu(
    tiny: Tiny, tmp_path: Path, cli_cmd: list[str], cli_env: dict[str, str]
) -> None:
    out = tmp_path / "ddp"
    cmd = [*cli_cmd, "train", "--prepared", str(tiny.prepared), "--model", MODEL,
           "--out", str(out), "--devices", "2", "--accelerator", "cpu", "--strategy", "ddp",
           "--epochs", "1", "--batch-size", str(BATCH), "--cache-dir", str(tiny.cache_dir),
           "--quiet"]
    env = {k: v for k, v in cli_env.items() if k not in ("MASTER_PORT", "MASTER_ADDR")}
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "Traceback" not in res.stderr

    for name in ("config.json", "env.json", "metrics.csv", "weights.safetensors", "model.json",
                 "dev_predictions.csv", "done.json", "checkpoints/last.ckpt"):
        assert (out / name).is_file(), name
    config = json.loads((out / "config.json").read_text())["train"]
    assert (config["devices"], config["strategy"], config["accelerator"]) == (2, "ddp", "cpu")
    assert pd.read_csv(out / "metrics.csv")["epoch"].tolist() == [0]
    model, _ = load_run_model(out)
    tensors = load_file(str(out / "weights.safetensors"))
    assert all(torch.equal(model.state_dict()[k], v) for k, v in tensors.items())

    # Rank 0 took every other batch: half the single-process steps (rounded up: the last
    # batch is repeated so both ranks step equally often).
    cfg = TrainConfig.from_dict(config)
    data = build_data(tiny.corpus, cfg, tiny.cache_dir, progress=False)
    single = len(data.train_loader(cfg))
    ckpt = torch.load(out / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    assert single >= 3 and ckpt["global_step"] == -(-single // 2)
