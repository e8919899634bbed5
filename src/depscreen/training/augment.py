"""SpecAugment-style masking (Park et al., 2019) of frame inputs while training.

With a few hundred speakers a frame model memorises its training utterances within a few
epochs; masking random stretches of time and random feature dimensions makes it rely on
evidence spread across the utterance. Masks are drawn from torch's RNG, which training seeds
per epoch, so runs stay deterministic and resumable. Masked values are set to 0, the mean of
normalised features. Only samples' real frames are masked, never padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass(frozen=True)
class SpecAugment:
    """`time_masks` masks of up to `max_time` of a sample's frames each; `freq_masks` masks
    of up to `max_freq` of the feature dimensions each (fractions)."""

    time_masks: int = 2
    max_time: float = 0.1
    freq_masks: int = 2
    max_freq: float = 0.15

    def __call__(self, frames: Tensor, lengths: Tensor) -> Tensor:
        """(B, T, D) frames + (B,) lengths -> masked copy (B, T, D)."""
        B, T, D = frames.shape
        out = frames.clone()
        for b in range(B):
            n = int(lengths[b])
            for _ in range(self.time_masks):
                width = int(torch.randint(0, max(1, int(self.max_time * n)) + 1, ()).item())
                if width and n > width:
                    start = int(torch.randint(0, n - width + 1, ()).item())
                    out[b, start : start + width] = 0.0
            for _ in range(self.freq_masks):
                width = int(torch.randint(0, max(1, int(self.max_freq * D)) + 1, ()).item())
                if width and D > width:
                    start = int(torch.randint(0, D - width + 1, ()).item())
                    out[b, :n, start : start + width] = 0.0
        return out


def augment_batch(batch: dict, augment: SpecAugment | None) -> dict:
    """The batch with its speech frames masked (samples without speech are left alone)."""
    if augment is None or "mel" not in batch:
        return batch
    mel = augment(batch["mel"], batch["mel_lengths"])
    if "has_speech" in batch:
        keep = ~batch["has_speech"]
        mel[keep] = batch["mel"][keep]
    return {**batch, "mel": mel}
