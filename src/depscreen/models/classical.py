"""Classical baselines as registered models: fixed features + class-balanced logistic regression.

On a few hundred people, a linear model over well-chosen features is the bar any deep model
has to clear (the AVEC baselines are such models). These are first-class models: trained by
`depscreen train`, selected on dev, evaluated, exported and used by `predict` like the others.

- `egemaps-lr`: utterance functionals of the frame sequence (default: openSMILE eGeMAPSv02
  low-level descriptors, raw values) - per dimension mean, std and the 20th/50th/80th
  percentiles over the sample's frames - standardised with train statistics;
- `tfidf-lr`: TF-IDF of the utterance's token ids (sublinear tf, smoothed idf from the train
  samples, L2-normalised rows, as scikit-learn's `TfidfVectorizer(sublinear_tf=True)`);
- `embedding-lr`: the utterance's sentence embedding (default MiniLM), standardised.

The features are computed in torch inside `forward_features`, so training (`fit_closed_form`,
which runs them over the train samples in batches) and inference use one code path. The
logistic regression is scikit-learn's (lbfgs, `class_weight="balanced"`); C is chosen from
`c_grid` by the dev participants' ROC-AUC (ties by their class-balanced log-loss). Its coefficients become
the weights of a linear head, so the model is stored like every other one (safetensors +
model.json, no pickles).
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor, nn

from depscreen.models.base import (
    NUM_CLASSES,
    Batch,
    DepressionModel,
    ModelConfig,
    check,
    check_positive,
    require,
)
from depscreen.models.registry import register_model


@dataclasses.dataclass
class ClassicalConfig(ModelConfig):
    """C: the inverse regularisation strength fitted; `fit_closed_form` picks it from c_grid."""

    C: float = 1.0
    c_grid: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    max_iter: int = 2000

    def validate(self) -> None:
        check(self.C > 0, f"C={self.C} must be > 0")
        check(len(self.c_grid) >= 1 and all(c > 0 for c in self.c_grid),
              f"c_grid={list(self.c_grid)} must list positive values")
        check_positive(max_iter=self.max_iter)


class ClassicalModel(DepressionModel):
    """Features (`featurize`, no parameters) -> standardise -> linear head (2 logits), or for
    `--task regression` a ridge regression of the PHQ-8 total (its alpha chosen on dev)."""

    fitting = "closed-form"
    heads = ("binary", "regression", "multitask")  # multitask: both fits, one featurisation
    standardise: ClassVar[bool] = True
    feature_dim: int
    mean: Tensor
    scale: Tensor

    def __init__(self, config: ClassicalConfig, feature_dim: int):
        super().__init__(config)
        self.feature_dim = feature_dim
        self.register_buffer("mean", torch.zeros(feature_dim))
        self.register_buffer("scale", torch.ones(feature_dim))
        self.head = nn.Linear(feature_dim, NUM_CLASSES)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.bias.zero_()

    def featurize(self, batch: Batch) -> Tensor:
        """(B, feature_dim) fixed features of the batch."""
        raise NotImplementedError

    def forward_features(self, batch: Batch) -> Tensor:
        return (self.featurize(batch) - self.mean) / self.scale

    def scores_from_logits(self, z: Tensor) -> Tensor:
        # Ridge regression predicts the score itself: clipped to the scale, no sigmoid.
        return z[:, 0].clamp(0.0, 24.0)

    @torch.inference_mode()
    def _matrix(self, ds, batch_size: int):
        """The dataset's features, (N, feature_dim): dense, or sparse CSR when the model does
        not standardise (tf-idf over a large vocabulary is mostly zeros)."""
        import scipy.sparse as sp

        from depscreen.features.dataset import collate

        rows = []
        for i in range(0, len(ds), batch_size):
            batch = collate([ds[j] for j in range(i, min(i + batch_size, len(ds)))])
            x = self.featurize(batch).double().numpy()
            rows.append(x if self.standardise else sp.csr_matrix(x))
        if self.standardise:
            return np.concatenate(rows) if rows else np.zeros((0, self.feature_dim))
        return sp.vstack(rows).tocsr() if rows else sp.csr_matrix((0, self.feature_dim))

    def _standardised(self, train_ds, dev_ds, keep_train, batch_size: int):
        """Train and dev feature matrices (train rows `keep_train`), standardised with the
        train statistics when the model standardises; and the statistics."""
        x_train = self._matrix(train_ds, batch_size)[keep_train]
        x_dev = self._matrix(dev_ds, batch_size)
        mean, scale = np.zeros(self.feature_dim), np.ones(self.feature_dim)
        if self.standardise:
            mean, scale = x_train.mean(0), np.maximum(x_train.std(0), 1e-6)
            x_train, x_dev = (x_train - mean) / scale, (x_dev - mean) / scale
        return x_train, x_dev, mean, scale

    def fit_closed_form(self, train_ds, dev_ds, batch_size: int = 256,
                        seed: int = 0) -> dict[str, Any]:
        """Fits the logistic regression on train samples; C by the dev participants' ROC-AUC,
        ties by their class-balanced log-loss. With the regression task: `fit_ridge`."""
        if self.task == "regression":
            return self.fit_ridge(train_ds, dev_ds, batch_size)
        if self.task == "multitask":
            screen = self._fit_logistic(train_ds, dev_ds, batch_size, seed)
            return {**screen, "regression": self.fit_ridge(train_ds, dev_ds, batch_size)}
        return self._fit_logistic(train_ds, dev_ds, batch_size, seed)

    def _fit_logistic(self, train_ds, dev_ds, batch_size: int, seed: int) -> dict[str, Any]:
        """The class-balanced logistic regression; C by the dev participants' ROC-AUC."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import log_loss, roc_auc_score
        from sklearn.utils.class_weight import compute_sample_weight

        from depscreen.stats.aggregate import aggregate_participants

        keep = train_ds.labels >= 0
        y_train = train_ds.labels[keep]
        x_train, x_dev, mean, scale = self._standardised(train_ds, dev_ds, keep, batch_size)
        groups = [s.session_id for s in dev_ds.samples]
        scores: dict[str, float] = {}
        best: tuple[tuple[float, float], float, Any] | None = None
        for c in sorted(self.config.c_grid):
            lr = LogisticRegression(C=c, class_weight="balanced", max_iter=self.config.max_iter,
                                    random_state=seed)
            lr.fit(x_train, y_train)
            p = lr.predict_proba(x_dev)[:, 1]
            people = aggregate_participants(groups, p, dev_ds.labels, method="mean")
            y = people["label"].to_numpy()
            auc = (float(roc_auc_score(y, people["prob"])) if len(np.unique(y)) == 2
                   else float("nan"))
            scores[repr(c)] = auc
            # Ties (a separable dev set) go to the better class-balanced log-loss.
            loss = log_loss(y, people["prob"].clip(1e-7, 1 - 1e-7),
                            sample_weight=compute_sample_weight("balanced", y), labels=[0, 1])
            key = (-np.inf if np.isnan(auc) else round(auc, 9), -loss)
            if best is None or key > best[0]:
                best = (key, c, lr)
        assert best is not None
        _, c, lr = best
        with torch.no_grad():
            self.mean.copy_(torch.from_numpy(mean).float())
            self.scale.copy_(torch.from_numpy(scale).float())
            self.head.weight.zero_()
            self.head.bias.zero_()
            self.head.weight[1] = torch.from_numpy(lr.coef_[0]).float()
            self.head.bias[1] = float(lr.intercept_[0])
        self.config = dataclasses.replace(self.config, C=float(c))
        return {"C": float(c), "dev_participant_auc_by_C": scores,
                "n_train_samples": int(len(y_train)), "feature_dim": self.feature_dim}

    def fit_ridge(self, train_ds, dev_ds, batch_size: int = 256) -> dict[str, Any]:
        """Ridge regression of the PHQ-8 total on train samples; alpha (1 / C for each C of
        `c_grid`) by the dev participants' RMSE of the mean estimate."""
        from sklearn.linear_model import Ridge

        from depscreen.stats.regression import aggregate_scores, rmse

        keep = np.isfinite(train_ds.scores)
        if self.task == "multitask":  # the logistic fit's standardisation is shared
            mean, scale = self.mean.double().numpy(), self.scale.double().numpy()
            x_train = self._matrix(train_ds, batch_size)[keep]
            x_dev = self._matrix(dev_ds, batch_size)
            if self.standardise:
                x_train, x_dev = (x_train - mean) / scale, (x_dev - mean) / scale
        else:
            x_train, x_dev, mean, scale = self._standardised(train_ds, dev_ds, keep, batch_size)
        y_train = train_ds.scores[keep]
        groups = [s.session_id for s in dev_ds.samples]
        _, truth = aggregate_scores(groups, dev_ds.scores, "mean")
        by_c: dict[str, float] = {}
        best = None
        for c in sorted(self.config.c_grid):
            model = Ridge(alpha=1.0 / c).fit(x_train, y_train)
            _, est = aggregate_scores(groups, np.clip(model.predict(x_dev), 0, 24), "mean")
            ok = np.isfinite(truth)
            by_c[repr(c)] = err = rmse(truth[ok], est[ok])
            if best is None or err < best[0]:
                best = (err, c, model)
        assert best is not None
        _, c, model = best
        with torch.no_grad():
            self.mean.copy_(torch.from_numpy(mean).float())
            self.scale.copy_(torch.from_numpy(scale).float())
            self.score_head.weight[0] = torch.from_numpy(np.ravel(model.coef_)).float()
            self.score_head.bias[0] = float(model.intercept_)
        if self.task == "regression":  # multitask keeps the logistic fit's C
            self.config = dataclasses.replace(self.config, C=float(c))
        return {"C": float(c), "alpha": 1.0 / float(c), "dev_participant_rmse_by_C": by_c,
                "n_train_samples": int(keep.sum()), "feature_dim": self.feature_dim}


# ------------------------------------------------------------------------------ speech


@dataclasses.dataclass
class FunctionalsConfig(ClassicalConfig):
    n_mels: int = 64  # frame dimension; always set from the features (eGeMAPS: 25)
    dropout: float = 0.0  # unused; speech models share the key

    def validate(self) -> None:
        super().validate()
        check_positive(n_mels=self.n_mels)


QUANTILES = (0.2, 0.5, 0.8)


def masked_functionals(frames: Tensor, lengths: Tensor) -> Tensor:
    """(B, T, D) padded frames + (B,) lengths -> (B, 5 D): mean, std, p20, p50, p80."""
    out = []
    q = torch.tensor(QUANTILES, dtype=frames.dtype, device=frames.device)
    for x, n in zip(frames, lengths.tolist(), strict=True):
        x = x[: max(int(n), 1)]  # (T_i, D)
        out.append(torch.cat([x.mean(0), x.std(0, unbiased=False),
                              torch.quantile(x, q, dim=0).reshape(-1)]))
    return torch.stack(out)


@register_model("egemaps-lr")
class EGeMAPSLR(ClassicalModel):
    """Utterance functionals of the frames (raw eGeMAPS LLDs by default) + logistic regression."""

    config_cls = FunctionalsConfig
    modalities = frozenset({"speech"})
    default_features = {"speech": "egemaps", "text": "tokens", "norm": "none"}

    def __init__(self, config: FunctionalsConfig):
        super().__init__(config, (2 + len(QUANTILES)) * config.n_mels)

    @property
    def batch_keys(self) -> frozenset[str]:
        return frozenset({"mel", "mel_lengths"})

    def featurize(self, batch: Batch) -> Tensor:
        mel = require(batch, "mel", self.model_name).float()  # (B, T, D)
        return masked_functionals(mel, batch["mel_lengths"])  # (B, 5 D)


# -------------------------------------------------------------------------------- text


@dataclasses.dataclass
class TextLRConfig(ClassicalConfig):
    vocab_size: int = 5000
    text_input: Literal["tokens", "embedding"] = "tokens"
    sentence_dim: int = 384

    def validate(self) -> None:
        super().validate()
        check(self.vocab_size >= 2, f"vocab_size={self.vocab_size} must be >= 2")
        check_positive(sentence_dim=self.sentence_dim)


@register_model("tfidf-lr")
class TfidfLR(ClassicalModel):
    """TF-IDF of the utterance's words (the training vocabulary) + logistic regression."""

    config_cls = TextLRConfig
    modalities = frozenset({"text"})
    default_features = {"speech": "logmel", "text": "tokens", "norm": "session"}
    standardise = False  # tf-idf rows are L2-normalised already, and sparse
    idf: Tensor

    def __init__(self, config: TextLRConfig):
        check(config.text_input == "tokens", "tfidf-lr reads word ids: use --text-features tokens")
        super().__init__(config, config.vocab_size)
        self.register_buffer("idf", torch.ones(config.vocab_size))

    @property
    def batch_keys(self) -> frozenset[str]:
        return frozenset({"tokens"})

    def counts(self, batch: Batch) -> Tensor:
        tokens = require(batch, "tokens", self.model_name)  # (B, L), 0 = padding
        counts = torch.zeros(tokens.size(0), self.config.vocab_size, device=tokens.device)
        counts.scatter_add_(1, tokens, torch.ones_like(tokens, dtype=counts.dtype))
        counts[:, 0] = 0.0  # padding is not a word
        return counts  # (B, V)

    def featurize(self, batch: Batch) -> Tensor:
        c = self.counts(batch)
        tf = torch.where(c > 0, 1.0 + torch.log(c.clamp_min(1.0)), torch.zeros_like(c))
        x = tf * self.idf
        return x / x.norm(dim=1, keepdim=True).clamp_min(1e-12)  # (B, V)

    def fit_closed_form(self, train_ds, dev_ds, batch_size: int = 256,
                        seed: int = 0) -> dict[str, Any]:
        # Smoothed idf from the train samples' document frequencies, as scikit-learn does.
        from depscreen.features.dataset import collate

        df = torch.zeros(self.config.vocab_size)
        with torch.inference_mode():
            for i in range(0, len(train_ds), batch_size):
                batch = collate([train_ds[j] for j in range(i, min(i + batch_size,
                                                                   len(train_ds)))])
                df += (self.counts(batch) > 0).float().sum(0)
        n = float(len(train_ds))
        self.idf.copy_(torch.log((1.0 + n) / (1.0 + df)) + 1.0)
        return super().fit_closed_form(train_ds, dev_ds, batch_size, seed)


@dataclasses.dataclass
class EmbeddingLRConfig(TextLRConfig):
    text_input: Literal["tokens", "embedding"] = "embedding"


@register_model("embedding-lr")
class EmbeddingLR(ClassicalModel):
    """The utterance's sentence embedding (MiniLM by default) + logistic regression."""

    config_cls = EmbeddingLRConfig
    modalities = frozenset({"text"})
    default_features = {"speech": "logmel", "text": "minilm", "norm": "session"}

    def __init__(self, config: TextLRConfig):
        check(config.text_input == "embedding",
              "embedding-lr reads sentence embeddings: use --text-features minilm or hf:PATH")
        super().__init__(config, config.sentence_dim)

    @property
    def batch_keys(self) -> frozenset[str]:
        return frozenset({"sentence_emb"})

    def featurize(self, batch: Batch) -> Tensor:
        return require(batch, "sentence_emb", self.model_name).float()  # (B, D)
