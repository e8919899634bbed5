"""Training profiles: `paper` reproduces the published set-up; `fast` fits the embedded corpus.

The paper: batch 30 for single-modal models, 50 for fusion, 300 epochs (optimizer not
stated; we use Adam). `fast` keeps the architecture and only shortens training, with early
stopping on dev so the embedded corpus converges in minutes on a CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

PROFILES = ("paper", "fast")


@dataclass(frozen=True)
class Profile:
    name: str
    batch_single: int
    batch_fusion: int
    max_epochs: int
    lr: float
    early_stopping_patience: int | None  # None: train all epochs, still select the best on dev


def get_profile(name: str) -> Profile:
    from depscreen.errors import ConfigError

    if name == "paper":
        return Profile("paper", 30, 50, 300, 1e-3, None)
    if name == "fast":
        return Profile("fast", 32, 50, 12, 2e-3, 3)
    raise ConfigError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}")
