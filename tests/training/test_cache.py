"""A changed log-Mel config gives a run its own feature cache folder (no stale features)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import Tiny

from depscreen.training.config import TrainConfig
from depscreen.training.run import train

QUICK = {"max_epochs": 1, "limit_train_batches": 1}


def test_audio_override_gets_a_new_cache_folder(tiny: Tiny, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    train(tiny.prepared, TrainConfig(model="cnn-speech", **QUICK), tmp_path / "a",
          cache_dir=cache, progress=False)
    first = sorted(p.name for p in cache.glob("logmel-*"))
    assert len(first) == 1

    train(tiny.prepared, TrainConfig(model="cnn-speech", audio={"n_mels": 40}, **QUICK),
          tmp_path / "b", cache_dir=cache, progress=False)
    both = sorted(p.name for p in cache.glob("logmel-*"))
    assert len(both) == 2 and set(first) < set(both)

    (new,) = set(both) - set(first)
    assert json.loads((cache / new / "config.json").read_text())["n_mels"] == 40
    assert json.loads((cache / first[0] / "config.json").read_text())["n_mels"] == 64
    run_b = json.loads((tmp_path / "b" / "config.json").read_text())
    assert run_b["features"]["audio"]["n_mels"] == 40
    # The model was built for the 40-band features it was trained on.
    assert json.loads((tmp_path / "b" / "model.json").read_text())["config"]["n_mels"] == 40
