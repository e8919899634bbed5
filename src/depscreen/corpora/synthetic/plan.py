"""Corpus-level decisions made before any audio is rendered: every participant's latent PHQ-8
(item scores, total, binary label), gender, split and quirks (`plan_corpus`), and the seeded
random streams every later draw comes from (`_rng`: one stream per (seed, session, purpose)).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from depscreen.corpora.records import PHQ8_CUTOFF, PHQ8_ITEMS
from depscreen.corpora.synthetic.config import (
    AVEC_SPLIT_SIZES,
    INTERRUPTIONS,
    LABEL_ERROR_ID,
    NO_ELLIE_IDS,
    TRANSCRIPT_OFFSETS,
    SynthConfig,
)

# ----------------------------------------------------------------------------- randomness
# One independent stream per purpose, so that e.g. the speech knob does not change the words.
_S_PHQ, _S_GENDER, _S_PERSONA, _S_TEXT_PERSON, _S_SPEECH_PERSON = 1, 2, 3, 4, 5
_S_TOPICS, _S_EX_TEXT, _S_EX_SPEECH, _S_TOKENS, _S_LAYOUT, _S_NOISE = 6, 7, 8, 9, 10, 11
_S_STYLE = 12
_CORPUS_TAG = 2**31


def _rng(seed: int, *key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, *key]))


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


# ----------------------------------------------------------------------------- latent PHQ-8
# Relative prevalence of each symptom among the points of a total (tiredness and sleep most).
_ITEM_BASE = np.array([1.0, 1.1, 1.3, 1.5, 0.8, 1.0, 0.9, 0.5])


def sample_phq8(
    rng: np.random.Generator, depressed: bool, score: int | None = None
) -> tuple[int, list[int]]:
    """A PHQ-8 total (>= 10 iff `depressed`, skewed low like DAIC) and 8 items 0-3 summing to it."""
    if score is None:
        if depressed:
            ks = np.arange(PHQ8_CUTOFF, 25)
            w = np.exp(-(ks - PHQ8_CUTOFF) / 5.0)
        else:
            ks = np.arange(0, PHQ8_CUTOFF)
            w = np.exp(-ks / 3.5)
        score = int(rng.choice(ks, p=w / w.sum()))
    weights = _ITEM_BASE * rng.gamma(2.0, 1.0, size=len(PHQ8_ITEMS))
    items = np.zeros(len(PHQ8_ITEMS), dtype=int)
    for _ in range(score):
        p = np.where(items < 3, weights, 0.0)
        items[rng.choice(len(items), p=p / p.sum())] += 1
    return score, [int(v) for v in items]


def assign_labels(
    ids: Sequence[int], fraction: float, seed: int, forced: Iterable[int] = ()
) -> dict[int, int]:
    """Exactly round(fraction * N) depressed participants (AVEC: 57 of 189), chosen at random."""
    forced = [i for i in forced if i in set(ids)]
    n_dep = max(round(fraction * len(ids)), len(forced))
    rest = [i for i in sorted(ids) if i not in forced]
    chosen = set(forced) | set(
        _rng(seed, _CORPUS_TAG, 1).permutation(rest)[: n_dep - len(forced)].tolist()
    )
    return {i: int(i in chosen) for i in sorted(ids)}


def assign_splits(labels: dict[int, int], seed: int) -> dict[int, str]:
    """Train/dev/test in AVEC 2017 proportions (107/35/47), stratified by label."""
    total = sum(AVEC_SPLIT_SIZES.values())
    rng = _rng(seed, _CORPUS_TAG, 2)
    split: dict[int, str] = {}
    for label in (0, 1):
        group = rng.permutation(sorted(i for i, v in labels.items() if v == label)).tolist()
        n_train = round(len(group) * AVEC_SPLIT_SIZES["train"] / total)
        n_dev = min(round(len(group) * AVEC_SPLIT_SIZES["dev"] / total), len(group) - n_train)
        for k, sid in enumerate(group):
            split[sid] = "train" if k < n_train else "dev" if k < n_train + n_dev else "test"
    return split


@dataclass(frozen=True)
class SessionPlan:
    """Corpus-level decisions about one session, made before any audio is rendered."""

    sid: int
    split: str
    label: int  # the truth
    score: int
    items: tuple[int, ...]
    gender: str  # "male" | "female"
    written_binary: int  # what the split file says (409's label error)
    offset: float  # transcript time = audio time - offset
    interruption: tuple[float, float] | None
    no_ellie: bool


def plan_corpus(config: SynthConfig) -> list[SessionPlan]:
    """Labels, PHQ-8, gender, split and quirks of every session (cheap; no audio)."""
    ids = config.session_ids()
    quirky = config.quirks
    labels = assign_labels(
        ids, config.depressed_fraction, config.seed, [LABEL_ERROR_ID] if quirky else []
    )
    splits = assign_splits(labels, config.seed)
    plans = []
    for sid in ids:
        label_error = quirky and sid == LABEL_ERROR_ID
        score, items = sample_phq8(
            _rng(config.seed, sid, _S_PHQ), bool(labels[sid]), 10 if label_error else None
        )
        male = _rng(config.seed, sid, _S_GENDER).random() < 0.56
        plans.append(
            SessionPlan(
                sid=sid,
                split=splits[sid],
                label=labels[sid],
                score=score,
                items=tuple(items),
                gender="male" if male else "female",
                written_binary=0 if label_error else labels[sid],
                offset=TRANSCRIPT_OFFSETS.get(sid, 0.0) if quirky else 0.0,
                interruption=INTERRUPTIONS.get(sid) if quirky else None,
                no_ellie=quirky and sid in NO_ELLIE_IDS,
            )
        )
    return plans
