"""Assigning groups of sessions to train/dev/test: a stratified, grouped, deterministic split.

The manifest recipe uses it for rows without a split (groups: a speaker's sessions, or one
session); it knows nothing about manifests.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Hashable
from typing import TypeVar

from depscreen.corpora.records import SPLITS

K = TypeVar("K", bound=Hashable)


def stratified_group_split(
    groups: dict[K, list[int]], seed: int, fractions: tuple[float, float, float]
) -> dict[K, str]:
    """Assign each group (key -> its sessions' labels) to a split, deterministically.

    Groups are shuffled with `seed` (after sorting, so row order does not matter), placed
    largest first, each into the split with the largest label-weighted shortfall against
    its target (`fraction x count of that label`). Splits with fraction 0 get nothing.
    """
    totals = Counter(label for labels in groups.values() for label in labels)
    target = [{y: f * n for y, n in totals.items()} for f in fractions]
    current: list[Counter[int]] = [Counter() for _ in fractions]
    keys = sorted(groups, key=repr)
    random.Random(seed).shuffle(keys)
    keys.sort(key=lambda k: -len(groups[k]))  # stable: random order within a size
    allowed = [i for i, f in enumerate(fractions) if f > 0]
    out: dict[K, str] = {}
    for key in keys:
        counts = Counter(groups[key])

        def shortfall(i: int, counts: Counter[int] = counts) -> tuple[float, float]:
            need = sum(n * (target[i][y] - current[i][y]) for y, n in counts.items())
            return (need, fractions[i])

        best = max(allowed, key=shortfall)
        current[best].update(counts)
        out[key] = SPLITS[best]
    return out
