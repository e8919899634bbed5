"""What the fusion models share: a text model and a speech model, and which samples have each.

Every fusion model holds one registered text model and one registered speech model (by default
the paper's branches, `lstm-cnn-text` and `lstm-cnn-speech`), built from the `text={...}` /
`speech={...}` sub-configs, so they are the very classes the single-modal experiments train.

Batch keys: those of both sub-models (e.g. `tokens`, `token_lengths`, `mel`, `mel_lengths`),
plus optional per-sample bool masks `has_text` / `has_speech` (B,). A sample whose text
(speech) is absent — mask False or length 0 — contributes no text (speech) evidence
(`modality_present`); each fusion module says what it does instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from depscreen.errors import ConfigError
from depscreen.models.base import Batch, DepressionModel, ModelConfig
from depscreen.models.registry import list_models, model_class, validate_config

# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class PairConfig(ModelConfig):
    """A text model and a speech model, by registry name, with their configs.

    After validation `text` / `speech` hold the sub-models' *full* configs (defaults filled
    in), so a saved config rebuilds the same architecture even if defaults change later.
    """

    text_model: str = "lstm-cnn-text"
    speech_model: str = "lstm-cnn-speech"
    text: dict[str, Any] = dataclasses.field(default_factory=dict)
    speech: dict[str, Any] = dataclasses.field(default_factory=dict)

    def validate(self) -> None:
        for modality in ("text", "speech"):
            name = getattr(self, f"{modality}_model")
            try:
                cls = model_class(name)
            except ConfigError as e:
                raise ConfigError(f"{modality}_model: {e.reason}") from None
            if cls.modalities != frozenset({modality}):
                fitting = [n for n in list_models() if model_class(n).modalities == {modality}]
                raise ConfigError(
                    f"{modality}_model='{name}' is not a {modality}-only model; "
                    f"choose one of {fitting}"
                )
            try:
                setattr(self, modality, validate_config(name, getattr(self, modality)))
            except ConfigError as e:
                raise ConfigError(f"{modality}: {e.reason}") from None


def pair_feature_defaults(config_cls: type[PairConfig], model_config: dict) -> dict[str, str]:
    """A pair model reads what its branches read: text from the text model, speech (and its
    normalisation) from the speech model."""
    names = {m: model_config.get(f"{m}_model") or getattr(config_cls, f"{m}_model")
             for m in ("text", "speech")}
    text = model_class(names["text"]).feature_defaults(model_config.get("text") or {})
    speech = model_class(names["speech"]).feature_defaults(model_config.get("speech") or {})
    return {"text": text["text"], "speech": speech["speech"], "norm": speech["norm"]}


# --------------------------------------------------------------------------------------------
# Presence of a modality
# --------------------------------------------------------------------------------------------

_LENGTH_KEY = {"tokens": "token_lengths", "mel": "mel_lengths"}


def _keys_present(batch: Batch, model: DepressionModel) -> bool:
    return all(k in batch for k in model.batch_keys)


def _batch_size(batch: Batch) -> tuple[int, torch.device]:
    for v in batch.values():
        if isinstance(v, Tensor) and v.dim() >= 1:
            return v.size(0), v.device
    raise ConfigError("empty batch: no tensors to take the batch size from")


def modality_present(batch: Batch, modality: str, model: DepressionModel) -> Tensor:
    """(B,) bool: samples that have `modality` (its keys, `has_<modality>`, length > 0)."""
    B, device = _batch_size(batch)
    if not _keys_present(batch, model):
        return torch.zeros(B, dtype=torch.bool, device=device)
    present = torch.ones(B, dtype=torch.bool, device=device)
    mask = batch.get(f"has_{modality}")
    if mask is not None:
        present = present & mask.to(device=device, dtype=torch.bool)
    for key in model.batch_keys:
        if key in _LENGTH_KEY:
            present = present & (batch[_LENGTH_KEY[key]] > 0)
    return present
