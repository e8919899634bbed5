"""What every model shares: a validated config dataclass and the `DepressionModel` interface.

A model is built from one config dataclass (nanoGPT style) that is validated on creation, so a
typo or an impossible value fails at `create_model` with a `ConfigError` rather than deep inside
a forward pass. The config travels with the model (`model.config_dict()`), so a checkpoint can
rebuild exactly the architecture its weights belong to.

The forward pass is split timm-style into `forward_features` (the encoder, `(B, D)`) and
`forward_head` (the classifier, `(B, 2)` logits), so the fusion models reuse the single-modal
encoders unchanged.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self

import torch
from torch import Tensor, nn

from depscreen.corpora.records import MODALITIES as MODALITIES  # re-exported
from depscreen.errors import ConfigError

NUM_CLASSES = 2  # healthy (0) / depressed (1)
# What a model is trained to output: the binary screen (PHQ-8 >= 10), the PHQ-8 total (0-24),
# both, or the eight PHQ-8 items (0-3 each, summing to the total).
TASKS = ("binary", "regression", "multitask", "items")
SCORE_OUTPUTS = {"binary": 0, "regression": 1, "multitask": 1, "items": 8}
PHQ8_MAX = 24.0
ITEM_MAX = 3.0
Batch = Mapping[str, Tensor]


# --------------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------------


def _type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _coerce(name: str, value: Any, hint: Any) -> Any:
    """Checks `value` against the annotation `hint`; returns it normalised (list -> tuple...)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{name}={value!r} is not one of {list(args)}")
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(name, value, arg)
            except ConfigError:
                pass
        raise ConfigError(f"{name}={value!r} should be {_type_name(hint)}")
    if origin is tuple:  # only tuple[X, ...] is used
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{name}={value!r} should be a list of {_type_name(args[0])}")
        return tuple(_coerce(f"{name}[{i}]", v, args[0]) for i, v in enumerate(value))
    if origin is dict or hint is dict:
        if isinstance(value, ModelConfig):
            return value.to_dict()
        if not isinstance(value, Mapping):
            raise ConfigError(f"{name}={value!r} should be a mapping of config keys")
        return dict(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}={value!r} should be true or false")
        return value
    if hint is int:
        # bool is an int in Python; `hidden_size=True` is a mistake, not 1.
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}={value!r} should be an integer")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name}={value!r} should be a number")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}={value!r} should be a string")
        return value
    raise TypeError(f"unsupported config annotation {hint!r} for {name}")  # a bug, not user input


@dataclasses.dataclass
class ModelConfig:
    """Base of every model config: type-checked and normalised on creation, then `validate()`d.

    Subclasses declare fields with defaults and override `validate` for range checks.
    Values must be JSON types (numbers, strings, bools, lists, dicts) so that
    `Config.from_dict(json.loads(json.dumps(cfg.to_dict())))` rebuilds an equal config.
    """

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):
            setattr(self, f.name, _coerce(f.name, getattr(self, f.name), hints[f.name]))
        self.validate()

    def validate(self) -> None:
        """Range and consistency checks; raise `ConfigError` with an actionable message."""

    @classmethod
    def from_dict(cls, config: Mapping[str, Any] | None = None) -> Self:
        """Builds the config from keyword values; an unknown key raises `ConfigError`."""
        config = dict(config or {})
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise ConfigError(f"unknown config key(s) {unknown}; valid keys are {known}")
        return cls(**config)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict (tuples become lists) that `from_dict` accepts."""

        def plain(v: Any) -> Any:
            if isinstance(v, tuple | list):
                return [plain(x) for x in v]
            if isinstance(v, dict):
                return {k: plain(x) for k, x in v.items()}
            return v

        return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def check(condition: bool, message: str) -> None:
    """Raises `ConfigError(message)` unless `condition` holds (for `validate` methods)."""
    if not condition:
        raise ConfigError(message)


def check_dropout(name: str, p: float) -> None:
    check(0.0 <= p < 1.0, f"{name}={p} must be in [0, 1)")


def check_positive(**values: int) -> None:
    for name, v in values.items():
        check(v >= 1, f"{name}={v} must be >= 1")


# Layer counts (stacked recurrent layers, parallel convolutions) a config may ask for:
# building a model is a Python loop per layer, so a forged bundle asking for 2**40 layers
# would hang before its size could be compared with its weights.
MAX_LAYERS = 64


def check_layers(**values: int) -> None:
    for name, v in values.items():
        check(1 <= v <= MAX_LAYERS, f"{name}={v} must be from 1 to {MAX_LAYERS}")


# --------------------------------------------------------------------------------------------
# Model interface
# --------------------------------------------------------------------------------------------


def require(batch: Batch, key: str, model: str, hint: str = "") -> Tensor:
    """`batch[key]`, or a `ConfigError` saying which model needs it and what the batch holds."""
    if key not in batch:
        raise ConfigError(
            f"model '{model}' needs batch key '{key}'{hint}; the batch has {sorted(batch)}"
        )
    return batch[key]


def make_head(feature_dim: int, dropout: float) -> nn.Sequential:
    """The classifier every single-modal model ends with: dropout + one fully connected layer.

    It outputs logits; the softmax of the paper is applied by the loss (cross-entropy) and by
    `predict_proba`, which is numerically safer than a softmax layer inside the model.
    """
    return nn.Sequential(nn.Dropout(dropout), nn.Linear(feature_dim, NUM_CLASSES))


class DepressionModel(nn.Module):
    """Interface of every registered model.

    Subclasses set `config_cls` and `modalities` (class attributes), `feature_dim` and `head`
    (in `__init__`), and implement `forward_features`. `model_name` is set by `register_model`.
    """

    # What the model is, declared here and read through the registry (`model_info`), so that
    # nothing outside models/ needs to know a model by its name.
    config_cls: ClassVar[type[ModelConfig]]
    modalities: ClassVar[frozenset[str]]
    model_name: ClassVar[str] = ""
    # How its modalities meet: None (single-modal), "feature" (one network over both) or
    # "decision" (per-modality classifiers combined after scoring; it can answer with one).
    fusion: ClassVar[str | None] = None
    # True when the model fits its own calibration on dev and keeps it in its weights, so
    # the run adds no Platt scaling on top.
    carries_calibration: ClassVar[bool] = False
    # The tasks it can be trained for (TASKS): a score head on the encoder's features for
    # the regression tasks (`set_task`).
    heads: ClassVar[tuple[str, ...]] = TASKS
    # Finished runs of these registered models can initialise its branches before training
    # (`init_from`, {modality: model name}); empty when it cannot be warm-started.
    warm_start_from: ClassVar[dict[str, str]] = {}
    # How the model is fitted: "gradient" (Lightning, epochs, best checkpoint on dev),
    # "closed-form" (a classical model: `fit_closed_form` on train, its C chosen on dev) or
    # "decision" (one sub-run per modality, then a combiner fitted on dev).
    fitting: ClassVar[str] = "gradient"
    # The representations it reads unless the run says otherwise (`--speech-features`,
    # `--text-features`, `--feature-norm`); see `feature_defaults`.
    default_features: ClassVar[dict[str, str]] = {
        "speech": "logmel", "text": "tokens", "norm": "session"}

    @classmethod
    def feature_defaults(cls, model_config: Mapping[str, Any]) -> dict[str, str]:
        """The default representations for a run of this model with `model_config`."""
        return dict(cls.default_features)

    @classmethod
    def info(cls) -> dict[str, Any]:
        """What the model declares about itself (JSON types), for `model_info`."""
        return {"name": cls.model_name, "modalities": sorted(cls.modalities),
                "fusion": cls.fusion, "fitting": cls.fitting,
                "carries_calibration": cls.carries_calibration, "heads": list(cls.heads),
                "warm_start_from": dict(cls.warm_start_from),
                "default_features": cls.feature_defaults({})}

    feature_dim: int
    head: nn.Module

    def __init__(self, config: ModelConfig):
        super().__init__()
        if not isinstance(config, self.config_cls):
            raise TypeError(f"{type(self).__name__} needs a {self.config_cls.__name__}")
        self.config = config

    def forward_features(self, batch: Batch) -> Tensor:
        """The encoder: batch -> (B, feature_dim)."""
        raise NotImplementedError

    def forward_head(self, features: Tensor) -> Tensor:
        """The classifier: (B, feature_dim) -> (B, 2) logits."""
        return self.head(features)

    def forward(self, batch: Batch) -> Tensor:
        """Batch -> (B, 2) logits (class 1 = depressed)."""
        return self.forward_head(self.forward_features(batch))

    @torch.no_grad()
    def predict_proba(self, batch: Batch) -> Tensor:
        """(B,) probability of class 1 (depressed). Does not change train/eval mode."""
        return torch.softmax(self.forward(batch), dim=-1)[:, 1]

    task: str = "binary"

    @classmethod
    def check_task(cls, task: str) -> str:
        """`task`, or a ConfigError when the model has no head for it."""
        if task not in cls.heads:
            raise ConfigError(f"model '{cls.model_name}' cannot be trained for --task {task} "
                              f"(it has {', '.join(cls.heads)})")
        return task

    def set_task(self, task: str) -> None:
        """Adds the score head `task` needs: PHQ-8 total (regression, multitask) or the eight
        items, a linear layer on `forward_features` read through a sigmoid (bounded output)."""
        self.task = self.check_task(task)
        n = SCORE_OUTPUTS[task]
        if n:
            self.score_head = nn.Linear(self.feature_dim, n)

    def score_logits(self, features: Tensor) -> Tensor:
        """The score head's output before the sigmoid, (B, 1) or (B, 8)."""
        return self.score_head(features)

    def scores_from_logits(self, z: Tensor) -> Tensor:
        """(B,) PHQ-8 totals in [0, 24] from `score_logits` (items: the sum of eight 0-3)."""
        if self.task == "items":
            return (torch.sigmoid(z) * ITEM_MAX).sum(-1)
        return torch.sigmoid(z[:, 0]) * PHQ8_MAX

    @torch.no_grad()
    def predict_score(self, batch: Batch) -> Tensor:
        """(B,) estimated PHQ-8 total, in [0, 24]."""
        return self.scores_from_logits(self.score_logits(self.forward_features(batch)))

    @torch.no_grad()
    def predict_items(self, batch: Batch) -> Tensor:
        """(B, 8) estimated PHQ-8 items, each in [0, 3] (task "items" only)."""
        return torch.sigmoid(self.score_logits(self.forward_features(batch))) * ITEM_MAX

    def reset_head(self) -> None:
        """Drops the classifier so `forward` returns features (used by feature-level fusion)."""
        self.head = nn.Identity()

    @property
    def batch_keys(self) -> frozenset[str]:
        """The batch keys `forward` reads (besides `label`)."""
        raise NotImplementedError

    def config_dict(self) -> dict[str, Any]:
        """JSON-serialisable config: `create_model(model.model_name, **model.config_dict())`."""
        return self.config.to_dict()

    def num_parameters(self, trainable_only: bool = True) -> int:
        """Number of (trainable) parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)
