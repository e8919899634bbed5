"""The synthetic DAIC-WOZ-layout corpus on disk (synthetic/writer.py, corpus.py, truth.py and
`depscreen synth`): layout, formats, labels, quirks, determinism, resume.

The plan and the people are tested in test_synthetic_plan.py and test_synthetic_persona.py,
the speech engine in test_tts.py."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from depscreen.cli import app
from depscreen.corpora import synthetic as syn
from depscreen.corpora.records import PHQ8_ITEMS
from depscreen.corpora.synthetic import (
    SynthConfig,
    clean_text,
    generate_corpus,
    is_synthetic_corpus,
    load_truth,
)
from depscreen.errors import ConfigError, CorpusError

# 318: transcript offset; 373: interruption (395-428 s); 409: label error; 451: no Ellie lines.
IDS = (300, 302, 318, 373, 409, 451)
CONFIG = SynthConfig(ids=IDS, questions=2, seed=7)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "corpus"
    summary = generate_corpus(out, CONFIG, jobs=2, progress=False)
    assert summary.generated == len(IDS) and summary.skipped == 0
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _read_csv(path: Path, delimiter: str = ",") -> tuple[list[str], list[list[str]]]:
    with open(path, newline="") as f:
        rows = list(csv.reader(f, delimiter=delimiter))
    return rows[0], rows[1:]


def _transcript(root: Path, sid: int) -> list[list[str]]:
    header, rows = _read_csv(root / f"{sid}_P" / f"{sid}_TRANSCRIPT.csv", "\t")
    assert header == ["start_time", "stop_time", "speaker", "value"]
    return rows


def _reference_reader(root: Path, session: dict) -> list[dict]:
    """What a correct DAIC-WOZ reader returns for one session (offset, interruption, cleaning)."""
    q = session["quirks"]
    out = []
    for start, stop, speaker, value in _transcript(root, session["id"]):
        text = clean_text(value)
        if speaker.lower() != "participant" or not text:
            continue
        start, stop = float(start) + q["transcript_offset"], float(stop) + q["transcript_offset"]
        if q["interruption"] and start < q["interruption"][1] and stop > q["interruption"][0]:
            continue
        out.append({"start": start, "end": stop, "text": text})
    return out


# ----------------------------------------------------------------------------- files on disk
def test_layout_and_split_headers_are_daic_woz(corpus):
    for sid in IDS:
        assert sorted(p.name for p in (corpus / f"{sid}_P").iterdir()) == [
            f"{sid}_AUDIO.wav",
            f"{sid}_TRANSCRIPT.csv",
        ]
    items = [f"PHQ8_{i}" for i in PHQ8_ITEMS]
    expected = {
        "train_split_Depression_AVEC2017.csv": ["Participant_ID", "PHQ8_Binary", "PHQ8_Score", "Gender", *items],
        "dev_split_Depression_AVEC2017.csv": ["Participant_ID", "PHQ8_Binary", "PHQ8_Score", "Gender", *items],
        "test_split_Depression_AVEC2017.csv": ["participant_ID", "Gender"],
        "full_test_split.csv": ["Participant_ID", "PHQ_Binary", "PHQ_Score", "Gender"],
    }  # fmt: skip
    listed: list[int] = []
    for name, header in expected.items():
        got, rows = _read_csv(corpus / name)
        assert got == header, name
        assert all(len(r) == len(header) for r in rows)
        if name != "full_test_split.csv":
            listed += [int(r[0]) for r in rows]
    assert sorted(listed) == sorted(IDS)
    _, test_rows = _read_csv(corpus / "test_split_Depression_AVEC2017.csv")
    _, full_rows = _read_csv(corpus / "full_test_split.csv")
    assert [r[0] for r in test_rows] == [r[0] for r in full_rows]
    assert len(test_rows) >= 1


def test_transcripts_are_tab_separated_lowercase_with_float_times(corpus):
    for sid in IDS:
        text = (corpus / f"{sid}_P" / f"{sid}_TRANSCRIPT.csv").read_text()
        assert text.splitlines()[0] == "start_time\tstop_time\tspeaker\tvalue"
        rows = _transcript(corpus, sid)
        assert rows and all(len(r) == 4 for r in rows)
        starts = [float(r[0]) for r in rows]
        assert starts == sorted(starts) and min(starts) >= 0
        assert all(float(r[1]) > float(r[0]) for r in rows)
        assert {r[2] for r in rows} <= {"Ellie", "Participant", "participant"}
        assert all(r[3] == r[3].lower() and "," not in r[3] for r in rows)


def test_wav_is_16k_mono_pcm16_with_a_noise_floor(corpus):
    truth = {s["id"]: s for s in load_truth(corpus)["sessions"]}
    for sid in IDS:
        path = corpus / f"{sid}_P" / f"{sid}_AUDIO.wav"
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
        assert info.frames / 16000 == pytest.approx(truth[sid]["audio_seconds"], abs=1e-3)
        head, _ = sf.read(path, frames=8000, dtype="int16")
        assert np.count_nonzero(head) > 4000  # background noise, not digital silence
        x, _ = sf.read(path, dtype="float32")
        loud = [np.sqrt(np.mean(x[int(u["start"] * 16000) : int(u["end"] * 16000)] ** 2))
                for u in truth[sid]["utterances"]]  # fmt: skip
        floor = np.sqrt(np.mean((head.astype(np.float32) / 32768) ** 2))
        assert min(loud) > 10 * floor


def test_labels_scores_and_items_are_consistent(corpus):
    truth = {s["id"]: s for s in load_truth(corpus)["sessions"]}
    for name in ("train_split_Depression_AVEC2017.csv", "dev_split_Depression_AVEC2017.csv"):
        header, rows = _read_csv(corpus / name)
        for row in rows:
            r = dict(zip(header, row, strict=True))
            sid, score = int(r["Participant_ID"]), int(r["PHQ8_Score"])
            items = [int(r[f"PHQ8_{i}"]) for i in PHQ8_ITEMS]
            assert sum(items) == score and all(0 <= v <= 3 for v in items)
            t = truth[sid]
            assert t["phq8_score"] == score and [t["phq8_items"][i] for i in PHQ8_ITEMS] == items
            assert t["split"] == name.split("_")[0]
            assert int(r["Gender"]) == (1 if t["gender"] == "male" else 0)
            if sid == 409:  # the real corpus's label error, reproduced
                assert (score, int(r["PHQ8_Binary"]), t["label"]) == (10, 0, 1)
            else:
                assert int(r["PHQ8_Binary"]) == int(score >= 10) == t["label"]
    header, rows = _read_csv(corpus / "full_test_split.csv")
    for row in rows:
        t = truth[int(row[0])]
        assert (int(row[1]), int(row[2])) == (int(t["phq8_score"] >= 10), t["phq8_score"])


def test_quirks_are_emulated(corpus):
    truth = {s["id"]: s for s in load_truth(corpus)["sessions"]}
    # 318: transcript lags the audio; truth is in audio time = transcript time + offset.
    rows = _transcript(corpus, 318)
    assert truth[318]["quirks"]["transcript_offset"] == pytest.approx(34.319917)
    first_participant = next(u for u in truth[318]["utterances"])
    matching = [r for r in rows if clean_text(r[3]) == first_participant["text"]]
    assert float(matching[0][0]) + 34.319917 == pytest.approx(first_participant["start"], abs=1e-6)
    # 451: no Ellie lines at all.
    assert not any(r[2].lower() == "ellie" for r in _transcript(corpus, 451))
    assert any(r[2].lower() == "ellie" for r in _transcript(corpus, 300))
    # 373: an interruption the reader must cut; transcribed asides inside it, no truth inside it.
    a, b = truth[373]["quirks"]["interruption"]
    assert (a, b) == (395.0, 428.0) and truth[373]["audio_seconds"] > b
    inside = [r for r in _transcript(corpus, 373)
              if r[2].lower() == "participant" and float(r[0]) < b and float(r[1]) > a]  # fmt: skip
    assert inside
    assert all(u["end"] <= a or u["start"] >= b for u in truth[373]["utterances"])
    assert any(u["start"] >= b for u in truth[373]["utterances"])


def test_truth_is_what_a_correct_reader_returns(corpus):
    for session in load_truth(corpus)["sessions"]:
        got = _reference_reader(corpus, session)
        want = session["utterances"]
        assert [u["text"] for u in got] == [u["text"] for u in want]
        for g, w in zip(got, want, strict=True):
            assert g["start"] == pytest.approx(w["start"], abs=1e-6)
            assert g["end"] == pytest.approx(w["end"], abs=1e-6)
            assert w["end"] > w["start"]
        assert len(want) >= 3  # consent, answers, goodbye


def test_generation_is_byte_identical_across_jobs(corpus, tmp_path):
    again = tmp_path / "again"
    generate_corpus(again, CONFIG, jobs=1, progress=False)
    a, b = _files(corpus), _files(again)
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []


def test_interrupted_generation_resumes(corpus, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(corpus, work)
    before = _files(work)
    # An interruption: one session never renamed into place, a leftover temp folder, no sidecar.
    shutil.rmtree(work / "302_P")
    (work / ".302_P.tmp-999").mkdir()
    (work / syn.SIDECAR).unlink()
    assert not is_synthetic_corpus(work)
    summary = generate_corpus(work, CONFIG, jobs=1, progress=False)
    assert (summary.generated, summary.skipped) == (1, len(IDS) - 1)
    assert _files(work) == before
    assert is_synthetic_corpus(work)


def test_invalid_jobs_raises_config_error(tmp_path):
    with pytest.raises(ConfigError):
        generate_corpus(tmp_path / "x", SynthConfig(participants=1), jobs=0, progress=False)


def test_existing_folders_are_protected(corpus, tmp_path):
    with pytest.raises(ConfigError, match="other settings"):
        generate_corpus(corpus, SynthConfig(ids=IDS, questions=2, seed=8), progress=False)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        generate_corpus(foreign, SynthConfig(participants=1), progress=False, force=True)
    assert (foreign / "notes.txt").read_text() == "mine"


def test_force_replaces_a_corpus_made_with_other_settings(tmp_path):
    out = tmp_path / "c"
    generate_corpus(out, SynthConfig(ids=(301, 303), questions=1), jobs=2, progress=False)
    summary = generate_corpus(
        out, SynthConfig(ids=(304,), questions=1), jobs=1, progress=False, force=True
    )
    assert summary.generated == 1
    assert sorted(p.name for p in out.glob("*_P")) == ["304_P"]
    assert [s["id"] for s in load_truth(out)["sessions"]] == [304]


def test_truth_loading_and_detection(corpus, tmp_path):
    data = load_truth(corpus)
    assert data["complete"] and data["config"]["seed"] == 7
    assert [s["id"] for s in data["sessions"]] == sorted(IDS)
    assert is_synthetic_corpus(corpus)
    assert not is_synthetic_corpus(tmp_path)
    with pytest.raises(CorpusError):
        load_truth(tmp_path)


# ----------------------------------------------------------------------------- CLI
def test_cli_synth_help():
    result = CliRunner().invoke(app, ["synth", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--participants", "--seed", "--text-signal", "--speech-signal",
                   "--minutes", "--questions", "--jobs", "--prompt-leak", "--force"):  # fmt: skip
        assert option in result.output


def test_cli_synth_generates_and_rejects_bad_values(tmp_path):
    runner = CliRunner()
    out = tmp_path / "cli"
    ok = runner.invoke(
        app, ["synth", "--out", str(out), "--participants", "1", "--questions", "1", "--jobs", "1"]
    )
    assert ok.exit_code == 0, ok.output
    assert (out / "300_P" / "300_AUDIO.wav").is_file() and is_synthetic_corpus(out)
    bad = runner.invoke(app, ["synth", "--out", str(tmp_path / "bad"), "--text-signal", "-1"])
    assert isinstance(bad.exception, ConfigError)
