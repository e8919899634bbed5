"""Decision-level fusion of text and speech: `decision-fusion` and `stacked-fusion`.

Both hold a registered text model and speech model (models/pair.py), trained separately,
and combine their calibrated outputs: `decision-fusion` by a weighted mean of the
Platt-calibrated probabilities, `stacked-fusion` by a logistic regression over the two
log-odds. The combiner is fitted on dev (`fit_calibration`, models/calibration.py) and kept
in buffers, so it is saved with the state dict. A sample whose text (speech) is absent falls
back to the other modality's calibrated probability; a batch may lack one modality's keys
altogether.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any, Literal

import torch
from torch import Tensor, nn

from depscreen.errors import ConfigError, CorpusError
from depscreen.models.base import Batch, DepressionModel, check
from depscreen.models.calibration import (
    CalibrationResult,
    StackResult,
    fit_stack,
    search_decision_calibration,
)
from depscreen.models.pair import (
    PairConfig,
    _keys_present,
    modality_present,
    pair_feature_defaults,
)
from depscreen.models.registry import create_model, register_model


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
    fusion = "decision"
    carries_calibration = True  # per-modality Platt and the weight, in its buffers
    # regression: the sub-models estimate the score, combined with a weight fitted on dev;
    # multitask: both combiners over multitask sub-models.
    heads = ("binary", "regression", "multitask")
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

    def set_task(self, task: str) -> None:
        """Regression: both sub-models get their score heads; the fused estimate is
        w * s_text + (1 - w) * s_speech with w (`score_weight`) fitted on dev."""
        self.task = self.check_task(task)
        if task != "binary":
            self.text_model.set_task(task)
            self.speech_model.set_task(task)
            self.register_buffer("score_weight", torch.tensor(0.5))

    @torch.no_grad()
    def modality_scores(self, batch: Batch) -> dict[str, Tensor]:
        """{"text", "speech", "fused"} -> (B,) PHQ-8 estimates (NaN where a modality is
        absent); a sample with one modality takes that one's estimate."""
        out = {}
        for name, model in (("text", self.text_model), ("speech", self.speech_model)):
            present = modality_present(batch, name, model)
            if not _keys_present(batch, model):
                out[name] = torch.full(present.shape, math.nan, device=present.device)
                continue
            s = model.predict_score(batch)
            out[name] = torch.where(present, s, torch.full_like(s, math.nan))
        s_t, s_s = out["text"], out["speech"]
        has_t, has_s = ~torch.isnan(s_t), ~torch.isnan(s_s)
        w = self.score_weight
        both = w * s_t.nan_to_num(0.0) + (1 - w) * s_s.nan_to_num(0.0)
        out["fused"] = torch.where(has_t & has_s, both, torch.where(has_t, s_t, s_s))
        return out

    @torch.no_grad()
    def predict_score(self, batch: Batch) -> Tensor:
        return self.modality_scores(batch)["fused"]

    def fit_score_weight(self, text_scores: Any, speech_scores: Any, truth: Any,
                         groups: Any) -> dict[str, Any]:
        """Chooses w (grid of `config.weight_step`) by the dev participants' RMSE of the mean
        fused estimate (ties: the w nearest 0.5); sets `score_weight`."""
        from depscreen.models.calibration import search_score_weight

        result = search_score_weight(text_scores, speech_scores, truth, groups,
                                     getattr(self.config, "weight_step", 0.05))
        with torch.no_grad():
            self.score_weight.fill_(result["weight"])
        return result

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
        cfg = self.config
        result = search_decision_calibration(
            text_logits, speech_logits, labels, groups, criterion=cfg.criterion,
            class_weight=cfg.class_weight, weight_step=cfg.weight_step,
            weight_level=cfg.weight_level,
        )
        with torch.no_grad():
            self.platt_text.copy_(torch.tensor([result.text_a, result.text_b]))
            self.platt_speech.copy_(torch.tensor([result.speech_a, result.speech_b]))
            self.fusion_weight.fill_(result.weight)
            self.calibrated.fill_(True)
        return result

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
        result = fit_stack(text_logits, speech_logits, labels,
                           class_weight=self.config.class_weight, C=self.config.C)
        with torch.no_grad():
            self.platt_text.copy_(torch.tensor([result.text_a, result.text_b]))
            self.platt_speech.copy_(torch.tensor([result.speech_a, result.speech_b]))
            self.stack.copy_(torch.tensor(
                [result.stack_text, result.stack_speech, result.stack_bias]))
            self.calibrated.fill_(True)
        return result
