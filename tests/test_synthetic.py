"""The synthetic DAIC-WOZ-layout corpus: layout, formats, labels, quirks, determinism, resume."""

from __future__ import annotations

import csv
import math
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
    assign_labels,
    clean_text,
    daic_ids,
    generate_corpus,
    is_synthetic_corpus,
    load_truth,
    plan_corpus,
    sample_phq8,
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


# ----------------------------------------------------------------------------- plan and latent
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


def test_invalid_jobs_raises_config_error(tmp_path):
    with pytest.raises(ConfigError):
        generate_corpus(tmp_path / "x", SynthConfig(participants=1), jobs=0, progress=False)


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


def test_signal_zero_removes_the_channel():
    plans = plan_corpus(SynthConfig(participants=40, text_signal=0, speech_signal=0))
    config = SynthConfig(participants=40, text_signal=0, speech_signal=0)
    personas = [syn.make_persona(p, config) for p in plans]
    assert all(p.speech_shift == 0 for p in personas)
    # With no text signal the chance of a negative answer ignores the PHQ-8 entirely.
    for plan, persona in zip(plans, personas, strict=True):
        expected = 1 / (1 + math.exp(-(syn.TEXT_BASE_LOGIT + persona.text_bias)))
        assert syn.p_negative(plan, persona, "Sleep", 0.0) == pytest.approx(expected)


def test_text_signal_zero_makes_the_words_independent_of_the_phq8():
    config = SynthConfig(participants=40, text_signal=0)
    plans = plan_corpus(config)
    healthy = next(p for p in plans if p.score == 0)
    depressed = max(plans, key=lambda p: p.score)
    persona = syn.make_persona(healthy, config)
    for topic in syn.TOPICS:
        answers = [
            syn.compose_answer(np.random.default_rng(5), topic, plan, persona, 0.0)
            for plan in (healthy, depressed)
        ]
        assert answers[0] == answers[1]
    # ...and the knob is live: more negative answers for the depressed participant when on.
    negatives = {
        signal: sum(
            syn.compose_answer(np.random.default_rng(k), syn.TOPICS[3], depressed, persona, signal)[
                1
            ]
            for k in range(200)
        )
        for signal in (0.0, 1.0)
    }
    assert negatives[1.0] > negatives[0.0] + 20


def test_depression_shifts_both_channels_at_default_strength():
    config = SynthConfig()
    plans = plan_corpus(config)
    shift = {0: [], 1: []}
    pneg = {0: [], 1: []}
    for p in plans:
        persona = syn.make_persona(p, config)
        # Among people whose style lets depression show in that channel.
        if persona.style != "words":
            shift[p.label].append(persona.speech_shift)
        if persona.style != "voice":
            pneg[p.label].append(syn.p_negative(p, persona, "Sleep", config.text_signal))
    assert np.mean(shift[1]) - np.mean(shift[0]) > 0.5
    assert np.mean(pneg[1]) - np.mean(pneg[0]) > 0.15


def test_expression_styles_make_the_channels_fail_on_different_people():
    """Depression shows in both channels, only the words or only the voice, drawn per person
    independently of the label: a depressed "voice" person words answers like someone
    without depression, and a depressed "words" person sounds like one."""
    config = SynthConfig()
    plans = plan_corpus(config)
    personas = {p.sid: syn.make_persona(p, config) for p in plans}
    muted_text = [p for p in plans if personas[p.sid].text_expression == 0.0]
    share = len(muted_text) / len(plans)
    assert 0.25 < share < 0.55  # "voice" style: 40 %
    dep_share = np.mean([p.label for p in muted_text])
    assert abs(dep_share - np.mean([p.label for p in plans])) < 0.12  # label-free draw
    for plan in (p for p in muted_text if p.label):
        persona = personas[plan.sid]
        expected = 1 / (1 + math.exp(-(syn.TEXT_BASE_LOGIT + persona.text_bias)))
        assert syn.p_negative(plan, persona, "Sleep", 1.0) == pytest.approx(expected)
    # Depressed people whose voice is muted ("words") sound like people without depression.
    def mean_shift(keep) -> float:
        return float(np.mean([personas[p.sid].speech_shift for p in plans if keep(p)]))

    healthy = mean_shift(lambda p: not p.label)
    words_only = mean_shift(lambda p: p.label and personas[p.sid].style == "words")
    voiced = mean_shift(lambda p: p.label and personas[p.sid].style != "words")
    assert abs(words_only - healthy) < 0.3 < voiced - healthy


def test_clean_text_removes_transcript_tokens():
    raw = "<sync> [laughter] i'm from xxx  scrubbed_entry <clears throat> ohio [synch] xxxx"
    assert clean_text(raw) == "i'm from ohio"
    assert clean_text("[sync]") == ""


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


# ----------------------------------------------------------------------------- speech engine
def test_espeak_speaks_at_16k_and_rate_controls_duration():
    from depscreen.corpora.tts import get_engine

    engine = get_engine()
    fast = engine.synthesize("how are you doing today", "en-us+m3", rate=220)
    slow = engine.synthesize("how are you doing today", "en-us+m3", rate=110)
    assert fast.dtype == np.float32 and 0.5 < fast.size / 16000 < 3.0
    assert slow.size > 1.5 * fast.size
    assert 0.01 < np.sqrt(np.mean(fast**2)) < 0.5


# ----------------------------------------------------------------------------- CLI
def test_cli_synth_help():
    result = CliRunner().invoke(app, ["synth", "--help"])
    assert result.exit_code == 0
    for option in ("--out", "--participants", "--seed", "--text-signal", "--speech-signal",
                   "--minutes", "--questions", "--jobs", "--force"):  # fmt: skip
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
