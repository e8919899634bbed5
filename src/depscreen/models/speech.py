"""Speech models over log-Mel frames: `lstm-speech`, `cnn-speech` and the paper's `lstm-cnn-speech`.

Batch keys: `mel` float (B, T, n_mels), log-Mel frames normalised per session and zero-padded
past each length; `mel_lengths` long (B,) valid frames.

The CNN is a stack of blocks `Conv2d(3x3) -> ELU -> max-pool (pool_time x pool_freq)` over
the log-Mel "image" (B, 1, T, n_mels). Each block divides time by `pool_time` (rounding up,
so lengths are tracked exactly and even one frame survives) and re-zeros the padding, so the
output for a recording never depends on how much padding its batch added. There is no batch
norm: its batch statistics would mix padding into the features.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

from torch import Tensor, nn

from depscreen.errors import ConfigError
from depscreen.models.base import (
    Batch,
    DepressionModel,
    ModelConfig,
    check,
    check_dropout,
    check_positive,
    make_head,
    require,
)
from depscreen.models.layers import (
    ensure_min_steps,
    lengths_to_mask,
    masked_pool2d,
    pool_time,
    run_lstm,
)
from depscreen.models.registry import register_model


@dataclasses.dataclass
class SpeechConfig(ModelConfig):
    """Fields shared by the speech models."""

    n_mels: int = 64
    dropout: float = 0.3

    def validate(self) -> None:
        check_positive(n_mels=self.n_mels)
        check_dropout("dropout", self.dropout)


@dataclasses.dataclass
class LSTMSpeechConfig(SpeechConfig):
    """`lstm-speech`: an LSTM straight over the log-Mel frames."""

    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    pooling: Literal["last", "max", "mean"] = "last"

    def validate(self) -> None:
        super().validate()
        check_positive(hidden_size=self.hidden_size, num_layers=self.num_layers)


@dataclasses.dataclass
class ConvSpeechConfig(SpeechConfig):
    """The 2-D CNN front end shared by `cnn-speech` and `lstm-cnn-speech`."""

    channels: tuple[int, ...] = (16, 32, 32)  # one conv block per entry
    kernel_size: int = 3  # odd, so "same" padding is symmetric
    pool_time: int = 2  # per block; time is divided by pool_time ** len(channels)
    pool_freq: int = 2  # per block

    def validate(self) -> None:
        super().validate()
        check(len(self.channels) >= 1, "channels must list at least one conv block")
        for c in self.channels:
            check(c >= 1, f"channels entries must be >= 1, got {list(self.channels)}")
        check(
            self.kernel_size >= 1 and self.kernel_size % 2 == 1,
            f"kernel_size={self.kernel_size} must be a positive odd number",
        )
        check_positive(pool_time=self.pool_time, pool_freq=self.pool_freq)
        reduction = self.pool_freq ** len(self.channels)
        check(
            self.n_mels >= reduction,
            f"n_mels={self.n_mels} is too small for {len(self.channels)} blocks pooling "
            f"frequency by {self.pool_freq} (needs >= {reduction}); use fewer channels "
            "entries or a smaller pool_freq",
        )


@dataclasses.dataclass
class CNNSpeechConfig(ConvSpeechConfig):
    """`cnn-speech`: the CNN, then global pooling over time."""

    pooling: Literal["max", "mean"] = "max"


@dataclasses.dataclass
class LSTMCNNSpeechConfig(ConvSpeechConfig):
    """`lstm-cnn-speech`: the CNN cascaded into an LSTM over the downsampled time axis."""

    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = False
    pooling: Literal["last", "max", "mean"] = "last"

    def validate(self) -> None:
        super().validate()
        check_positive(hidden_size=self.hidden_size, num_layers=self.num_layers)


class MelConvStack(nn.Module):
    """(B, T, n_mels) log-Mel + lengths -> (B, T', C * F') frame features + lengths T'."""

    def __init__(self, config: ConvSpeechConfig):
        super().__init__()
        self.pool_time = config.pool_time
        self.pool_freq = config.pool_freq
        ins = (1, *config.channels[:-1])
        self.convs = nn.ModuleList(
            nn.Conv2d(i, o, config.kernel_size, padding=config.kernel_size // 2)
            for i, o in zip(ins, config.channels, strict=True)
        )
        self.act = nn.ELU()  # the paper: ELU for the audio convolutions
        freq = config.n_mels
        for _ in config.channels:
            freq //= config.pool_freq
        self.out_dim = config.channels[-1] * freq
        self.time_reduction = config.pool_time ** len(config.channels)

    def forward(self, mel: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        mel = ensure_min_steps(mel)  # (B, T, F), T >= 1
        valid = lengths_to_mask(lengths, mel.size(1))[:, :, None]  # (B, T, 1)
        x = mel.masked_fill(~valid, 0.0)[:, None]  # (B, 1, T, F); padding must be zero
        for conv in self.convs:
            x = self.act(conv(x))  # (B, C, T, F)
            x, lengths = masked_pool2d(x, lengths, self.pool_time, self.pool_freq)
        B, C, T, F = x.shape  # (B, C, T', F')
        return x.permute(0, 2, 1, 3).reshape(B, T, C * F), lengths  # (B, T', C*F'), (B,)


def _mel_input(batch: Batch, n_mels: int, model_name: str) -> tuple[Tensor, Tensor]:
    mel = require(batch, "mel", model_name)  # (B, T, n_mels)
    lengths = require(batch, "mel_lengths", model_name)  # (B,)
    if mel.dim() != 3 or mel.size(-1) != n_mels:
        raise ConfigError(
            f"model '{model_name}' expects mel of shape (B, T, {n_mels}), got "
            f"{tuple(mel.shape)}; set n_mels to the feature extractor's"
        )
    return mel, lengths


class _SpeechModel(DepressionModel):
    modalities = frozenset({"speech"})
    batch_keys = frozenset({"mel", "mel_lengths"})
    config: SpeechConfig


def _lstm(input_size: int, config: LSTMSpeechConfig | LSTMCNNSpeechConfig) -> nn.LSTM:
    return nn.LSTM(
        input_size,
        config.hidden_size,
        num_layers=config.num_layers,
        batch_first=True,
        bidirectional=config.bidirectional,
        dropout=config.dropout if config.num_layers > 1 else 0.0,  # between layers only
    )


@register_model("lstm-speech")
class LSTMSpeech(_SpeechModel):
    """LSTM over the log-Mel frames -> final state (or masked pooling) -> dropout -> FC."""

    config_cls = LSTMSpeechConfig
    config: LSTMSpeechConfig

    def __init__(self, config: LSTMSpeechConfig):
        super().__init__(config)
        self.lstm = _lstm(config.n_mels, config)
        self.feature_dim = config.hidden_size * (2 if config.bidirectional else 1)
        self.head = make_head(self.feature_dim, config.dropout)

    def forward_features(self, batch: Batch) -> Tensor:
        mel, lengths = _mel_input(batch, self.config.n_mels, self.model_name)  # (B, T, n_mels)
        out, last = run_lstm(self.lstm, mel, lengths)  # (B, T, H*dirs), (B, H*dirs)
        return pool_time(out, lengths, self.config.pooling, last)  # (B, H*dirs)


@register_model("cnn-speech")
class CNNSpeech(_SpeechModel):
    """2-D CNN (ELU) over the log-Mel image -> masked global pooling over time -> FC."""

    config_cls = CNNSpeechConfig
    config: CNNSpeechConfig

    def __init__(self, config: CNNSpeechConfig):
        super().__init__(config)
        self.cnn = MelConvStack(config)
        self.feature_dim = self.cnn.out_dim
        self.head = make_head(self.feature_dim, config.dropout)

    def forward_features(self, batch: Batch) -> Tensor:
        mel, lengths = _mel_input(batch, self.config.n_mels, self.model_name)  # (B, T, n_mels)
        frames, lengths = self.cnn(mel, lengths)  # (B, T', C*F')
        return pool_time(frames, lengths, self.config.pooling)  # (B, C*F')


@register_model("lstm-cnn-speech")
class LSTMCNNSpeech(_SpeechModel):
    """The paper's speech branch: CNN (ELU) cascaded into an LSTM.

    The CNN captures local time-frequency patterns and shortens the sequence by
    `pool_time ** len(channels)`; the LSTM models the longer-term dynamics of the
    resulting frames; its final state (or masked pooling) feeds dropout -> FC.
    """

    config_cls = LSTMCNNSpeechConfig
    config: LSTMCNNSpeechConfig

    def __init__(self, config: LSTMCNNSpeechConfig):
        super().__init__(config)
        self.cnn = MelConvStack(config)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = _lstm(self.cnn.out_dim, config)
        self.feature_dim = config.hidden_size * (2 if config.bidirectional else 1)
        self.head = make_head(self.feature_dim, config.dropout)

    def forward_features(self, batch: Batch) -> Tensor:
        mel, lengths = _mel_input(batch, self.config.n_mels, self.model_name)  # (B, T, n_mels)
        frames, lengths = self.cnn(mel, lengths)  # (B, T', C*F'), (B,)
        out, last = run_lstm(self.lstm, self.dropout(frames), lengths)  # (B, T', H*dirs)
        return pool_time(out, lengths, self.config.pooling, last)  # (B, H*dirs)


def time_reduction(model: DepressionModel) -> int:
    """How many input frames make one CNN output frame (1 for models without a CNN)."""
    cnn = getattr(model, "cnn", None)
    return cnn.time_reduction if isinstance(cnn, MelConvStack) else 1
