"""`bilstm-cnn-fusion`: the paper's feature-level fusion of text and speech, trained end to end.

It holds a registered text model and speech model (models/pair.py) with their heads removed,
projects each one's features to a common dimension and classifies their concatenation. It
needs both modalities' keys in the batch; a sample whose text (speech) is absent gets that
branch's projected features zeroed, which modality dropout trains it for. After training,
`fit_text_balance` sets the text branch's share of the logit and a temperature on dev
(models/calibration.py).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import torch
from torch import Tensor, nn

from depscreen.errors import ConfigError
from depscreen.models.base import (
    Batch,
    DepressionModel,
    check,
    check_dropout,
    check_positive,
    make_head,
)
from depscreen.models.calibration import TextBalanceResult, search_text_balance
from depscreen.models.pair import PairConfig, modality_present, pair_feature_defaults
from depscreen.models.registry import create_model, register_model


@dataclasses.dataclass
class FeatureFusionConfig(PairConfig):
    """`bilstm-cnn-fusion`: each encoder's features -> Linear + activation -> concat -> FC."""

    fusion_dim: int = 64  # common dimension each modality is projected to
    activation: Literal["relu", "elu", "tanh"] = "relu"
    dropout: float = 0.3  # before the classifier
    modality_dropout: float = 0.0  # training only: per sample, zero one branch with this prob.
    # After training, scale the text branch's share of the logit by a factor chosen on dev
    # (participant level), or keep the trained balance ("none"). See `fit_text_balance`.
    balance: Literal["participant", "none"] = "participant"
    # Training only: each branch also gets its own classifier and loss, weighted by this, so
    # the branch that is surer per utterance (speech) does not stop the other from learning
    # (modality competition); 0 trains the fused output alone, as the paper describes.
    branch_loss_weight: float = 1.0

    def validate(self) -> None:
        super().validate()
        check_positive(fusion_dim=self.fusion_dim)
        check_dropout("dropout", self.dropout)
        check(self.branch_loss_weight >= 0, "branch_loss_weight must be >= 0")
        check(
            0.0 <= self.modality_dropout <= 1.0,
            f"modality_dropout={self.modality_dropout} must be in [0, 1]",
        )


_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh}


@register_model("bilstm-cnn-fusion")
class BiLSTMCNNFusion(DepressionModel):
    """The paper's cross-modal Bi-LSTM-CNN: feature-level fusion trained end to end.

    text encoder (B, Dt) -> Linear + act -> (B, F) ┐
                                                    ├ concat (B, 2F) -> dropout -> FC -> (B, 2)
    speech encoder (B, Ds) -> Linear + act -> (B, F) ┘

    The projections align the two feature spaces before fusion. The encoders are the
    registered single-modal models with their heads removed (`.text_encoder`,
    `.speech_encoder`); `init_encoders_from` can start them from trained single-modal models.
    """

    config_cls = FeatureFusionConfig

    @classmethod
    def feature_defaults(cls, model_config):
        return pair_feature_defaults(cls.config_cls, model_config)
    modalities = frozenset({"text", "speech"})
    fusion = "feature"
    # Its branches are these models' encoders (init_encoders_from).
    warm_start_from = {"text": "lstm-cnn-text", "speech": "lstm-cnn-speech"}
    config: FeatureFusionConfig

    def __init__(self, config: FeatureFusionConfig):
        super().__init__(config)
        self.text_encoder = create_model(config.text_model, **config.text)
        self.speech_encoder = create_model(config.speech_model, **config.speech)
        self.text_encoder.reset_head()  # unused heads would sit untrained in checkpoints
        self.speech_encoder.reset_head()
        act = _ACTIVATIONS[config.activation]
        self.text_proj = nn.Sequential(
            nn.Linear(self.text_encoder.feature_dim, config.fusion_dim), act()
        )
        self.speech_proj = nn.Sequential(
            nn.Linear(self.speech_encoder.feature_dim, config.fusion_dim), act()
        )
        self.feature_dim = 2 * config.fusion_dim
        self.head = make_head(self.feature_dim, config.dropout)
        # Per-branch classifiers for the branch losses (training only; `forward` ignores them).
        self.text_branch_head = make_head(config.fusion_dim, config.dropout)
        self.speech_branch_head = make_head(config.fusion_dim, config.dropout)
        # Factor on the text features before the (linear) head, i.e. on the text branch's
        # share of the logit; 1 while training, then chosen on dev (`fit_text_balance`).
        self.register_buffer("text_balance", torch.tensor(1.0))
        self.register_buffer("temperature", torch.tensor(1.0))  # logits / t; idem

    @property
    def batch_keys(self) -> frozenset[str]:
        return self.text_encoder.batch_keys | self.speech_encoder.batch_keys

    def forward_head(self, features: Tensor) -> Tensor:
        F = self.config.fusion_dim
        scale = torch.ones_like(features[0])
        scale[:F] = self.text_balance
        return self.head(features * scale) / self.temperature

    def branch_logits(self, batch: Batch, features: Tensor) -> list[tuple[Tensor, Tensor]]:
        """Training only: [(text logits (B, 2), text present (B,)), (speech ..., ...)] from
        the fused `features`, for the branch losses (`config.branch_loss_weight`)."""
        F = self.config.fusion_dim
        return [
            (self.text_branch_head(features[:, :F]),
             modality_present(batch, "text", self.text_encoder)),
            (self.speech_branch_head(features[:, F:]),
             modality_present(batch, "speech", self.speech_encoder)),
        ]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Weights saved before the balance / branch heads existed load as trained (factor 1;
        # the branch heads are unused at inference).
        state_dict.setdefault(prefix + "text_balance", torch.tensor(1.0))
        state_dict.setdefault(prefix + "temperature", torch.tensor(1.0))
        for name in ("text_branch_head", "speech_branch_head"):
            for key, value in getattr(self, name).state_dict().items():
                state_dict.setdefault(f"{prefix}{name}.{key}", value)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def fit_text_balance(
        self, margin_with_text: Any, margin_without_text: Any, labels: Any, groups: Any
    ) -> TextBalanceResult:
        """Chooses, on dev, the text factor k and a temperature t whose participants' mean
        probability separates dev participants best (`participant_log_likelihood`); sets
        the buffers. Utterance-level ranking depends on k only.

        The head is linear, so a sample's log-odds at factor k is m0 + k (m1 - m0), where
        m1 / m0 are its log-odds with the text features at factor 1 / 0 (N,); the model then
        outputs (m0 + k (m1 - m0)) / t. Trained on utterances, the head weights each branch
        by how sure it is per utterance; speech is surer per utterance, but its errors repeat
        in every utterance of a person while the text evidence accumulates over an
        interview, so for screening people text is worth more than the utterance-trained
        head gives it; and a temperature t > 1 keeps single confident utterances from
        saturating the participant's mean probability. Grids: k = 2^(j/4), 1/4 <= k <= 32;
        t in 1, 2, ..., 32; ties go to the k closest to 1, then the smaller t.
        """
        result = search_text_balance(margin_with_text, margin_without_text, labels, groups)
        with torch.no_grad():
            self.text_balance.fill_(result.factor)
            self.temperature.fill_(result.temperature)
        return result

    def forward_features(self, batch: Batch) -> Tensor:
        t = self.text_proj(self.text_encoder.forward_features(batch))  # (B, F)
        s = self.speech_proj(self.speech_encoder.forward_features(batch))  # (B, F)
        keep_t = modality_present(batch, "text", self.text_encoder)  # (B,)
        keep_s = modality_present(batch, "speech", self.speech_encoder)  # (B,)
        p = self.config.modality_dropout
        if self.training and p > 0:
            # Per sample with prob. p, hide one of two present modalities (chosen at random),
            # so the classifier learns to use each alone (robustness to a missing one).
            drop = (torch.rand(t.size(0), device=t.device) < p) & keep_t & keep_s
            drop_text = drop & (torch.rand(t.size(0), device=t.device) < 0.5)
            keep_t = keep_t & ~drop_text
            keep_s = keep_s & ~(drop & ~drop_text)
        t = t * keep_t[:, None].to(t.dtype)
        s = s * keep_s[:, None].to(s.dtype)
        return torch.cat([t, s], dim=-1)  # (B, 2F)

    def init_encoders_from(
        self, text_model: DepressionModel | None = None, speech_model: DepressionModel | None = None
    ) -> None:
        """Copies encoder weights from trained single-modal models (their heads are ignored)."""
        for source, target in (
            (text_model, self.text_encoder),
            (speech_model, self.speech_encoder),
        ):
            if source is None:
                continue
            if (
                source.model_name != target.model_name
                or source.config_dict() != target.config_dict()
            ):
                raise ConfigError(
                    f"cannot initialise the fusion's '{target.model_name}' encoder from a "
                    f"'{source.model_name}' model with a different config"
                )
            # The encoder's weights only: not the source's classifier or score head.
            state = {k: v for k, v in source.state_dict().items()
                     if not k.startswith(("head.", "score_head."))}
            target.load_state_dict(state)
