"""The model registry (timm style): `@register_model("name")`, `create_model`, `list_models`.

    @register_model("lstm-cnn-text")
    class LSTMCNNText(DepressionModel): ...

    model = create_model("lstm-cnn-text", vocab_size=2000, hidden_size=128)
    again = create_model(model.model_name, **model.config_dict())   # same architecture

A registered builder is a `DepressionModel` subclass; its `config_cls` validates the keyword
config, so `create_model` raises `ConfigError` for an unknown name, key or value.

The built-in models register themselves when `depscreen.models` imports their modules, and
importing this module imports that package first, so they are always listed here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from depscreen.errors import ConfigError
from depscreen.models.base import DepressionModel

_REGISTRY: dict[str, type[DepressionModel]] = {}


def register_model(
    name: str,
) -> Callable[[type[DepressionModel]], type[DepressionModel]]:
    """Class decorator registering a `DepressionModel` subclass under `name`."""

    def decorate(cls: type[DepressionModel]) -> type[DepressionModel]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"model name '{name}' is already registered")
        if not (isinstance(cls, type) and issubclass(cls, DepressionModel)):
            raise TypeError(f"@register_model('{name}') needs a DepressionModel subclass")
        cls.model_name = name
        _REGISTRY[name] = cls
        return cls

    return decorate


def list_models() -> list[str]:
    """The registered model names, sorted."""
    return sorted(_REGISTRY)


def model_class(name: str) -> type[DepressionModel]:
    """The class registered as `name`; `ConfigError` listing the known names otherwise."""
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model '{name}'; known models: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def model_info(name: str) -> dict[str, Any]:
    """What model `name` declares about itself: modalities, fusion ("feature", "decision" or
    None), fitting, whether it carries its own calibration, task heads, warm-start sources
    and default representations (see `DepressionModel`)."""
    return model_class(name).info()


def create_model(name: str, task: str = "binary", **config: Any) -> DepressionModel:
    """Builds the registered model `name` from keyword config (see its config dataclass),
    with the score head `task` needs (models/base.TASKS)."""
    cls = model_class(name)
    try:
        cfg = cls.config_cls.from_dict(config)
    except ConfigError as e:
        raise ConfigError(f"model '{name}': {e.reason}") from None
    model = cls(cfg)
    if task != "binary":
        model.set_task(task)
    return model


def validate_config(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The full config dict (defaults filled in) of model `name`, or a `ConfigError`."""
    cls = model_class(name)
    try:
        return cls.config_cls.from_dict(config).to_dict()
    except ConfigError as e:
        raise ConfigError(f"model '{name}': {e.reason}") from None
