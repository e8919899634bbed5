"""Text models: `bilstm-text` (the paper's Bi-LSTM baseline) and `lstm-cnn-text` (its Bi-LSTM-CNN).

Batch keys, by `text_input`:

- "tokens" (default): `tokens` long (B, L), 0 = padding, 1 = OOV, ids < `vocab_size`;
  `token_lengths` long (B,). Tokens are embedded (`embed_dim`, learned from scratch).
- "embedding": `sentence_emb` float (B, `sentence_dim`=384), one all-MiniLM-L6-v2 vector per
  utterance. It is projected to `embed_dim` (Linear + tanh) and fed to the *same* encoder as a
  length-1 sequence, so the architecture, its fusion and its checkpoints do not change with
  the text input (with one step the Bi-LSTM acts as a gated MLP and the CNN sees one frame).
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import torch
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
from depscreen.models.layers import lengths_to_mask, masked_max_pool, pool_time, run_lstm
from depscreen.models.registry import register_model


@dataclasses.dataclass
class TextModelConfig(ModelConfig):
    """Fields shared by the text models (see the module docstring for `text_input`)."""

    vocab_size: int = 5000  # pass the real vocabulary size; larger ids raise at forward
    embed_dim: int = 100
    text_input: Literal["tokens", "embedding"] = "tokens"
    sentence_dim: int = 384  # all-MiniLM-L6-v2
    hidden_size: int = 64  # per direction
    num_layers: int = 1
    dropout: float = 0.3

    def validate(self) -> None:
        check(self.vocab_size >= 2, f"vocab_size={self.vocab_size} must be >= 2 (0=pad, 1=OOV)")
        check_positive(
            embed_dim=self.embed_dim,
            sentence_dim=self.sentence_dim,
            hidden_size=self.hidden_size,
        )
        check_layers(num_layers=self.num_layers)
        check_dropout("dropout", self.dropout)


@dataclasses.dataclass
class BiLSTMTextConfig(TextModelConfig):
    """`bilstm-text`: how the Bi-LSTM outputs become one vector."""

    pooling: Literal["last", "max", "mean"] = "last"  # last = final fwd + bwd states


@dataclasses.dataclass
class LSTMCNNTextConfig(TextModelConfig):
    """`lstm-cnn-text`: a 1-D convolution per kernel size over the Bi-LSTM outputs."""

    conv_channels: int = 64  # per kernel size
    kernel_sizes: tuple[int, ...] = (3,)

    def validate(self) -> None:
        super().validate()
        check_positive(conv_channels=self.conv_channels)
        check(len(self.kernel_sizes) >= 1, "kernel_sizes must list at least one kernel size")
        check_layers(kernel_sizes_count=len(self.kernel_sizes))
        for k in self.kernel_sizes:
            check(k >= 1, f"kernel_sizes entries must be >= 1, got {list(self.kernel_sizes)}")


class TextInput(nn.Module):
    """Batch -> a padded embedding sequence (B, L, embed_dim) and its lengths (B,)."""

    def __init__(self, config: TextModelConfig, model_name: str):
        super().__init__()
        self.mode = config.text_input
        self.vocab_size = config.vocab_size
        self.model_name = model_name
        if self.mode == "tokens":
            # padding_idx keeps the pad vector at zero (packing skips it anyway).
            self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        else:
            self.project = nn.Sequential(
                nn.Linear(config.sentence_dim, config.embed_dim), nn.Tanh()
            )

    @property
    def batch_keys(self) -> frozenset[str]:
        return frozenset({"tokens", "token_lengths"} if self.mode == "tokens" else {"sentence_emb"})

    def forward(self, batch: Batch) -> tuple[Tensor, Tensor]:
        if self.mode == "embedding":
            hint = " (text_input='embedding')"
            emb = require(batch, "sentence_emb", self.model_name, hint)  # (B, 384)
            x = self.project(emb)[:, None, :]  # (B, 1, E)
            return x, torch.ones(x.size(0), dtype=torch.long, device=x.device)
        hint = " (text_input='tokens')"
        tokens = require(batch, "tokens", self.model_name, hint)  # (B, L)
        lengths = require(batch, "token_lengths", self.model_name, hint)  # (B,)
        if tokens.numel() and (int(tokens.max()) >= self.vocab_size or int(tokens.min()) < 0):
            raise ConfigError(
                f"model '{self.model_name}': token ids range over [{int(tokens.min())}, "
                f"{int(tokens.max())}] but vocab_size={self.vocab_size}; build the model "
                "with the vocabulary's size"
            )
        return self.embedding(tokens), lengths  # (B, L, E), (B,)


class _TextModel(DepressionModel):
    """Embedding (or sentence-embedding projection) followed by a Bi-LSTM."""

    modalities = frozenset({"text"})
    config: TextModelConfig

    def __init__(self, config: TextModelConfig):
        super().__init__(config)
        self.input = TextInput(config, self.model_name)
        self.dropout = nn.Dropout(config.dropout)
        self.lstm = nn.LSTM(
            config.embed_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            batch_first=True,
            bidirectional=True,
            # nn.LSTM's dropout acts between layers only; it warns when there is one layer.
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )

    @property
    def batch_keys(self) -> frozenset[str]:
        return self.input.batch_keys

    def encode_sequence(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        """Bi-LSTM outputs (B, L, 2H) (zero past each length), final states (B, 2H), lengths."""
        x, lengths = self.input(batch)  # (B, L, E), (B,)
        out, last = run_lstm(self.lstm, self.dropout(x), lengths)  # (B, L, 2H), (B, 2H)
        return out, last, lengths


@register_model("bilstm-text")
class BiLSTMText(_TextModel):
    """Embedding -> Bi-LSTM -> final states (or masked max/mean pooling) -> dropout -> FC."""

    config_cls = BiLSTMTextConfig
    config: BiLSTMTextConfig

    def __init__(self, config: BiLSTMTextConfig):
        super().__init__(config)
        self.feature_dim = 2 * config.hidden_size
        self.head = make_head(self.feature_dim, config.dropout)

    def forward_features(self, batch: Batch) -> Tensor:
        out, last, lengths = self.encode_sequence(batch)  # (B, L, 2H), (B, 2H), (B,)
        return pool_time(out, lengths, self.config.pooling, last)  # (B, 2H)


@register_model("lstm-cnn-text")
class LSTMCNNText(_TextModel):
    """The paper's text branch, Bi-LSTM-CNN.

    Embedding -> Bi-LSTM (context of each word) -> 1-D convolution + ReLU (local patterns over
    the Bi-LSTM outputs) -> max-pooling over time (masked) -> dropout -> fully connected.
    The softmax is left to the loss / `predict_proba`.
    """

    config_cls = LSTMCNNTextConfig
    config: LSTMCNNTextConfig

    def __init__(self, config: LSTMCNNTextConfig):
        super().__init__(config)
        # padding="same" keeps one output per word, so lengths stay valid and even one
        # word works; steps past a length are zero, exactly like the conv's own padding.
        self.convs = nn.ModuleList(
            nn.Conv1d(2 * config.hidden_size, config.conv_channels, k, padding="same")
            for k in config.kernel_sizes
        )
        self.feature_dim = config.conv_channels * len(config.kernel_sizes)
        self.head = make_head(self.feature_dim, config.dropout)

    def forward_features(self, batch: Batch) -> Tensor:
        out, _, lengths = self.encode_sequence(batch)  # (B, L, 2H)
        h = self.dropout(out).transpose(1, 2)  # (B, 2H, L)
        mask = lengths_to_mask(lengths, h.size(2))  # (B, L)
        pooled = [
            masked_max_pool(torch.relu(conv(h)).transpose(1, 2), mask)  # (B, C)
            for conv in self.convs
        ]
        return torch.cat(pooled, dim=-1)  # (B, C * n_kernels)
