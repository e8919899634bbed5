"""What repeatability holds under (#13 item 11): one seed and one intra-op thread count give
bit-identical weights and per-epoch metrics, also while other processes load the machine;
the count a run used is in its env.json. Another count may round parallel sums differently,
which is why the count is part of the configuration (`--threads`)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from conftest import Tiny

from depscreen.errors import ConfigError
from depscreen.training.config import TrainConfig
from depscreen.training.run import train

MODEL = "bilstm-cnn-fusion"  # the model of the report: convolutions, LSTMs, both channels
BUSY = "import time\nend = time.monotonic() + 120\nwhile time.monotonic() < end: pass\n"


@contextlib.contextmanager
def machine_loaded(processes: int = 2) -> Iterator[None]:
    """Other processes spinning on every core while the block runs (bounded to 2 min)."""
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(processes)]
    try:
        yield
    finally:
        for proc in busy:
            proc.kill()
            proc.wait(timeout=30)


def _run(tiny: Tiny, out: Path, threads: int) -> tuple[str, str, dict]:
    cfg = TrainConfig(model=MODEL, max_epochs=2, batch_size=4, seed=3, threads=threads)
    train(tiny.prepared, cfg, out, cache_dir=tiny.cache_dir, progress=False)
    weights = hashlib.sha256((out / "weights.safetensors").read_bytes()).hexdigest()
    metrics = (out / "metrics.csv").read_text()
    return weights, metrics, json.loads((out / "env.json").read_text())["threads"]


@pytest.mark.parametrize("threads", [1, 2])
def test_one_seed_and_thread_count_repeat_exactly_under_load(
    tiny: Tiny, tmp_path: Path, threads: int
) -> None:
    before = torch.get_num_threads()
    quiet = _run(tiny, tmp_path / "quiet", threads)
    with machine_loaded():
        loaded = _run(tiny, tmp_path / "loaded", threads)
    assert torch.get_num_threads() == before  # the count is the run's, not left behind
    assert quiet[0] == loaded[0], "weights differ between a quiet and a loaded machine"
    assert quiet[1] == loaded[1], "per-epoch metrics differ between a quiet and a loaded run"
    assert quiet[2]["torch_intra_op"] == loaded[2]["torch_intra_op"] == threads


def test_thread_count_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="threads must be >= 1"):
        TrainConfig(model=MODEL, threads=0)
