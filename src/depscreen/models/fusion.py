"""Fusion of text and speech: the paper's feature-level `bilstm-cnn-fusion` and `decision-fusion`.

Both hold one registered text model and one registered speech model (by default the paper's
branches, `lstm-cnn-text` and `lstm-cnn-speech`), built from the `text={...}` / `speech={...}`
sub-configs, so they are the very classes the single-modal experiments train.

Batch keys: those of both sub-models (e.g. `tokens`, `token_lengths`, `mel`, `mel_lengths`),
plus optional per-sample bool masks `has_text` / `has_speech` (B,). A sample whose text
(speech) is absent — mask False or length 0 — contributes no text (speech) evidence:

- `bilstm-cnn-fusion` zeroes that branch's projected features (what modality dropout trains
  it for); it needs both modalities' keys in the batch.
- `decision-fusion` falls back to the other modality's calibrated probability, and also
  accepts a batch without one modality's keys at all.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any, Literal

import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score
from torch import Tensor, nn

from depscreen.errors import ConfigError, CorpusError
from depscreen.models.base import (
    Batch,
    DepressionModel,
    ModelConfig,
    check,
    check_dropout,
    check_positive,
    make_head,
)
from depscreen.models.registry import (
    create_model,
    list_models,
    model_class,
    register_model,
    validate_config,
)
from depscreen.stats.aggregate import aggregate_participants
from depscreen.stats.platt import class_weights, fit_platt

# --------------------------------------------------------------------------------------------
# Configs
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


@dataclasses.dataclass
class DecisionFusionConfig(PairConfig):
    """`decision-fusion`: how `fit_calibration` calibrates and picks the text weight w.

    criterion: what w maximises on dev. "log_likelihood" (default) is a proper score and
      varies smoothly with w, so it is less noisy on a small dev set than
      "balanced_accuracy", whose 0.5-threshold makes many w tie (ties are then broken by
      log-likelihood, then by closeness to 0.5).
    class_weight: "balanced" (default) weights each class equally in the Platt fits and in the
      criterion, so p = 0.5 is the threshold that balances the two recalls (UA, the paper's
      metric) rather than one tilted towards the majority (healthy) class; "none" gives
      probabilities calibrated to the dev split's class prior.
    weight_level: "participant" (default) judges w by the participants' mean fused
      probabilities (with `criterion` "log_likelihood": `participant_log_likelihood`);
      "utterance" judges it sample by sample. Per utterance the speech model is the surer
      one, but its errors are the same in every utterance of a person, while the text
      model's evidence accumulates over an interview: the utterance-level w under-weights
      text for screening people.
    """

    criterion: Literal["log_likelihood", "balanced_accuracy"] = "log_likelihood"
    class_weight: Literal["balanced", "none"] = "balanced"
    weight_step: float = 0.05  # grid 0, step, ..., 1
    # Where w is judged: on participants (their mean fused probability, what screening
    # reports) or on single utterances. See `participant_log_likelihood`.
    weight_level: Literal["participant", "utterance"] = "participant"

    def validate(self) -> None:
        super().validate()
        n = 1.0 / self.weight_step if self.weight_step > 0 else 0.0
        check(
            0.0 < self.weight_step <= 1.0 and abs(n - round(n)) < 1e-6,
            f"weight_step={self.weight_step} must divide 1 (e.g. 0.05, 0.1, 0.25)",
        )


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


# --------------------------------------------------------------------------------------------
# Feature-level fusion (the paper's model)
# --------------------------------------------------------------------------------------------

_ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "elu": nn.ELU, "tanh": nn.Tanh}


@dataclasses.dataclass(frozen=True)
class TextBalanceResult:
    """What `BiLSTMCNNFusion.fit_text_balance` chose on dev."""

    factor: float
    temperature: float
    score: float  # participant_log_likelihood at that factor and temperature
    n: int
    n_participants: int


def pair_feature_defaults(config_cls: type[PairConfig], model_config: dict) -> dict[str, str]:
    """A pair model reads what its branches read: text from the text model, speech (and its
    normalisation) from the speech model."""
    names = {m: model_config.get(f"{m}_model") or getattr(config_cls, f"{m}_model")
             for m in ("text", "speech")}
    text = model_class(names["text"]).feature_defaults(model_config.get("text") or {})
    speech = model_class(names["speech"]).feature_defaults(model_config.get("speech") or {})
    return {"text": text["text"], "speech": speech["speech"], "norm": speech["norm"]}


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
        m1 = _margins(margin_with_text, "margin_with_text")
        m0 = _margins(margin_without_text, "margin_without_text")
        y = _binary_labels(labels)
        if not (len(m1) == len(m0) == len(y) == len(groups)):
            raise ValueError("margins, labels and groups must have one entry per sample")
        best: tuple[float, float, float] | None = None
        factor, temperature, score = 1.0, 1.0, math.nan
        for j in range(-8, 21):
            k = 2.0 ** (j / 4)
            for t in (1.0, 2.0, 4.0, 8.0, 16.0, 32.0):
                ll = participant_log_likelihood(_sigmoid((m0 + k * (m1 - m0)) / t), y, groups)
                key = (round(ll, 9), -abs(j), -t)
                if best is None or key > best:
                    best, factor, temperature, score = key, k, t, ll
        with torch.no_grad():
            self.text_balance.fill_(factor)
            self.temperature.fill_(temperature)
        return TextBalanceResult(factor=factor, temperature=temperature, score=score, n=len(y),
                                 n_participants=len(set(np.asarray(groups).tolist())))

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
            state = {k: v for k, v in source.state_dict().items() if not k.startswith("head.")}
            target.load_state_dict(state)


# --------------------------------------------------------------------------------------------
# Decision-level fusion
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class CalibrationResult:
    """What `DecisionFusion.fit_calibration` fitted on dev, and on how many samples."""

    text_a: float
    text_b: float
    speech_a: float
    speech_b: float
    weight: float  # w in p = w * p_text + (1 - w) * p_speech
    criterion: str
    score: float  # the criterion at the chosen w (nan when no sample had both modalities)
    n_text: int
    n_speech: int
    n_both: int


def _margins(logits: Any, name: str) -> np.ndarray:
    """(N, 2) logits or (N,) log-odds -> (N,) log-odds as float64; NaN marks a missing row."""
    if isinstance(logits, Tensor):
        logits = logits.detach().cpu().double().numpy()
    arr = np.asarray(logits, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 2:
        return arr[:, 1] - arr[:, 0]
    if arr.ndim == 1:
        return arr
    raise ValueError(f"{name} must be (N, 2) logits or (N,) log-odds, got shape {arr.shape}")


def _binary_labels(labels: Any) -> np.ndarray:
    """(N,) labels (tensor or array-like) -> int64 array of 0/1; ValueError otherwise."""
    if isinstance(labels, Tensor):
        labels = labels.detach().cpu().numpy()
    y = np.asarray(labels).reshape(-1)
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 or 1")
    return y.astype(np.int64)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _log_likelihood(p: np.ndarray, y: np.ndarray, balanced: bool) -> float:
    """Mean (class-weighted) log-likelihood of labels y under probabilities p."""
    p = np.clip(p, 1e-7, 1 - 1e-7)
    cw = class_weights(y, balanced) if len(np.unique(y)) == 2 else np.ones(len(y))
    return float(np.average(np.where(y == 1, np.log(p), np.log1p(-p)), weights=cw))


def participant_log_likelihood(
    p: np.ndarray, y: np.ndarray, groups: Any, balanced: bool = True
) -> float:
    """How well the participants' mean probability separates them, as a log-likelihood.

    `p`, `y`, `groups`: per sample. Each participant's score is the log-odds of the mean of
    its samples' p (the default participant-level aggregation); a Platt fit on those scores
    (2 parameters, so only the ranking and spread matter, not the calibration) gives the
    mean (class-weighted) log-likelihood of the participants' labels. Smooth in the
    parameters being chosen, unlike AUC or balanced accuracy on a few dozen people.
    """
    people = aggregate_participants(groups, p, y, method="mean")
    mean_p = np.clip(people["prob"].to_numpy(), 1e-7, 1 - 1e-7)
    y_group = people["label"].to_numpy(dtype=np.int64)
    if len(np.unique(y_group)) < 2:
        raise CorpusError("cannot judge participants: dev has only one class of participant")
    z = np.log(mean_p) - np.log1p(-mean_p)
    a, b = fit_platt(z, y_group, balanced)
    return _log_likelihood(_sigmoid(a * z + b), y_group, balanced)


@register_model("decision-fusion")
class DecisionFusion(DepressionModel):
    """Decision-level fusion: one classifier per modality, calibrated, then aggregated.

    1. `.text_model` and `.speech_model` are trained separately (each is a complete
       registered model with its own `forward`).
    2. `fit_calibration` (or `calibrate` on dev batches) fits Platt scaling per modality and
       the text weight w on dev.
    3. p = w * p_text + (1 - w) * p_speech with the calibrated probabilities; a sample with
       one modality uses that modality's p alone; one with neither gets 0.5.

    Calibration lives in buffers (`platt_text` = [a, b], `platt_speech`, `fusion_weight`,
    `calibrated`), so it is saved with the state dict. Uncalibrated: a = 1, b = 0, w = 0.5.
    `forward_features` gives the two models' log-odds (B, 2) with NaN for an absent modality;
    `forward` gives [0, logit(p)] so the fused model looks like any other 2-class model.
    """

    config_cls = DecisionFusionConfig
    fitting = "decision"

    @classmethod
    def feature_defaults(cls, model_config):
        return pair_feature_defaults(cls.config_cls, model_config)
    modalities = frozenset({"text", "speech"})
    feature_dim = 2
    config: DecisionFusionConfig
    platt_text: Tensor
    platt_speech: Tensor
    fusion_weight: Tensor
    calibrated: Tensor

    def __init__(self, config: DecisionFusionConfig):
        super().__init__(config)
        self.text_model = create_model(config.text_model, **config.text)
        self.speech_model = create_model(config.speech_model, **config.speech)
        self.register_buffer("platt_text", torch.tensor([1.0, 0.0]))
        self.register_buffer("platt_speech", torch.tensor([1.0, 0.0]))
        self.register_buffer("fusion_weight", torch.tensor(0.5))
        self.register_buffer("calibrated", torch.tensor(False))
        self.head = nn.Identity()  # the aggregation in forward_head has no parameters

    @property
    def batch_keys(self) -> frozenset[str]:
        return self.text_model.batch_keys | self.speech_model.batch_keys

    def _model_margin(self, model: DepressionModel, batch: Batch, present: Tensor) -> Tensor:
        if not _keys_present(batch, model):
            return torch.full(present.shape, math.nan, device=present.device)
        logits = model(batch)  # (B, 2)
        margin = logits[:, 1] - logits[:, 0]  # (B,) log-odds
        return torch.where(present, margin, torch.full_like(margin, math.nan))

    def forward_features(self, batch: Batch) -> Tensor:
        """(B, 2): [text log-odds, speech log-odds], NaN where that modality is absent."""
        if not (_keys_present(batch, self.text_model) or _keys_present(batch, self.speech_model)):
            raise ConfigError(
                f"model 'decision-fusion' needs the keys of at least one modality "
                f"(text: {sorted(self.text_model.batch_keys)}, speech: "
                f"{sorted(self.speech_model.batch_keys)}); the batch has {sorted(batch)}"
            )
        z_text = self._model_margin(
            self.text_model, batch, modality_present(batch, "text", self.text_model)
        )
        z_speech = self._model_margin(
            self.speech_model, batch, modality_present(batch, "speech", self.speech_model)
        )
        return torch.stack([z_text, z_speech], dim=-1)  # (B, 2)

    def _probas(self, features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Calibrated p_text, p_speech (NaN where absent) and the fused p, each (B,)."""
        z_text, z_speech = features[:, 0], features[:, 1]  # (B,), (B,)
        has_t, has_s = ~torch.isnan(z_text), ~torch.isnan(z_speech)
        # Zero the NaNs before the arithmetic so no NaN reaches the gradients.
        p_t = torch.sigmoid(self.platt_text[0] * z_text.nan_to_num(0.0) + self.platt_text[1])
        p_s = torch.sigmoid(self.platt_speech[0] * z_speech.nan_to_num(0.0) + self.platt_speech[1])
        w = self.fusion_weight
        both = w * p_t + (1 - w) * p_s
        p = torch.where(has_t & has_s, both, torch.where(has_t, p_t, torch.where(has_s, p_s, 0.5)))
        nan = torch.full_like(p, math.nan)
        return torch.where(has_t, p_t, nan), torch.where(has_s, p_s, nan), p

    def forward_head(self, features: Tensor) -> Tensor:
        """(B, 2) per-modality log-odds -> (B, 2) logits [0, logit(p)] of the fused p."""
        p = self._probas(features)[2].clamp(1e-7, 1 - 1e-7)
        logit = torch.log(p) - torch.log1p(-p)  # (B,)
        return torch.stack([torch.zeros_like(logit), logit], dim=-1)

    @torch.no_grad()
    def predict_proba(self, batch: Batch) -> Tensor:
        """(B,) fused probability of depression, from whichever modalities each sample has."""
        return self._probas(self.forward_features(batch))[2]

    @torch.no_grad()
    def modality_probas(self, batch: Batch) -> dict[str, Tensor]:
        """{"text", "speech", "fused"} -> (B,) calibrated probabilities (NaN where absent)."""
        p_t, p_s, p = self._probas(self.forward_features(batch))
        return {"text": p_t, "speech": p_s, "fused": p}

    def fit_calibration(
        self, text_logits: Any, speech_logits: Any, labels: Any, groups: Any = None
    ) -> CalibrationResult:
        """Fits Platt scaling per modality and the weight w on dev outputs; sets the buffers.

        `text_logits` / `speech_logits`: (N, 2) logits or (N,) log-odds of the separately
        trained models on the same N dev samples, NaN for a sample lacking that modality;
        `labels`: (N,) 0/1; `groups`: (N,) participant ids, needed when
        `config.weight_level` is "participant". Each modality's Platt fit uses its own
        samples; w is chosen on samples with both by `config.criterion` (stays 0.5 if there
        are none), judged per participant or per sample (`config.weight_level`).
        """
        z_t = _margins(text_logits, "text_logits")
        z_s = _margins(speech_logits, "speech_logits")
        y = _binary_labels(labels)
        if not (len(z_t) == len(z_s) == len(y)):
            raise ValueError(f"lengths differ: text {len(z_t)}, speech {len(z_s)}, labels {len(y)}")
        balanced = self.config.class_weight == "balanced"

        params = {}
        for name, z in (("text", z_t), ("speech", z_s)):
            ok = ~np.isnan(z)
            if len(np.unique(y[ok])) < 2:
                raise CorpusError(
                    f"cannot calibrate the {name} model: its {int(ok.sum())} dev samples "
                    "do not include both classes"
                )
            params[name] = fit_platt(z[ok], y[ok], balanced)

        both = ~np.isnan(z_t) & ~np.isnan(z_s)
        weight, score = 0.5, math.nan
        if both.any():
            yb = y[both]
            p_t = _sigmoid(params["text"][0] * z_t[both] + params["text"][1])
            p_s = _sigmoid(params["speech"][0] * z_s[both] + params["speech"][1])
            per_participant = self.config.weight_level == "participant"
            if per_participant:
                if groups is None:
                    raise ValueError("weight_level='participant' needs the samples' groups")
                gb = np.asarray(groups)[both]
            n = round(1.0 / self.config.weight_step)
            best: tuple[float, float, float] | None = None
            for w in np.linspace(0.0, 1.0, n + 1):
                p = np.clip(w * p_t + (1 - w) * p_s, 1e-7, 1 - 1e-7)
                if per_participant:
                    ll = participant_log_likelihood(p, yb, gb, balanced)
                else:
                    ll = _log_likelihood(p, yb, balanced)
                if self.config.criterion == "balanced_accuracy":
                    crit = float(balanced_accuracy_score(yb, (p >= 0.5).astype(int)))
                else:
                    crit = ll
                key = (round(crit, 12), round(ll, 12), -abs(w - 0.5))
                if best is None or key > best:
                    best, weight, score = key, float(w), crit

        with torch.no_grad():
            self.platt_text.copy_(torch.tensor(params["text"]))
            self.platt_speech.copy_(torch.tensor(params["speech"]))
            self.fusion_weight.fill_(weight)
            self.calibrated.fill_(True)
        return CalibrationResult(
            *params["text"],
            *params["speech"],
            weight=weight,
            criterion=self.config.criterion,
            score=score,
            n_text=int((~np.isnan(z_t)).sum()),
            n_speech=int((~np.isnan(z_s)).sum()),
            n_both=int(both.sum()),
        )

    @torch.no_grad()
    def calibrate(self, batches: Iterable[Batch]) -> CalibrationResult:
        """Runs both models (eval mode) over dev batches with `label` (and `session_id`, which
        participant-level weighting needs), then `fit_calibration`."""
        was_training = self.training
        self.eval()
        feats, labels, groups = [], [], []
        try:
            for batch in batches:
                feats.append(self.forward_features(batch).cpu())
                labels.append(batch["label"].cpu())
                groups.extend(batch.get("session_id", []))
        finally:
            self.train(was_training)
        if not feats:
            raise CorpusError("cannot calibrate: no dev batches")
        f = torch.cat(feats)
        y = torch.cat(labels)
        return self.fit_calibration(f[:, 0], f[:, 1], y, groups if len(groups) == len(y) else None)


@dataclasses.dataclass
class StackedFusionConfig(PairConfig):
    """`stacked-fusion`: a logistic regression over the two models' dev log-odds.

    By default the two classical baselines (`tfidf-lr`, `egemaps-lr`); any text-only and
    speech-only registered models may be named instead. `C` regularises the stacker.
    """

    text_model: str = "tfidf-lr"
    speech_model: str = "egemaps-lr"
    class_weight: Literal["balanced", "none"] = "balanced"
    C: float = 1.0

    def validate(self) -> None:
        super().validate()
        check(self.C > 0, f"C={self.C} must be > 0")


@dataclasses.dataclass
class StackResult:
    """What `StackedFusion.fit_calibration` fitted on dev (written to done.json)."""

    text_a: float
    text_b: float
    speech_a: float
    speech_b: float
    stack_text: float
    stack_speech: float
    stack_bias: float
    n_text: int
    n_speech: int
    n_both: int


@register_model("stacked-fusion")
class StackedFusion(DecisionFusion):
    """Late fusion by stacking: p = sigmoid(a_t z_text + a_s z_speech + b), fitted on dev.

    z are the per-modality models' log-odds. A sample with one modality falls back to that
    modality's Platt-calibrated probability (also fitted on dev), as `decision-fusion` does.
    """

    config_cls = StackedFusionConfig
    stack: Tensor

    def __init__(self, config: StackedFusionConfig):
        super().__init__(config)
        self.register_buffer("stack", torch.tensor([0.5, 0.5, 0.0]))  # a_t, a_s, b

    def _probas(self, features: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        p_t, p_s, _ = super()._probas(features)
        z_t, z_s = features[:, 0], features[:, 1]
        has_t, has_s = ~torch.isnan(z_t), ~torch.isnan(z_s)
        both = torch.sigmoid(self.stack[0] * z_t.nan_to_num(0.0)
                             + self.stack[1] * z_s.nan_to_num(0.0) + self.stack[2])
        p = torch.where(has_t & has_s, both, torch.where(
            has_t, p_t.nan_to_num(0.5), torch.where(has_s, p_s.nan_to_num(0.5), 0.5)))
        return p_t, p_s, p

    def fit_calibration(self, text_logits: Any, speech_logits: Any, labels: Any,
                        groups: Any = None) -> StackResult:
        """Platt per modality (for samples with one modality) and the stacker, on dev."""
        from sklearn.linear_model import LogisticRegression

        z_t = _margins(text_logits, "text_logits")
        z_s = _margins(speech_logits, "speech_logits")
        y = _binary_labels(labels)
        balanced = self.config.class_weight == "balanced"
        params = {}
        for name, z in (("text", z_t), ("speech", z_s)):
            ok = ~np.isnan(z)
            if len(np.unique(y[ok])) < 2:
                raise CorpusError(f"cannot calibrate the {name} model: its {int(ok.sum())} dev "
                                  "samples do not include both classes")
            params[name] = fit_platt(z[ok], y[ok], balanced)
        both = ~np.isnan(z_t) & ~np.isnan(z_s)
        coef = [params["text"][0] / 2, params["speech"][0] / 2, 0.0]
        if both.any() and len(np.unique(y[both])) == 2:
            lr = LogisticRegression(C=self.config.C, max_iter=1000,
                                    class_weight="balanced" if balanced else None)
            lr.fit(np.stack([z_t[both], z_s[both]], axis=1), y[both])
            coef = [float(lr.coef_[0, 0]), float(lr.coef_[0, 1]), float(lr.intercept_[0])]
        with torch.no_grad():
            self.platt_text.copy_(torch.tensor(params["text"]))
            self.platt_speech.copy_(torch.tensor(params["speech"]))
            self.stack.copy_(torch.tensor(coef))
            self.calibrated.fill_(True)
        return StackResult(*params["text"], *params["speech"], *coef,
                           n_text=int((~np.isnan(z_t)).sum()),
                           n_speech=int((~np.isnan(z_s)).sum()), n_both=int(both.sum()))
