"""Speech models over log-Mel frames: `lstm-speech`, `cnn-speech` and the paper's `lstm-cnn-speech`.

Batch keys: `mel` float (B, T, n_mels), log-Mel frames normalised per session and zero-padded
past each length; `mel_lengths` long (B,) valid frames.

The CNN is a stack of blocks `Conv2d(3x3, stride) -> max-pool (pool_time x pool_freq) -> ELU`
over the log-Mel "image" (B, 1, T, n_mels) (max-pool and ELU commute; pooling first is
cheaper). The default (16, 32, 32) channels downsample 4x in the first block (conv stride 2,
pool 2) and 2x in the second, so 10 ms frames become 80 ms steps and 64 mels 8 bands; the
costly wide layers see few pixels. Strides and pools round up, so lengths are tracked
exactly and even one frame survives, and padding never reaches a valid output, so the output
for a recording never depends on how much padding its batch added. There is no batch norm:
its batch statistics would mix padding into the features.

`lstm-speech` stacks 4 consecutive frames per LSTM step (40 ms, nothing averaged away).

Default sizes (n_mels=64) and trainable parameters: `lstm-speech` 82,562 (frame_stack 4,
hidden 64); `cnn-speech` 14,562; `lstm-cnn-speech` 96,610 (LSTM hidden 64 over 256 features).
Throughput on one CPU thread is ~600-2000 utterances/s (B=32, 3.5 s, forward + backward);
for utterances past ~5 s call `torch.set_flush_denormal(True)` when training, as the LSTM
gradients of the first steps can still become subnormal floats, which are very slow on x86.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from depscreen.errors import ConfigError
from depscreen.models.base import (
    Batch,
    DepressionModel,
    ModelConfig,
    check,
    check_dropout,
    check_layers,
    check_positive,
    make_head,
    require,
)
from depscreen.models.layers import (
    ceil_div,
    ensure_min_steps,
    fill_frames,
    lengths_to_mask,
    pool_time,
    run_lstm,
    stack_frames,
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
    """`lstm-speech`: an LSTM over the log-Mel frames, `frame_stack` frames per step.

    frame_stack: consecutive frames concatenated into one LSTM step (a low-frame-rate front
      end: 4 frames of 10 ms = one 40 ms step of 4 * n_mels values). Nothing is averaged
      away, the LSTM just takes 4x fewer steps, which makes it ~4x faster and its gradients
      4x shorter to travel; 1 = one step per frame.
    """

    frame_stack: int = 4
    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    pooling: Literal["last", "max", "mean"] = "last"

    def validate(self) -> None:
        super().validate()
        check_positive(frame_stack=self.frame_stack, hidden_size=self.hidden_size)
        check_layers(num_layers=self.num_layers)


@dataclasses.dataclass
class ConvSpeechConfig(SpeechConfig):
    """The 2-D CNN front end shared by `cnn-speech` and `lstm-cnn-speech`.

    One block per `channels` entry: Conv2d(kernel_size, stride) -> max-pool (pool_time x
    pool_freq) -> ELU. `stride`, `pool_time` and `pool_freq` list one value per block (a
    single number applies to every block). The conv stride acts on time and frequency alike.
    The default downsamples 4x in the first block (stride 2, then pool 2), where the image
    is largest, so the wider later layers see 16x fewer pixels; time and frequency shrink 8x
    in all (10 ms frames -> 80 ms LSTM steps; 64 mels -> 8 bands x 32 channels).
    """

    channels: tuple[int, ...] = (16, 32, 32)  # one conv block per entry
    kernel_size: int = 3  # odd, so "same" padding is symmetric
    stride: int | tuple[int, ...] = (2, 1, 1)
    pool_time: int | tuple[int, ...] = (2, 2, 1)
    pool_freq: int | tuple[int, ...] = (2, 2, 1)

    def validate(self) -> None:
        super().validate()
        n = len(self.channels)
        check(n >= 1, "channels must list at least one conv block")
        for c in self.channels:
            check(c >= 1, f"channels entries must be >= 1, got {list(self.channels)}")
        check(
            self.kernel_size >= 1 and self.kernel_size % 2 == 1,
            f"kernel_size={self.kernel_size} must be a positive odd number",
        )
        for name in ("stride", "pool_time", "pool_freq"):
            value = getattr(self, name)
            if isinstance(value, int):
                value = (value,) * n
                setattr(self, name, value)  # canonical form: one entry per block
            check(
                len(value) == n,
                f"{name}={list(value)} must have one entry per conv block ({n}, as channels)",
            )
            for v in value:
                check(v >= 1, f"{name} entries must be >= 1, got {list(value)}")
        reduction = math.prod(s * p for s, p in zip(self.stride, self.pool_freq, strict=True))
        check(
            self.n_mels >= reduction,
            f"n_mels={self.n_mels} is too small for conv strides {list(self.stride)} and "
            f"pool_freq {list(self.pool_freq)} (they divide frequency by {reduction}); use "
            "fewer blocks or smaller strides / pool_freq",
        )


@dataclasses.dataclass
class CNNSpeechConfig(ConvSpeechConfig):
    """`cnn-speech`: the CNN, then global pooling over time."""

    pooling: Literal["max", "mean"] = "max"


@dataclasses.dataclass
class LSTMCNNSpeechConfig(ConvSpeechConfig):
    """`lstm-cnn-speech`: the CNN cascaded into an LSTM over the downsampled time axis."""

    hidden_size: int = 64
    num_layers: int = 1
    bidirectional: bool = False
    pooling: Literal["last", "max", "mean"] = "last"

    def validate(self) -> None:
        super().validate()
        check_positive(hidden_size=self.hidden_size)
        check_layers(num_layers=self.num_layers)


def _ceil(n: int, k: int) -> int:
    return -(-n // k)


class MelConvStack(nn.Module):
    """(B, T, n_mels) log-Mel + lengths -> (B, T', F' * C) frame features + lengths T'.

    Each block is Conv2d -> masked max-pool -> ELU. Pooling before the ELU gives exactly
    ELU-then-pool (ELU is increasing, so it commutes with max) on 4x fewer values.
    Activations are kept channels-last, which oneDNN convolves and pools fastest on CPU.

    Padding never reaches a valid output: the input is zeroed past each length (as in an
    unpadded batch), a pooling window straddling a row's end sees -inf in its padded
    frames, and after each block the `kernel_size // 2` frames past each length that the
    next conv reads are zeroed again. Frames further out may hold junk, which only ever
    reaches outputs past the lengths; the output is zeroed there.
    """

    def __init__(self, config: ConvSpeechConfig):
        super().__init__()
        k = config.kernel_size
        ins = (1, *config.channels[:-1])
        self.convs = nn.ModuleList(
            nn.Conv2d(i, o, k, stride=s, padding=k // 2)
            for i, o, s in zip(ins, config.channels, config.stride, strict=True)
        )
        self.strides = tuple(config.stride)
        self.pools = tuple(zip(config.pool_time, config.pool_freq, strict=True))
        self.halo = k // 2  # frames past a length that a "same" conv reads
        self.act = nn.ELU()  # the paper: ELU for the audio convolutions
        freq = config.n_mels
        self.time_reduction = 1
        for s, (pt, pf) in zip(self.strides, self.pools, strict=True):
            freq = _ceil(_ceil(freq, s), pf)
            self.time_reduction *= s * pt
        self.out_dim = config.channels[-1] * freq

    def forward(self, mel: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        mel = ensure_min_steps(mel)  # (B, T, F), T >= 1
        lengths = lengths.clamp(min=0, max=mel.size(1))
        valid = lengths_to_mask(lengths, mel.size(1))[:, :, None]  # (B, T, 1)
        x = mel.masked_fill(~valid, 0.0)[:, None]  # (B, 1, T, F); padding must be zero
        # `.to` (not `.contiguous`, a no-op for C=1) sets channels-last strides, so that the
        # convs below output channels-last too.
        x = x.to(memory_format=torch.channels_last)
        last = len(self.convs) - 1
        for i, (conv, s, (pt, pf)) in enumerate(
            zip(self.convs, self.strides, self.pools, strict=True)
        ):
            x = conv(x)  # (B, C, ceil(T / s), ceil(F / s))
            lengths = ceil_div(lengths, s)
            if pt > 1:  # a window straddling a row's end must see only its valid frames
                # Untracked by autograd: a -inf never wins a window that holds a valid frame,
                # so the pool's backward gives these frames no gradient anyway.
                with torch.no_grad():
                    fill_frames(x, lengths, ceil_div(lengths, pt) * pt, -math.inf, inplace=True)
            if pt > 1 or pf > 1:
                x = F.max_pool2d(x, (pt, pf), ceil_mode=True)  # (B, C, ceil(T/pt), ...)
                lengths = ceil_div(lengths, pt)
            x = self.act(x)
            # Zero what the next conv reads past each length (all of the padding at the end).
            stop = lengths + self.halo if i < last else torch.full_like(lengths, x.size(2))
            x = fill_frames(x, lengths, stop, 0.0, inplace=True)
        B, C, T, Fq = x.shape  # (B, C, T', F'), stored as (B, T', F', C)
        return x.permute(0, 2, 3, 1).reshape(B, T, Fq * C), lengths  # (B, T', F'*C), (B,)


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
    """The speech LSTM, its forget-gate bias initialised to 1 (Keras' `unit_forget_bias`).

    With PyTorch's default init the forget gate starts near 0.5, so the gradient reaching a
    step n steps before the end shrinks like 0.5**n: past ~130 steps (5 s of 40 ms steps)
    it underflows into subnormal floats, which x86 CPUs process ~100x slower, and the early
    steps learn nothing anyway. A bias of 1 (gate ~0.73) keeps it representable and lets
    the LSTM learn from the whole utterance from the start (Jozefowicz et al., 2015).
    """
    lstm = nn.LSTM(
        input_size,
        config.hidden_size,
        num_layers=config.num_layers,
        batch_first=True,
        bidirectional=config.bidirectional,
        dropout=config.dropout if config.num_layers > 1 else 0.0,  # between layers only
    )
    H = config.hidden_size
    with torch.no_grad():
        for name, p in lstm.named_parameters():  # gates are stacked (input, forget, cell, output)
            if name.startswith("bias_ih"):
                p[H : 2 * H].fill_(1.0)
            elif name.startswith("bias_hh"):
                p[H : 2 * H].zero_()
    return lstm


@register_model("lstm-speech")
class LSTMSpeech(_SpeechModel):
    """LSTM over the log-Mel frames -> final state (or masked pooling) -> dropout -> FC.

    The frames are stacked `frame_stack` at a time (default 4: 40 ms steps of 4 x n_mels),
    see `LSTMSpeechConfig`.
    """

    config_cls = LSTMSpeechConfig
    config: LSTMSpeechConfig

    def __init__(self, config: LSTMSpeechConfig):
        super().__init__(config)
        self.lstm = _lstm(config.frame_stack * config.n_mels, config)
        self.feature_dim = config.hidden_size * (2 if config.bidirectional else 1)
        self.head = make_head(self.feature_dim, config.dropout)

    def forward_features(self, batch: Batch) -> Tensor:
        mel, lengths = _mel_input(batch, self.config.n_mels, self.model_name)  # (B, T, n_mels)
        mel = ensure_min_steps(mel)
        lengths = lengths.clamp(min=0, max=mel.size(1))
        if self.config.frame_stack > 1:  # the last step of a row is completed with zeros
            mel = mel.masked_fill(~lengths_to_mask(lengths, mel.size(1))[:, :, None], 0.0)
        steps, lengths = stack_frames(mel, lengths, self.config.frame_stack)  # (B, T/k, k*F)
        out, last = run_lstm(self.lstm, steps, lengths)  # (B, T/k, H*dirs), (B, H*dirs)
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
    """How many input frames make one step of the model's sequence (CNN output frame or
    stacked LSTM step); 1 for models that see every frame."""
    cnn = getattr(model, "cnn", None)
    if isinstance(cnn, MelConvStack):
        return cnn.time_reduction
    if isinstance(model, LSTMSpeech):
        return model.config.frame_stack
    return 1
