"""The feature cache: keys, reuse, invalidation, concurrency, memory mapping, failures."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import Tiny

from depscreen.audio import load_audio
from depscreen.corpora.records import Corpus, Session
from depscreen.features.audio import LogMelConfig, logmel
from depscreen.features.cache import (
    extract_corpus,
    logmel_dir,
    safe_name,
    sentence_embeddings,
    source_key,
)
from depscreen.training.config import TrainConfig
from depscreen.training.run import train as train_run

from .conftest import write_wav


def train(corpus: Corpus) -> list[Session]:
    return corpus.by_split("train")


def test_extract_contents_and_memmap(corpus: Corpus, cfg: LogMelConfig, tmp_path: Path) -> None:
    res = extract_corpus(corpus, cfg, tmp_path / "cache", jobs=1, progress=False, split="train")
    assert list(res.handles) == ["A", "B"]  # C has no audio
    assert (res.extracted, res.reused, res.warnings) == (2, 0, [])
    a = res.handles["A"]
    assert [(s.utt, s.win) for s in a.samples] == [(0, 0), (2, 0), (2, 1), (2, 2)]
    frames = a.frames()
    assert isinstance(frames, np.memmap) and not frames.flags.writeable
    assert frames.shape == (a.n_frames, cfg.n_mels) and frames.dtype == np.float32
    # Each sample is logmel of exactly its slice of the decoded audio.
    wave, _ = load_audio(corpus.sessions[0].audio, cfg.sample_rate)
    for s in a.samples:
        np.testing.assert_array_equal(a.sample(s, normalised=False),
                                      logmel(wave[s.first : s.last], cfg))
    assert [s.last - s.first for s in a.samples] == [24000, 48000, 48000, 38400]
    # Normalisation stats are over all the session's frames.
    np.testing.assert_allclose(a.mean, np.asarray(frames).mean(axis=0), atol=1e-3)
    z = np.concatenate([a.sample(s) for s in a.samples])
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-3)
    # B: zipped, 8 kHz stereo -> resampled and mixed down, noted in the index.
    b = res.handles["B"]
    assert len(b.samples) == 2
    assert any("resampled" in n for n in b.index["notes"])
    # Handles pickle without their memory map (DataLoader workers reopen it).
    b2 = pickle.loads(pickle.dumps(b))
    assert b2._frames is None and np.array_equal(b2.frames(), b.frames())


def test_second_call_reuses(corpus: Corpus, cfg: LogMelConfig, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = extract_corpus(train(corpus), cfg, cache, jobs=1, progress=False)
    files = sorted(logmel_dir(cache, cfg).iterdir())
    mtimes = [p.stat().st_mtime_ns for p in files]
    second = extract_corpus(train(corpus), cfg, cache, jobs=1, progress=False)
    assert (second.extracted, second.reused) == (0, 2)
    assert sorted(logmel_dir(cache, cfg).iterdir()) == files
    assert [p.stat().st_mtime_ns for p in files] == mtimes
    assert second.handles["A"].index == first.handles["A"].index


def test_config_change_gives_new_entries(corpus: Corpus, cfg: LogMelConfig,
                                         tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    extract_corpus(train(corpus), cfg, cache, jobs=1, progress=False)
    other = LogMelConfig(max_seconds=3.0, min_seconds=1.0, n_mels=40)
    res = extract_corpus(train(corpus), other, cache, jobs=1, progress=False)
    assert res.extracted == 2 and res.handles["A"].frames().shape[1] == 40
    assert logmel_dir(cache, cfg) != logmel_dir(cache, other)
    assert (logmel_dir(cache, other) / "config.json").is_file()


def test_changed_audio_or_times_gives_new_key(corpus: Corpus, cfg: LogMelConfig,
                                              tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    a = corpus.sessions[0]
    old = np.array(extract_corpus([a], cfg, cache, jobs=1, progress=False).handles["A"].frames())
    key = source_key(a, cfg)
    write_wav(Path(a.audio), 12.0, seed=99)  # rewritten in place: same size, new content
    assert source_key(a, cfg) != key
    new = extract_corpus([a], cfg, cache, jobs=1, progress=False)
    assert new.extracted == 1
    assert not np.array_equal(np.asarray(new.handles["A"].frames()), old)
    names = [p.name for p in logmel_dir(cache, cfg).iterdir() if p.name.startswith("A-")]
    assert len(names) == 2  # the stale entry was removed: one .npy + one .json
    a.utterances = a.utterances[:1]
    assert source_key(a, cfg) != source_key(corpus.sessions[0], LogMelConfig(sample_rate=8000))


def test_bad_audio_is_skipped_with_warning(corpus: Corpus, cfg: LogMelConfig,
                                           tmp_path: Path) -> None:
    sessions = list(corpus.sessions)
    sessions.append(Session("M", "train", 0, audio=str(tmp_path / "missing.wav"),
                            utterances=sessions[0].utterances))
    res = extract_corpus(sessions, cfg, tmp_path / "cache", jobs=1, progress=False)
    assert set(res.handles) == {"A", "B", "D"}
    assert {w.session_id for w in res.warnings} == {"E", "M"}
    assert all("audio skipped" in w.message for w in res.warnings)


def test_corrupt_index_is_reextracted(corpus: Corpus, cfg: LogMelConfig, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    extract_corpus(train(corpus), cfg, cache, jobs=1, progress=False)
    idx = next(logmel_dir(cache, cfg).glob("A-*.json"))
    idx.write_text("{truncated")
    res = extract_corpus(train(corpus), cfg, cache, jobs=1, progress=False)
    assert (res.extracted, res.reused) == (1, 1)
    assert res.handles["A"].frames().shape[0] == res.handles["A"].n_frames


def test_parallel_pool_matches_serial(corpus: Corpus, cfg: LogMelConfig, tmp_path: Path) -> None:
    serial = extract_corpus(corpus, cfg, tmp_path / "s", jobs=1, progress=False)
    pooled = extract_corpus(corpus, cfg, tmp_path / "p", jobs=2, progress=True)
    assert list(pooled.handles) == list(serial.handles)
    assert [w.session_id for w in pooled.warnings] == ["E"]
    for sid, h in serial.handles.items():
        np.testing.assert_array_equal(np.asarray(pooled.handles[sid].frames()),
                                      np.asarray(h.frames()))


_CHILD = """
import pickle, sys
from depscreen.features.cache import extract_corpus
sessions, cfg, cache = pickle.load(open(sys.argv[1], "rb"))
res = extract_corpus(sessions, cfg, cache, jobs=1, progress=False)
assert not res.warnings, res.warnings
"""


def test_two_processes_extract_concurrently(corpus: Corpus, cfg: LogMelConfig,
                                            tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    job = tmp_path / "job.pkl"
    job.write_bytes(pickle.dumps((train(corpus), cfg, cache)))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    procs = [subprocess.Popen([sys.executable, "-c", _CHILD, str(job)], env=env)
             for _ in range(2)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    folder = logmel_dir(cache, cfg)
    assert not list(folder.glob(".*.tmp")) and not list(folder.glob(".*.npy"))
    res = extract_corpus(train(corpus), cfg, cache, jobs=1, progress=False)
    assert (res.extracted, res.reused) == (0, 2)
    fresh = extract_corpus(train(corpus), cfg, tmp_path / "fresh", jobs=1, progress=False)
    for sid, h in fresh.handles.items():
        np.testing.assert_array_equal(np.asarray(res.handles[sid].frames()),
                                      np.asarray(h.frames()))


def test_safe_names() -> None:
    assert safe_name("300") == "300"
    assert safe_name("a/b") != safe_name("a_b")
    assert "/" not in safe_name("a/b")


class FakeEncoder:
    """Stands in for SentenceEncoder: deterministic vectors, counts the texts it encodes."""

    name = "fake-encoder"
    dim = 384

    def __init__(self) -> None:
        self.seen: list[str] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.seen.extend(texts)
        return np.array([np.full(384, len(t), np.float32) for t in texts]).reshape(-1, 384)


def test_sentence_embedding_cache(corpus: Corpus, tmp_path: Path) -> None:
    enc = FakeEncoder()
    out = sentence_embeddings(train(corpus), enc, tmp_path / "cache")
    assert list(out) == ["A", "B", "C"]
    assert out["A"].shape == (3, 384) and out["A"][0, 0] == len("I feel tired all the time")
    assert np.all(out["B"] == 0)  # no text: zero rows, nothing encoded
    assert len(enc.seen) == 6
    again = sentence_embeddings(train(corpus), enc, tmp_path / "cache")
    assert len(enc.seen) == 6 and np.array_equal(again["A"], out["A"])
    corpus.sessions[2].utterances[0] = corpus.sessions[2].utterances[0].__class__(
        "C", 0.0, 1.0, "changed text")
    sentence_embeddings(train(corpus), enc, tmp_path / "cache")
    assert enc.seen[6:] == ["changed text", "the time is fine", "ok"]


@pytest.mark.parametrize("name", ["A", "B"])
def test_handles_index_is_json_serialisable(corpus: Corpus, cfg: LogMelConfig, tmp_path: Path,
                                            name: str) -> None:
    import json

    res = extract_corpus(train(corpus), cfg, tmp_path / "c", jobs=1, progress=False)
    idx = json.loads(next(logmel_dir(tmp_path / "c", cfg).glob(f"{name}-*.json")).read_text())
    assert idx["n_frames"] == res.handles[name].n_frames
    assert len(idx["mean"]) == len(idx["std"]) == cfg.n_mels


# A changed log-Mel config gives a run its own feature cache folder (no stale features).
QUICK = {"max_epochs": 1, "limit_train_batches": 1}


def test_audio_override_gets_a_new_cache_folder(tiny: Tiny, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    train_run(tiny.prepared, TrainConfig(model="cnn-speech", **QUICK), tmp_path / "a",
          cache_dir=cache, progress=False)
    first = sorted(p.name for p in cache.glob("logmel-*"))
    assert len(first) == 1

    train_run(tiny.prepared, TrainConfig(model="cnn-speech", audio={"n_mels": 40}, **QUICK),
          tmp_path / "b", cache_dir=cache, progress=False)
    both = sorted(p.name for p in cache.glob("logmel-*"))
    assert len(both) == 2 and set(first) < set(both)

    (new,) = set(both) - set(first)
    assert json.loads((cache / new / "config.json").read_text())["n_mels"] == 40
    assert json.loads((cache / first[0] / "config.json").read_text())["n_mels"] == 64
    run_b = json.loads((tmp_path / "b" / "config.json").read_text())
    assert run_b["features"]["audio"]["n_mels"] == 40
    # The model was built for the 40-band features it was trained on.
    assert json.loads((tmp_path / "b" / "model.json").read_text())["config"]["n_mels"] == 40
