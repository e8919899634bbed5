"""Fusion warm start: `init_from` copies the single-modal encoders into the fusion's branches."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from depscreen.errors import ConfigError
from depscreen.models import create_model
from depscreen.training.config import TrainConfig
from depscreen.training.data import build_data
from depscreen.training.run import _init_encoders, load_run_model


def test_init_from_is_for_the_fusion_model_only() -> None:
    with pytest.raises(ConfigError, match="init_from"):
        TrainConfig(model="lstm-cnn-text", init_from={"text": "somewhere"})
    with pytest.raises(ConfigError, match="init_from"):
        TrainConfig(model="bilstm-cnn-fusion", init_from={"video": "somewhere"})


def test_branches_start_from_the_single_modal_runs(tiny, trained_run: Callable[[str], Path]
                                                   ) -> None:
    runs = {m: trained_run(f"lstm-cnn-{m}") for m in ("text", "speech")}
    cfg = TrainConfig(model="bilstm-cnn-fusion", init_from={k: str(v) for k, v in runs.items()})
    data = build_data(tiny.corpus, cfg, tiny.cache_dir, progress=False)
    fusion = create_model(cfg.model, **data.model_kwargs(cfg))
    _init_encoders(fusion, cfg.init_from, data)
    for modality, encoder in (("text", fusion.text_encoder), ("speech", fusion.speech_encoder)):
        source = load_run_model(runs[modality])[0].state_dict()
        for key, value in encoder.state_dict().items():
            if not key.startswith("head."):
                assert torch.equal(value, source[key]), f"{modality}: {key} not copied"
