"""Adding a model is one new module plus its registration; adding a representation likewise.

Both are defined here, in the test file (the README's worked examples, "Design"), and then go
through train -> evaluate -> export -> predict with no edit anywhere else in the package.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from conftest import SMOKE, Tiny
from torch import Tensor

from depscreen.evaluation.evaluate import evaluate_run
from depscreen.features.audio import LogMelConfig
from depscreen.features.representations import register_speech, sha_key
from depscreen.inference.bundle import export_bundle, load_model
from depscreen.inference.predict import predict_interview
from depscreen.models import list_models, model_info
from depscreen.models.base import Batch, DepressionModel, make_head
from depscreen.models.registry import register_model
from depscreen.models.text import TextInput, TextModelConfig
from depscreen.training.config import TrainConfig
from depscreen.training.run import train

# ----------------------------------------------------------------------------- a model


@dataclasses.dataclass
class MeanTextConfig(TextModelConfig):
    """`mean-text`: nothing beyond the text models' shared fields."""


@register_model("mean-text")
class MeanText(DepressionModel):
    """The mean of learned word embeddings, then the classifier."""

    config_cls = MeanTextConfig
    modalities = frozenset({"text"})

    def __init__(self, config: MeanTextConfig):
        super().__init__(config)
        self.input = TextInput(config, self.model_name)
        self.feature_dim = config.embed_dim
        self.head = make_head(self.feature_dim, config.dropout)

    @property
    def batch_keys(self) -> frozenset[str]:
        return self.input.batch_keys

    def forward_features(self, batch: Batch) -> Tensor:
        x, lengths = self.input(batch)  # (B, L, E), (B,)
        mask = torch.arange(x.shape[1], device=x.device)[None, :] < lengths[:, None]
        return (x * mask[..., None]).sum(1) / lengths.clamp(min=1)[:, None]


# ----------------------------------------------------------------------------- a representation


class EnergyRepresentation:
    """Log energy and zero-crossing rate per 25 ms frame (10 ms hop): two numbers a frame."""

    kind = "energy"
    parallel = False  # defined in a test module: computed in this process
    dim = 2

    def __init__(self, cfg: LogMelConfig):
        self.sample_rate = cfg.sample_rate

    def config(self) -> dict:
        return {"kind": self.kind, "sample_rate": self.sample_rate}

    def key(self) -> str:
        return sha_key(self.config())

    def frames_many(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        win, hop = self.sample_rate // 40, self.sample_rate // 100
        out = []
        for w in waves:
            n = max(0, 1 + (len(w) - win) // hop)
            frames = np.stack([w[i * hop: i * hop + win] for i in range(n)]) if n else \
                np.zeros((0, win), np.float32)
            energy = np.log(np.mean(frames**2, axis=1) + 1e-10)
            zcr = np.mean(np.abs(np.diff(np.sign(frames), axis=1)) > 0, axis=1)
            out.append(np.stack([energy, zcr], axis=1).astype(np.float32))
        return out


@register_speech("energy")
def _energy(cfg: LogMelConfig, path: str, options: dict) -> EnergyRepresentation:
    return EnergyRepresentation(cfg)


# ----------------------------------------------------------------------------- the checks


def _through_every_command(tiny: Tiny, tmp_path: Path, **train_options) -> dict:
    run = tmp_path / "run"
    train(tiny.prepared, TrainConfig(**{**SMOKE, **train_options}), run, progress=False)
    ev = evaluate_run(run, "test")
    assert 0.0 <= ev.metrics["participant"]["ua"] <= 1.0
    bundle = tmp_path / "model.dsb"
    export_bundle(run, bundle)
    session = tiny.corpus.by_split("test")[0]
    audio, transcript = session.audio, None
    transcript = tiny.root / f"{session.session_id}_P" / f"{session.session_id}_TRANSCRIPT.csv"
    return predict_interview(load_model(bundle), audio=audio, transcript=transcript)


def test_a_model_defined_in_one_file_runs_everywhere(tiny: Tiny, tmp_path: Path):
    assert "mean-text" in list_models()
    assert model_info("mean-text")["modalities"] == ["text"]
    result = _through_every_command(tiny, tmp_path, model="mean-text")
    assert 0.0 <= result["probability"] <= 1.0
    assert result["model"]["name"] == "mean-text"


def test_a_representation_defined_in_one_file_runs_everywhere(tiny: Tiny, tmp_path: Path):
    result = _through_every_command(tiny, tmp_path, model="lstm-speech", speech_features="energy")
    assert 0.0 <= result["probability"] <= 1.0
    assert result["modalities"]["speech"] is not None
    cfg = load_model(tmp_path / "model.dsb").choice
    assert cfg.speech == "energy"
