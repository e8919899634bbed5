"""A run killed mid-training (SIGKILL, no chance to clean up) and resumed with --resume ends
with exactly the weights and per-epoch metrics of the same run left alone."""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import torch
from conftest import Tiny
from safetensors.torch import load_file

from depscreen.training.config import TrainConfig
from depscreen.training.run import train

MODEL = "cnn-speech"
EPOCHS = 3
BATCH = 4  # small batches: an epoch takes long enough for the kill to land inside the run
SEED = 7


def _kill_when(proc: subprocess.Popen, path: Path, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, f"training ended (rc {proc.returncode}) before {path.name}"
        assert time.monotonic() < deadline, f"no {path} after {timeout:.0f} s"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)


def test_sigkill_then_resume_equals_uninterrupted(
    tiny: Tiny, tmp_path: Path, cli_cmd: list[str], cli_env: dict[str, str]
) -> None:
    # A: uninterrupted, in this process.
    run_a = tmp_path / "A"
    cfg = TrainConfig(model=MODEL, max_epochs=EPOCHS, batch_size=BATCH, seed=SEED)
    train(tiny.prepared, cfg, run_a, cache_dir=tiny.cache_dir, progress=False)

    # B: the same run from the command line, killed as soon as epoch 0's checkpoint exists.
    run_b = tmp_path / "B"
    cmd = [*cli_cmd, "train", "--prepared", str(tiny.prepared), "--model", MODEL,
           "--out", str(run_b), "--epochs", str(EPOCHS), "--batch-size", str(BATCH),
           "--seed", str(SEED), "--cache-dir", str(tiny.cache_dir), "--quiet"]
    proc = subprocess.Popen(cmd, env=cli_env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    _kill_when(proc, run_b / "checkpoints" / "last.ckpt")
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode()[-2000:]
    # Killed inside the run: not finished, and not every epoch recorded.
    assert not (run_b / "done.json").exists()
    assert not (run_b / "weights.safetensors").exists()
    assert len(pd.read_csv(run_b / "metrics.csv")) < EPOCHS

    res = subprocess.run([*cmd, "--resume"], env=cli_env, capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    assert (run_b / "done.json").is_file()

    a = load_file(str(run_a / "weights.safetensors"))
    b = load_file(str(run_b / "weights.safetensors"))
    assert a.keys() == b.keys()
    differ = [k for k in a if not torch.equal(a[k], b[k])]
    assert not differ, f"weights differ after resume: {differ}"

    metrics_a = pd.read_csv(run_a / "metrics.csv")
    metrics_b = pd.read_csv(run_b / "metrics.csv")
    assert metrics_a["epoch"].tolist() == list(range(EPOCHS))
    pd.testing.assert_frame_equal(metrics_a, metrics_b, check_exact=True)
    pd.testing.assert_frame_equal(
        pd.read_csv(run_a / "dev_predictions.csv"), pd.read_csv(run_b / "dev_predictions.csv"),
        check_exact=True,
    )
