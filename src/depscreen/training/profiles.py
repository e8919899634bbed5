"""Training profiles: `paper` reproduces the published set-up; `fast` fits the embedded corpus.

The paper: batch 30 for single-modal models, 50 for fusion, 300 epochs (optimizer not
stated; we use Adam). `fast` keeps the architecture and only shortens training, with early
stopping on dev so the embedded corpus converges in minutes on a CPU. `small` is for corpora
of a few hundred speakers, where frame models overfit within a few epochs: SpecAugment masks,
weight decay, and a longer patience so one noisy dev epoch does not stop training. Its
values were chosen on development data only (the dev split of the first RAVDESS fold of
bench/real_data.py), never on a test split; see the README's "Real data".
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILES = ("paper", "fast", "small")


@dataclass(frozen=True)
class Profile:
    name: str
    batch_single: int
    batch_fusion: int
    max_epochs: int
    lr: float
    early_stopping_patience: int | None  # None: train all epochs, still select the best on dev
    spec_augment: bool = False
    weight_decay: float = 0.0


def get_profile(name: str) -> Profile:
    from depscreen.errors import ConfigError

    if name == "paper":
        return Profile("paper", 30, 50, 300, 1e-3, None)
    if name == "fast":
        return Profile("fast", 32, 50, 12, 2e-3, 3)
    if name == "small":
        return Profile("small", 32, 50, 40, 2e-3, 8, spec_augment=True, weight_decay=1e-4)
    raise ConfigError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
