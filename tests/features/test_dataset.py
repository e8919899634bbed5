"""Samples, collation, missing modalities, split isolation, the length-bucketing sampler."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from depscreen.corpora.records import Corpus
from depscreen.errors import ConfigError
from depscreen.features.audio import LogMelConfig
from depscreen.features.dataset import LengthBucketSampler, build_samples, collate
from depscreen.features.text import OOV_ID, TextConfig, build_vocabulary

from .test_cache import FakeEncoder


def keys(ds) -> list[tuple[str, int, int]]:
    return [(s.session_id, s.utt_index, s.window_index) for s in ds.samples]


def test_train_samples(corpus: Corpus, cfg: LogMelConfig, tmp_path: Path) -> None:
    ds = build_samples(corpus, "train", cfg, TextConfig(), tmp_path / "cache", progress=False)
    assert keys(ds) == [
        ("A", 0, 0), ("A", 2, 0), ("A", 2, 1), ("A", 2, 2),  # A utt 1 (0.7 s) dropped
        ("B", 0, 0), ("B", 1, 0),                            # B: audio only
        ("C", 0, 0), ("C", 1, 0), ("C", 2, 0),               # C: text only, no duration rule
    ]
    assert ds.warnings == []
    assert ds.vocab == build_vocabulary(corpus)
    assert list(ds.labels) == [1] * 4 + [0] * 5
    item = ds[1]
    assert set(item) == {"session_id", "label", "mel", "tokens", "has_text", "has_speech",
                         "start", "end", "utt_index", "window_index", "score", "items"}
    assert math.isnan(item["score"])  # the fixture sessions give no PHQ-8 score
    assert item["mel"].dtype == torch.float32 and item["mel"].shape == (301, cfg.n_mels)
    assert item["tokens"].dtype == torch.long
    assert (item["has_text"], item["has_speech"], item["label"]) == (True, True, 1)
    assert (item["start"], item["end"]) == (3.5, 6.5)
    assert ds[3]["mel"].shape[0] == 1 + int(2.4 * 16000) // 160
    # Normalised with the session's stats.
    h = ds.features["A"]
    np.testing.assert_allclose(item["mel"].numpy(), (h.sample(h.samples[1], False) - h.mean) / h.std,
                               atol=1e-5)
    # Audio-only: a one-token placeholder, has_text False.
    b = ds[4]
    assert (b["has_text"], b["has_speech"]) == (False, True) and b["tokens"].tolist() == [0]
    # Text-only: one zero frame, has_speech False; "the time is fine" -> known ids.
    c = ds[7]
    assert (c["has_text"], c["has_speech"]) == (True, False)
    assert c["mel"].shape == (1, cfg.n_mels) and torch.all(c["mel"] == 0)
    stoi = ds.vocab.stoi
    assert c["tokens"].tolist() == [stoi["the"], stoi["time"], OOV_ID, stoi["fine"]]
    assert list(ds.lengths[:4]) == [151, 301, 301, 241] and ds.lengths[7] == 4


def test_other_splits_are_not_read(corpus: Corpus, cfg: LogMelConfig, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    build_samples(corpus, "train", cfg, None, cache, progress=False)
    entries = {p.name.split("-")[0] for p in next(cache.glob("logmel-*")).glob("*.npy")}
    assert entries == {"A", "B"}  # not D (dev) nor E (test, whose audio is corrupt)
    dev = build_samples(corpus, "dev", cfg, None, cache, progress=False)
    assert {s.session_id for s in dev.samples} == {"D"}
    assert dev[1]["tokens"].tolist() == [OOV_ID]  # "devonlyword": vocabulary is train-only
    test = build_samples(corpus, "test", cfg, None, cache, progress=False)
    assert [w.session_id for w in test.warnings] == ["E"]  # audio skipped, text kept
    assert [(s.session_id, s.has_text, s.span) for s in test.samples] == [("E", True, None)]
    assert test[0]["tokens"].tolist() == [OOV_ID, OOV_ID]
    with pytest.raises(ConfigError):
        build_samples(corpus, "validation", cfg, None, cache, progress=False)


def test_single_modalities(corpus: Corpus, cfg: LogMelConfig, tmp_path: Path) -> None:
    speech = build_samples(corpus, "train", cfg, None, tmp_path / "c1", modalities={"speech"},
                           progress=False)
    assert {s.session_id for s in speech.samples} == {"A", "B"}
    assert not any(s.has_text for s in speech.samples) and speech.vocab is None
    text = build_samples(corpus, "train", cfg, None, tmp_path / "c2", modalities={"text"},
                         progress=False)
    assert {s.session_id for s in text.samples} == {"A", "C"}
    assert keys(text)[:4] == keys(speech)[:4]  # the same statements, whatever the modality
    assert not any(s.span is not None for s in text.samples)
    assert not (tmp_path / "c2").exists()  # no audio decoded, nothing cached
    with pytest.raises(ConfigError):
        build_samples(corpus, "train", cfg, None, tmp_path, modalities={"video"})
    with pytest.raises(ConfigError):
        build_samples(corpus, "train", cfg, None, tmp_path, text_input="bert")


def test_collate_and_loader(corpus: Corpus, cfg: LogMelConfig, tmp_path: Path) -> None:
    ds = build_samples(corpus, "train", cfg, None, tmp_path / "cache", progress=False)
    batch = collate([ds[0], ds[4], ds[7]])  # A speech+text, B speech only, C text only
    assert set(batch) == {"mel", "mel_lengths", "tokens", "token_lengths", "label",
                          "has_text", "has_speech", "session_id", "score", "items"}
    assert batch["score"].shape == (3,) and batch["items"].shape == (3, 8)
    assert batch["mel"].shape == (3, 201, cfg.n_mels) and batch["mel"].dtype == torch.float32
    assert batch["mel_lengths"].tolist() == [151, 201, 1]
    assert batch["mel_lengths"].dtype == torch.long
    assert torch.all(batch["mel"][0, 151:] == 0) and torch.all(batch["mel"][2] == 0)
    assert batch["tokens"].shape == (3, 6) and batch["token_lengths"].tolist() == [6, 1, 4]
    assert torch.all(batch["tokens"][2, 4:] == 0) and batch["tokens"][1].tolist() == [0] * 6
    assert batch["label"].tolist() == [1, 0, 0] and batch["label"].dtype == torch.long
    assert batch["has_text"].tolist() == [True, False, True]
    assert batch["has_speech"].tolist() == [True, True, False]
    assert batch["session_id"] == ["A", "B", "C"]
    sampler = LengthBucketSampler(ds.lengths, batch_size=4, seed=0)
    loader = DataLoader(ds, batch_sampler=sampler, collate_fn=collate)
    seen = [sid for b in loader for sid in b["session_id"]]
    assert sorted(seen) == sorted(s.session_id for s in ds.samples)


def test_embedding_input(corpus: Corpus, cfg: LogMelConfig, tmp_path: Path) -> None:
    ds = build_samples(corpus, "train", cfg, None, tmp_path / "cache", text_input="embedding",
                       encoder=FakeEncoder(), progress=False)
    assert ds[0]["sentence_emb"].shape == (384,)
    assert ds[0]["sentence_emb"][0] == len("I feel tired all the time")
    assert torch.all(ds[4]["sentence_emb"] == 0)  # audio-only sample
    batch = collate([ds[i] for i in range(len(ds))])
    assert batch["sentence_emb"].shape == (len(ds), 384)
    assert batch["sentence_emb"].dtype == torch.float32


def test_sampler_deterministic_and_bucketed() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 800, size=1000)
    a = list(LengthBucketSampler(lengths, 16, seed=3, pool_batches=8))
    b = list(LengthBucketSampler(lengths, 16, seed=3, pool_batches=8))
    c = list(LengthBucketSampler(lengths, 16, seed=4, pool_batches=8))
    assert a == b and a != c
    assert sorted(i for batch in a for i in batch) == list(range(1000))
    assert len(a) == len(LengthBucketSampler(lengths, 16, seed=3, pool_batches=8)) == 63
    padded = sum(max(lengths[i] for i in batch) * len(batch) for batch in a)
    random_batches = np.array_split(rng.permutation(1000), 63)
    padded_random = sum(lengths[bt].max() * len(bt) for bt in random_batches)
    assert padded < 0.7 * padded_random
    s = LengthBucketSampler(lengths, 16, seed=3)
    first, second = list(s), list(s)  # the epoch advances
    assert first != second
    s.set_epoch(0)
    assert list(s) == first
    dl = LengthBucketSampler(lengths, 16, drop_last=True)
    assert all(len(x) == 16 for x in dl) and len(dl) == len(list(dl))
    ev = LengthBucketSampler(lengths, 16, shuffle=False)
    flat = [i for batch in ev for i in batch]
    assert sorted(flat) == list(range(1000)) and list(np.diff(lengths[flat]) >= 0) == [True] * 999
    assert len(ev) == len(list(ev)) == 63


def test_sampler_balanced() -> None:
    labels = np.array([1] * 50 + [0] * 950)
    lengths = np.arange(1000) % 97 + 1
    s = LengthBucketSampler(lengths, 20, seed=0, balanced=True, labels=labels)
    drawn = [i for batch in s for i in batch]
    assert len(drawn) == 1000 and len(s) == 50
    frac = Counter(labels[drawn].tolist())[1] / len(drawn)
    assert 0.44 < frac < 0.56
    assert list(LengthBucketSampler(lengths, 20, seed=0, balanced=True, labels=labels)) == \
        list(LengthBucketSampler(lengths, 20, seed=0, balanced=True, labels=labels))
    with pytest.raises(ConfigError):
        LengthBucketSampler(lengths, 20, balanced=True)
    with pytest.raises(ConfigError):
        LengthBucketSampler(lengths, 0)


def test_dataset_pickles_for_loader_workers(corpus: Corpus, cfg: LogMelConfig,
                                            tmp_path: Path) -> None:
    import pickle

    ds = build_samples(corpus, "train", cfg, None, tmp_path / "cache", progress=False)
    _ = ds[0]  # opens A's memory map
    clone = pickle.loads(pickle.dumps(ds))
    assert len(pickle.dumps(ds)) < 100_000  # handles travel as paths, not frames
    for i in (0, 4, 7):
        assert torch.equal(clone[i]["mel"], ds[i]["mel"])
