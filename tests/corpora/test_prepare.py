"""`prepare`: output files, no-work second run, root untouched, and the synthetic round trip."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from depscreen.cli import app
from depscreen.corpora.prepare import (
    META_FILE,
    SESSIONS_FILE,
    UTTERANCES_FILE,
    load_prepared,
    prepare,
)
from depscreen.corpora.synthetic import GENERATOR_VERSION, SIDECAR, SynthConfig, load_truth
from depscreen.errors import CorpusError

from .fixtures import small_daic, tree_state

REQUIRED_COLUMNS = {"session_id", "split", "label", "phq8_score", "gender", "n_utterances",
                    "speech_seconds", "n_words", "has_audio", "has_text"}


def test_prepare_writes_records_and_second_run_does_no_work(tmp_path: Path) -> None:
    root = small_daic(tmp_path / "daic")
    before = tree_state(root)
    out = tmp_path / "prepared"
    first = prepare("daic-woz", root, out)
    assert not first.cached
    sessions = pd.read_csv(out / SESSIONS_FILE, dtype={"session_id": str})
    assert REQUIRED_COLUMNS <= set(sessions.columns)
    assert sorted(sessions["session_id"]) == ["300", "301", "302"]
    with gzip.open(out / UTTERANCES_FILE, "rt") as f:
        utts = [json.loads(line) for line in f]
    assert utts and {"session_id", "start", "end", "text"} <= set(utts[0])
    assert sessions["n_utterances"].sum() == len(utts)

    mtimes = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    second = prepare("daic-woz", root, out)
    assert second.cached
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == mtimes
    assert tree_state(root) == before  # nothing under root is modified

    # Records read back equal the records written.
    back = load_prepared(out)
    assert [s.session_id for s in back.sessions] == [s.session_id for s in first.corpus.sessions]
    for a, b in zip(back.sessions, first.corpus.sessions, strict=True):
        assert (a.split, a.label, a.gender, a.audio) == (b.split, b.label, b.gender, b.audio)
        assert a.utterances == b.utterances


def test_changed_corpus_is_prepared_again(tmp_path: Path) -> None:
    root = small_daic(tmp_path / "daic")
    out = tmp_path / "prepared"
    prepare("daic-woz", root, out)
    transcript = next(root.glob("300_P/*_TRANSCRIPT.csv"))
    transcript.write_text(transcript.read_text() + "100.0\t101.0\tParticipant\tone more line\n")
    again = prepare("daic-woz", root, out)
    assert not again.cached


def test_interrupted_output_is_not_taken_as_done(tmp_path: Path) -> None:
    root = small_daic(tmp_path / "daic")
    out = tmp_path / "prepared"
    prepare("daic-woz", root, out)
    (out / META_FILE).unlink()  # as if the run died before its completion marker
    assert not prepare("daic-woz", root, out).cached


def test_synthetic_round_trip_gives_back_what_the_generator_wrote(tmp_path: Path) -> None:
    root = tmp_path / "synthetic"
    # The quirk sessions: offset transcript, label error, no interviewer lines.
    cfg = SynthConfig(ids=(300, 301, 302, 303, 304, 305, 318, 409, 451), questions=2, seed=3)
    result = prepare("synthetic", root, tmp_path / "prepared", synth_config=cfg, progress=False)
    assert result.generated
    truth = {str(s["id"]): s for s in load_truth(root)["sessions"]}
    got = {s.session_id: s for s in result.corpus.sessions}
    assert set(got) == set(truth)
    for sid, t in truth.items():
        s = got[sid]
        assert (s.split, s.label, s.gender) == (t["split"], t["label"], t["gender"])
        assert s.phq8_score == t["phq8_score"]
        assert [u.text for u in s.utterances] == [u["text"] for u in t["utterances"]]
        times = [(u.start, u.end) for u in s.utterances]
        expected = [(u["start"], u["end"]) for u in t["utterances"]]
        assert all(
            abs(a - c) < 1e-6 and abs(b - d) < 1e-6
            for (a, b), (c, d) in zip(times, expected, strict=True)
        )
    assert got["409"].label == 1  # written as 0 with score 10; the recipe fixes it
    # A second call neither regenerates nor re-prepares.
    again = prepare("synthetic", root, tmp_path / "prepared", synth_config=cfg, progress=False)
    assert again.cached and not again.generated


def test_synthetic_corpus_from_an_older_generator_is_regenerated(tmp_path: Path) -> None:
    root = tmp_path / "synthetic"
    cfg = SynthConfig(ids=(300, 301, 302, 303), questions=1, seed=3, quirks=False)
    prepare("synthetic", root, tmp_path / "prepared", synth_config=cfg, progress=False)
    sidecar = root / SIDECAR
    data = json.loads(sidecar.read_text())
    data["generator_version"] = GENERATOR_VERSION - 1
    sidecar.write_text(json.dumps(data))
    result = prepare("synthetic", root, tmp_path / "prepared", synth_config=cfg, progress=False)
    assert result.generated
    assert load_truth(root)["generator_version"] == GENERATOR_VERSION


def test_synthetic_refuses_a_folder_holding_something_else(tmp_path: Path) -> None:
    root = tmp_path / "mine"
    root.mkdir()
    (root / "notes.txt").write_text("my files")
    with pytest.raises(CorpusError, match="not empty"):
        prepare("synthetic", root, tmp_path / "out", progress=False)
    assert (root / "notes.txt").read_text() == "my files"


def test_unknown_corpus_and_missing_root(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="unknown corpus"):
        prepare("timit", tmp_path, tmp_path / "out")
    with pytest.raises(CorpusError, match="does not exist"):
        prepare("daic-woz", tmp_path / "nowhere", tmp_path / "out")


def test_cli_prepare_prints_summary(tmp_path: Path) -> None:
    root = small_daic(tmp_path / "daic")
    res = CliRunner().invoke(app, ["prepare", "--corpus", "daic-woz", "--root", str(root),
                                   "--out", str(tmp_path / "p")])
    assert res.exit_code == 0, res.output
    assert "train" in res.output and "total" in res.output and "hours" in res.output
    res = CliRunner().invoke(app, ["prepare", "--corpus", "daic-woz", "--root", str(root),
                                   "--out", str(tmp_path / "p")])
    assert "nothing to do" in res.output
