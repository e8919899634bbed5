"""Tokenizer, vocabulary (train split only), sentence encoder (offline)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from depscreen.corpora.records import Corpus
from depscreen.errors import ConfigError, FeatureError
from depscreen.features.text import (
    OOV_ID,
    PAD_ID,
    SentenceEncoder,
    TextConfig,
    Vocabulary,
    build_vocabulary,
    tokenize,
)


def test_tokenize() -> None:
    text = "I don't KNOW, y'all... it\u2019s 2 o'clock -- <laughter> ok_fine"
    assert tokenize(text) == ["i", "don't", "know", "y'all", "it's", "2", "o'clock",
                              "laughter", "ok", "fine"]
    assert tokenize("") == [] and tokenize("  ...  ") == []


def test_vocabulary_build_and_encode() -> None:
    texts = ["the cat sat", "The cat ran", "a dog", "the end"]
    v = Vocabulary.build(texts, min_count=2)
    assert v.itos == ["<pad>", "<oov>", "the", "cat"]  # by count, then alphabetically
    assert (PAD_ID, OOV_ID) == (0, 1)
    assert v.encode("The cat flew") == [2, 3, OOV_ID]
    assert v.encode("") == []
    assert v.encode("the " * 100, max_len=64) == [2] * 64
    assert v.decode([2, 3, 1, 99]) == ["the", "cat", "<oov>", "<oov>"]
    assert len(Vocabulary.build(texts, min_count=1, max_size=3)) == 5
    with pytest.raises(ConfigError):
        Vocabulary.build(texts, min_count=0)


def test_vocabulary_json_round_trip(tmp_path: Path) -> None:
    v = Vocabulary.build(["naïve café", "naïve café don't", "don't"], min_count=2)
    assert Vocabulary.from_json(v.to_json()) == v
    v.save(tmp_path / "vocab.json")
    assert Vocabulary.load(tmp_path / "vocab.json") == v
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(FeatureError, match="bad.json"):
        Vocabulary.load(tmp_path / "bad.json")
    with pytest.raises(FeatureError):
        Vocabulary.from_json('{"words": [1, 2]}')


def test_vocabulary_reads_train_only(corpus: Corpus) -> None:
    v = build_vocabulary(corpus, min_count=2)
    assert set(v.itos[2:]) == {"i", "feel", "fine", "the", "time"}
    assert "testonlyword" not in v and "devonlyword" not in v
    assert v.encode("testonlyword") == [OOV_ID]
    assert "tired" not in v  # once in train (the dev occurrence does not count)
    assert "tired" in build_vocabulary(corpus, min_count=1)


def test_text_config_validation() -> None:
    assert TextConfig().max_len == 64
    with pytest.raises(ConfigError):
        TextConfig(max_len=0)


def test_import_does_not_load_sentence_transformers() -> None:
    code = ("import sys, depscreen.features.dataset, depscreen.features.cache; "
            "assert 'sentence_transformers' not in sys.modules; "
            "assert 'transformers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_sentence_encoder_offline() -> None:
    enc = SentenceEncoder()
    texts = ["I have been feeling down lately.", "The weather is nice today.", "ok"]
    emb = enc.encode(texts)
    assert emb.shape == (3, 384) and emb.dtype == np.float32
    assert np.all(np.isfinite(emb))
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-4)
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert enc.encode([]).shape == (0, 384)
    np.testing.assert_allclose(enc.encode(texts[:1])[0], emb[0], atol=1e-5)
    assert "all-MiniLM-L6-v2" in enc.name
