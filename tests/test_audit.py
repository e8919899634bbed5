"""The interviewer-prompt audit: --source, the default inputs, the verdict, the prompts."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import SMOKE, Tiny

from depscreen.audit import AuditConfig, audit, prompt_differences, verdict
from depscreen.errors import ConfigError, DepscreenError
from depscreen.features.audio import LogMelConfig
from depscreen.features.dataset import build_samples
from depscreen.inference.bundle import BundleError, export_bundle
from depscreen.training.config import TrainConfig
from depscreen.training.data import build_data, with_source
from depscreen.training.run import train


def _keys(ds) -> list[tuple]:
    return [(s.session_id, s.utt_index, s.window_index, s.start, s.end, s.has_text, s.tokens,
             None if s.span is None else (s.span.offset, s.span.n_frames)) for s in ds.samples]


def test_the_default_inputs_ignore_the_interviewer(tiny: Tiny, tmp_path: Path) -> None:
    """Samples of a default run are the same with or without interviewer turns prepared."""
    assert any(s.interviewer for s in tiny.corpus.sessions)
    bare = dataclasses.replace(tiny.corpus, sessions=[
        dataclasses.replace(s, interviewer=None) for s in tiny.corpus.sessions])
    cfg = TrainConfig(model="bilstm-cnn-fusion", **SMOKE)
    with_turns = build_data(tiny.corpus, cfg, tiny.cache_dir, progress=False)
    without = build_data(bare, cfg, tiny.cache_dir, progress=False)
    for split in ("train", "dev"):
        assert _keys(getattr(with_turns, split)) == _keys(getattr(without, split))
    test = build_samples(tiny.corpus, "test", LogMelConfig(), None, tiny.cache_dir,
                         vocab=with_turns.vocab, progress=False)
    test_bare = build_samples(bare, "test", LogMelConfig(), None, tiny.cache_dir,
                              vocab=with_turns.vocab, progress=False)
    assert _keys(test) == _keys(test_bare)


def test_source_swaps_whose_turns_are_read(tiny: Tiny) -> None:
    corpus = tiny.corpus
    assert with_source(corpus, "participant") is corpus
    ellie = with_source(corpus, "interviewer")
    s = next(s for s in corpus.sessions if s.interviewer)
    e = next(x for x in ellie.sessions if x.session_id == s.session_id)
    assert e.utterances == s.interviewer
    both = next(x for x in with_source(corpus, "both").sessions if x.session_id == s.session_id)
    assert len(both.utterances) == len(s.utterances) + len(s.interviewer)
    assert [u.start for u in both.utterances] == sorted(u.start for u in both.utterances)
    none = dataclasses.replace(corpus, sessions=[
        dataclasses.replace(x, interviewer=None) for x in corpus.sessions])
    with pytest.raises(ConfigError, match="no interviewer turns"):
        with_source(none, "interviewer")
    with pytest.raises(ConfigError, match="source must be one of"):
        TrainConfig(model="tfidf-lr", source="ellie")


def test_an_interviewer_run_trains_but_cannot_screen(tiny: Tiny, tmp_path: Path) -> None:
    out = tmp_path / "ellie"
    train(tiny.prepared, TrainConfig(model="tfidf-lr", source="interviewer", **SMOKE), out,
          progress=False)
    assert json.loads((out / "config.json").read_text())["train"]["source"] == "interviewer"
    with pytest.raises(BundleError, match="only participant-only runs can screen"):
        export_bundle(out, tmp_path / "x.dsb")


def test_the_verdict_model_is_chosen_on_dev_not_test() -> None:
    rows = [
        {"source": "interviewer", "model": "tfidf-lr", "ua_mean": 0.9, "ua_ci": [0.8, 0.95],
         "dev_ua_mean": 0.55},
        {"source": "interviewer", "model": "lstm-cnn-text", "ua_mean": 0.52,
         "ua_ci": [0.4, 0.64], "dev_ua_mean": 0.7},
        {"source": "participant", "model": "tfidf-lr", "ua_mean": 0.8, "ua_ci": [0.7, 0.9],
         "dev_ua_mean": 0.99},
    ]
    line, best = verdict(rows)
    assert best["model"] == "lstm-cnn-text"  # the better dev UA, though its test UA is lower
    assert line.startswith("no evidence of a shortcut") and "[0.40, 0.64]" in line
    rows[1]["ua_ci"] = [0.6, 0.8]
    assert verdict(rows)[0].startswith("interviewer turns predict the label (UA 0.52 [0.60, ")


def test_prompts_are_interviewer_text_counted_on_train(tiny: Tiny) -> None:
    prompts = prompt_differences(tiny.corpus, top=50)
    ellie = {u.text for s in tiny.corpus.by_split("train") for u in (s.interviewer or [])}
    assert prompts and all(p["prompt"] in ellie for p in prompts)
    train = [s for s in tiny.corpus.by_split("train") if s.interviewer]
    for p in prompts[:5]:
        dep = sum(1 for s in train if s.label == 1 and p["prompt"] in {u.text for u in s.interviewer})
        assert p["sessions_depressed"] == dep
    diffs = [abs(p["difference"]) for p in prompts]
    assert diffs == sorted(diffs, reverse=True)


def test_audit_writes_its_verdict_and_report(tiny: Tiny, tmp_path: Path) -> None:
    cfg = AuditConfig(corpus="daic-woz", root=tiny.root, out=tmp_path / "audit", seeds=1,
                      models=("tfidf-lr",), jobs=1, train_overrides=SMOKE, n_boot=50)
    summary = audit(cfg, progress=False)
    assert summary["verdict"].startswith(("interviewer turns predict", "no evidence"))
    assert {(r["source"], r["model"]) for r in summary["rows"]} == {
        ("interviewer", "tfidf-lr"), ("participant", "tfidf-lr")}
    md = (cfg.out / "audit.md").read_text()
    assert md.startswith("**Verdict:** ")
    page = (cfg.out / "report.html").read_text()
    assert "Interviewer-prompt audit" in page and summary["verdict"].split(" (")[0] in page
    # No participant words in what the audit lists.
    participant = {u.text for s in tiny.corpus.sessions for u in s.utterances}
    ellie = {u.text for s in tiny.corpus.sessions for u in (s.interviewer or [])}
    assert all(p["prompt"] in ellie for p in summary["prompts"])
    assert not any(p["prompt"] in participant - ellie for p in summary["prompts"])


def test_audit_explains_a_corpus_without_speaker_column(tmp_path: Path) -> None:
    from corpora.fixtures import EdaicSession, build_edaic

    sessions = [EdaicSession(str(300 + i), split=split, score=3 + 10 * (i % 2))
                for i, split in enumerate(["train", "train", "dev", "dev", "test", "test"])]
    root = build_edaic(tmp_path / "edaic", sessions)
    cfg = AuditConfig(corpus="edaic", root=root, out=tmp_path / "out", seeds=1, jobs=1)
    with pytest.raises(DepscreenError, match="no interviewer turns, so the interviewer-prompt "
                                             "audit cannot run .*E-DAIC"):
        audit(cfg, progress=False)
