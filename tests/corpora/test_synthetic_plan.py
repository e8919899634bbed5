"""The synthetic corpus's plan (config.py, plan.py): IDs, settings, latent PHQ-8, labels, splits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from depscreen.corpora.synthetic import (
    SynthConfig,
    assign_labels,
    daic_ids,
    plan_corpus,
    sample_phq8,
)
from depscreen.errors import ConfigError


def test_daic_ids_match_the_real_corpus():
    ids = daic_ids(189)
    assert ids[0] == 300 and ids[-1] == 492 and len(set(ids)) == 189
    assert not {342, 394, 398, 460} & set(ids)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"participants": 0},
        {"text_signal": -0.5},
        {"speech_signal": math.nan},
        {"minutes": 3.0, "questions": 5},
        {"minutes": 0.0},
        {"questions": 0},
        {"ids": (300, 300)},
        {"depressed_fraction": 1.0},
        {"seed": -1},
        {"seed": 1.5},
        {"questions": 2.5},
    ],
)
def test_invalid_config_raises_config_error(kwargs):
    with pytest.raises(ConfigError):
        SynthConfig(**kwargs)


def test_latent_phq8_is_consistent_and_about_30_percent_depressed():
    labels = assign_labels(list(range(1, 2001)), 0.30, seed=3)
    assert sum(labels.values()) == 600
    rng = np.random.default_rng(0)
    scores = []
    for depressed in [True] * 300 + [False] * 700:
        score, items = sample_phq8(rng, depressed)
        assert (score >= 10) == depressed
        assert sum(items) == score and all(0 <= v <= 3 for v in items) and len(items) == 8
        scores.append(score)
    assert 0.25 < np.mean(np.array(scores) >= 10) < 0.35
    assert 2.0 < np.mean([s for s in scores if s < 10]) < 5.0  # skewed low, like DAIC


def test_full_plan_has_avec_split_sizes_stratified():
    plans = plan_corpus(SynthConfig())
    assert [p.sid for p in plans] == daic_ids(189)
    assert sum(p.label for p in plans) == 57  # AVEC 2017: 31 + 12 + 14
    for split, size in {"train": 107, "dev": 35, "test": 47}.items():
        members = [p for p in plans if p.split == split]
        assert len(members) == size
        assert abs(np.mean([p.label for p in members]) - 57 / 189) < 0.05
    by_id = {p.sid: p for p in plans}
    assert by_id[409].score == 10 and by_id[409].label == 1 and by_id[409].written_binary == 0
