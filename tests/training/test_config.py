"""TrainConfig: profiles fill the gaps, and every invalid value names its field."""

from __future__ import annotations

import pytest

from depscreen.errors import ConfigError
from depscreen.training.config import TrainConfig


def test_profile_fills_unset_fields() -> None:
    single = TrainConfig(model="bilstm-text", profile="paper")
    fusion = TrainConfig(model="bilstm-cnn-fusion", profile="paper")
    # The paper: batch 30 single-modal, 50 fusion, 300 epochs.
    assert (single.batch_size, fusion.batch_size, single.max_epochs) == (30, 50, 300)
    fast = TrainConfig(model="cnn-speech", batch_size=7, max_epochs=2)
    assert (fast.profile, fast.batch_size, fast.max_epochs) == ("fast", 7, 2)
    assert fast.lr > 0 and fast.patience is not None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("batch_size", 0),
        ("max_epochs", 0),
        ("lr", 0.0),
        ("lr", -1e-3),
        ("weight_decay", -0.1),
        ("patience", 0),
        ("imbalance", "oversample"),
        ("monitor", "test_ua"),
        ("text_input", "characters"),
        ("devices", 0),
        ("model", "no-such-model"),
    ],
)
def test_invalid_value_names_the_field(field: str, value: object) -> None:
    kwargs = {"model": "bilstm-text", field: value}
    with pytest.raises(ConfigError) as info:
        TrainConfig(**kwargs)
    message = str(info.value)
    assert message.startswith("invalid training config:")
    assert field in message
    assert "\n" not in message


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="known models: .*lstm-cnn-text"):
        TrainConfig(model="no-such-model")


def test_unknown_profile() -> None:
    with pytest.raises(ConfigError, match=r"unknown profile 'quick'.*paper, fast"):
        TrainConfig(model="bilstm-text", profile="quick")


def test_from_dict_round_trip_and_unknown_keys() -> None:
    cfg = TrainConfig(model="lstm-speech", seed=3, audio={"n_mels": 40})
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ConfigError, match="unknown training config keys: bogus, epochs"):
        TrainConfig.from_dict({"model": "lstm-speech", "epochs": 3, "bogus": 1})
