"""The Lightning module: any registered model, its task's loss, Adam, dev metrics each epoch.

Losses: cross-entropy for the binary screen. The PHQ-8 total is bounded (0-24) and skewed
(most people score low), so the score head is read through a sigmoid and trained with the
binary cross-entropy of its output against score / 24 (fractional-logit regression, Papke and
Wooldridge 1996): estimates stay inside the scale, the loss is the Bernoulli quasi-likelihood
whose variance shrinks near the bounds as a bounded score's does, and no outlier dominates
the gradient as it would under squared error. Items: the same per item, against item / 3.
Samples whose target is unknown (NaN) are left out of that loss.
"""

from __future__ import annotations

import hashlib

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from depscreen.models.base import ITEM_MAX, PHQ8_MAX
from depscreen.stats.aggregate import aggregate_participants
from depscreen.stats.metrics import binary_metrics


def epoch_seed(seed: int, epoch: int) -> int:
    """A seed for one epoch, so a resumed run draws exactly what the uninterrupted one did."""
    digest = hashlib.sha256(f"{seed}:{epoch}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


from depscreen.training.augment import SpecAugment, augment_batch  # noqa: E402


class LitClassifier(L.LightningModule):
    """Trains `model` on utterance batches; reports utterance- and participant-level dev metrics."""

    def __init__(
        self,
        model: torch.nn.Module,
        lr: float,
        weight_decay: float = 0.0,
        class_weights: list[float] | None = None,
        seed: int = 0,
        spec_augment: bool = False,
    ):
        super().__init__()
        self.augment = SpecAugment() if spec_augment else None
        self.model = model
        self.lr = lr
        self.weight_decay = weight_decay
        self.seed = seed
        cw = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", cw, persistent=False)
        self.task = getattr(model, "task", "binary")
        self._val: list[tuple[list[str], np.ndarray, np.ndarray, np.ndarray | None,
                              np.ndarray]] = []
        self._train_losses: list[float] = []
        self.last_dev: dict | None = None

    def forward(self, batch: dict) -> torch.Tensor:
        return self.model(batch)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)

    def on_train_epoch_start(self) -> None:
        # Dropout and any other torch randomness restart from a per-epoch seed: a run resumed
        # from the checkpoint of epoch k-1 repeats epoch k exactly.
        torch.manual_seed(epoch_seed(self.seed, self.current_epoch))
        # The bucket sampler's epoch too: Lightning calls `set_epoch` only on a loader's sampler
        # (or its batch sampler's `.sampler`), never on the batch sampler itself, so without
        # this a resumed run would draw epoch 0's batches again.
        batches = getattr(self.trainer.train_dataloader, "batch_sampler", None)
        if hasattr(batches, "set_epoch"):
            batches.set_epoch(self.current_epoch)
        self._train_losses.clear()

    def _classification_loss(self, batch: dict, features: torch.Tensor, logits: torch.Tensor,
                             weight: torch.Tensor | None) -> torch.Tensor:
        loss = F.cross_entropy(logits, batch["label"], weight=weight)
        branch_weight = getattr(self.model.config, "branch_loss_weight", 0.0)
        if branch_weight > 0 and hasattr(self.model, "branch_logits"):
            # Feature-level fusion: each branch's own classifier on the samples that have it.
            for branch, present in self.model.branch_logits(batch, features):
                if present.any():
                    loss = loss + branch_weight * F.cross_entropy(
                        branch[present], batch["label"][present], weight=weight
                    )
        return loss

    def _outputs(self, features: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The heads the task trains, each computed once: (B, 2) logits of the screen, and
        the score head's output before its sigmoid ((B, 1), or (B, 8) for items)."""
        logits = self.model.forward_head(features) if self.task in ("binary", "multitask") \
            else None
        z = self.model.score_logits(features) if self.task != "binary" else None
        return logits, z

    def _score_loss(self, batch: dict, z: torch.Tensor) -> torch.Tensor:
        """Fractional-logit loss of the score head's output `z` (module docstring); 0 with no
        target."""
        if self.task == "items":
            target = batch["items"] / ITEM_MAX
        else:
            z, target = z[:, 0], batch["score"] / PHQ8_MAX
        known = torch.isfinite(target)
        if not known.any():
            return z.sum() * 0.0
        return F.binary_cross_entropy_with_logits(z[known], target[known])

    def _loss(self, batch: dict, features: torch.Tensor, outputs: tuple, weight: torch.Tensor | None,
              branches: bool = True) -> torch.Tensor:
        """The task's training loss from `_outputs` (`branches`: with the fusion's per-branch
        terms; the dev loss leaves them out)."""
        logits, z = outputs
        loss = None
        if logits is not None:
            loss = (self._classification_loss(batch, features, logits, weight) if branches
                    else F.cross_entropy(logits, batch["label"], weight=weight))
        if z is not None:
            score = self._score_loss(batch, z)
            loss = score if loss is None else loss + score
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        batch = augment_batch(batch, self.augment)
        features = self.model.forward_features(batch)
        loss = self._loss(batch, features, self._outputs(features), self.class_weights)
        self._train_losses.append(float(loss.detach()))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        features = self.model.forward_features(batch)
        logits, z = outputs = self._outputs(features)
        loss = self._loss(batch, features, outputs, None, branches=False)
        self.log("dev_loss", loss, on_step=False, on_epoch=True, batch_size=len(batch["label"]))
        n = len(batch["label"])
        prob = (torch.softmax(logits.float(), dim=-1)[:, 1].cpu().numpy() if logits is not None
                else np.full(n, np.nan))  # no screen head: nothing to score at 0.5
        scores = None
        if z is not None:
            scores = self.model.scores_from_logits(z).float().cpu().numpy()
        self._val.append((list(batch["session_id"]), prob, batch["label"].cpu().numpy(),
                          scores, batch["score"].cpu().numpy() if "score" in batch else None))

    def on_validation_epoch_end(self) -> None:
        if not self._val:
            return
        sids = [s for chunk in self._val for s in chunk[0]]
        probs = np.concatenate([c[1] for c in self._val])
        labels = np.concatenate([c[2] for c in self._val])
        scores = truth = None
        if self.task != "binary":
            scores = np.concatenate([c[3] for c in self._val])
            truth = np.concatenate([c[4] for c in self._val])
        self._val.clear()
        self.last_dev = {}
        if self.task in ("binary", "multitask"):
            self.last_dev.update(dev_metrics(sids, probs, labels))
        if scores is not None:
            self.last_dev.update(dev_score_metrics(sids, scores, truth))
        if self._train_losses:
            # Logged here (not at train-epoch end) so the epoch's row and checkpoint agree.
            self.last_dev["train_loss"] = float(np.mean(self._train_losses))
        for key, value in self.last_dev.items():
            self.log(key, value, on_epoch=True, batch_size=len(labels))


def dev_score_metrics(session_ids, scores, truth) -> dict[str, float]:
    """The PHQ-8 estimate's dev numbers logged each epoch: utterance RMSE and the dev
    participants' RMSE, MAE and CCC of their mean estimate (unknown scores left out)."""
    from depscreen.stats.regression import aggregate_scores, ccc, mae, rmse

    ok = np.isfinite(truth)
    _, part = aggregate_scores(list(np.asarray(session_ids)[ok]), scores[ok], "mean")
    _, part_truth = aggregate_scores(list(np.asarray(session_ids)[ok]), truth[ok], "mean")
    return {"dev_rmse": rmse(truth[ok], scores[ok]),
            "dev_participant_rmse": rmse(part_truth, part),
            "dev_participant_mae": mae(part_truth, part),
            "dev_participant_ccc": ccc(part_truth, part)}


def dev_metrics(session_ids, probs, labels, threshold: float = 0.5) -> dict[str, float]:
    """Flat dict of the numbers logged each epoch (utterance and participant level)."""
    utt = binary_metrics(labels, (probs >= threshold).astype(int))
    part = aggregate_participants(session_ids, probs, labels)
    par = binary_metrics(part["label"], (part["prob"] >= threshold).astype(int))
    return {
        "dev_ua": utt["ua"],
        "dev_f1": utt["f1_macro"],
        "dev_wa": utt["wa"],
        "dev_participant_ua": par["ua"],
        "dev_participant_f1": par["f1_macro"],
    }
