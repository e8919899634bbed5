"""Shared fixtures: a tiny synthetic DAIC-WOZ-layout corpus, prepared once per session, and
small trained runs of each model (built on demand, once).

Everything is built by code (the synthetic generator), never from real corpus files. Torch
runs on one thread: this machine is shared and small, and two threads are slower here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from depscreen.corpora.records import Corpus

# Seed 0 gives train 9 / dev 3 / test 4 sessions, each split holding both classes.
TINY_SEED = 0
TINY_PARTICIPANTS = 16
TINY_MINUTES = 0.5
# The shortest training that still exercises every step of a run.
SMOKE = {"max_epochs": 1, "limit_train_batches": 2}

torch.set_num_threads(1)


@dataclass(frozen=True)
class Tiny:
    """The session's tiny corpus: generated root, prepared folder and its records."""

    root: Path
    prepared: Path
    corpus: Corpus

    @property
    def cache_dir(self) -> Path:
        return self.prepared / "features"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Tiny:
    from depscreen.corpora.prepare import prepare
    from depscreen.corpora.synthetic import SynthConfig, generate_corpus

    base = tmp_path_factory.mktemp("tiny")
    config = SynthConfig(participants=TINY_PARTICIPANTS, minutes=TINY_MINUTES, seed=TINY_SEED)
    generate_corpus(base / "root", config, progress=False)
    result = prepare("daic-woz", base / "root", base / "prepared", progress=False)
    corpus = result.corpus
    for split in ("train", "dev", "test"):
        labels = {s.label for s in corpus.by_split(split)}
        assert labels == {0, 1}, f"tiny corpus: {split} split needs both classes, has {labels}"
    return Tiny(base / "root", base / "prepared", corpus)


@pytest.fixture(autouse=True)
def _one_torch_thread() -> Iterator[None]:
    """Code under test may change torch's thread count (reproduce does); put it back."""
    yield
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def trained_run(tiny: Tiny, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """`trained_run(model)`: a finished smoke run of `model` on the tiny corpus (made once)."""
    from depscreen.training.config import TrainConfig
    from depscreen.training.run import train

    base = tmp_path_factory.mktemp("runs")
    runs: dict[str, Path] = {}

    def get(model: str) -> Path:
        if model not in runs:
            out = base / model
            train(tiny.prepared, TrainConfig(model=model, **SMOKE), out, progress=False)
            runs[model] = out
        return runs[model]

    return get


@pytest.fixture(scope="session")
def cli_env() -> dict[str, str]:
    """Environment for `depscreen` subprocesses: one thread each, no debug tracebacks."""
    env = {k: v for k, v in os.environ.items() if k != "DEPSCREEN_DEBUG"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="session")
def cli_cmd() -> list[str]:
    """The command line that runs the CLI's entry point (`depscreen.cli.main`)."""
    return [sys.executable, "-m", "depscreen.cli"]


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """Run `depscreen ARGS...` in-process through `cli.main` (exit code, stdout, stderr)."""
    from depscreen import cli as cli_module

    def run(*args) -> tuple[int, str, str]:
        capsys.readouterr()
        old = sys.argv
        sys.argv = ["depscreen", *map(str, args)]
        try:
            cli_module.main()
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            sys.argv = old
        out, err = capsys.readouterr()
        return code, out, err

    return run
