"""The interviewer-prompt leak knob of the synthetic corpus (`SynthConfig.prompt_leak`): the
default writes the same bytes as before the knob existed, 0 makes Ellie's words independent of
the answers without touching the participants' words, and a corpus's identity includes it."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from depscreen.cli import app
from depscreen.corpora import synthetic as syn
from depscreen.corpora.synthetic import SynthConfig, generate_corpus, load_truth
from depscreen.corpora.synthetic.script import (
    BACKCHANNEL_NEGATIVE,
    BACKCHANNEL_NEUTRAL,
    BACKCHANNEL_POSITIVE,
)
from depscreen.errors import ConfigError

# 409 is forced depressed (the label-error quirk); seed 2 gives answer-specific reactions.
IDS = (300, 301, 302, 303, 304, 409)
FAST = {"ids": IDS, "questions": 6, "seed": 2}
# "i see" is both a neutral and a negative backchannel, so it tells nothing.
SPECIFIC = (set(BACKCHANNEL_NEGATIVE) | set(BACKCHANNEL_POSITIVE)) - set(BACKCHANNEL_NEUTRAL)
NEGATIVE_ONLY = set(BACKCHANNEL_NEGATIVE) - set(BACKCHANNEL_NEUTRAL)


@pytest.fixture(scope="module")
def corpora(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("leak")
    configs = {
        "default": SynthConfig(**FAST),
        "explicit": SynthConfig(**FAST, prompt_leak=0.5),
        "none": SynthConfig(**FAST, prompt_leak=0.0),
        "always": SynthConfig(**FAST, prompt_leak=1),
    }
    for name, config in configs.items():
        generate_corpus(root / name, config, jobs=2, progress=False)
    return {name: root / name for name in configs}


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def _rows(root: Path, sid: int) -> list[list[str]]:
    with open(root / f"{sid}_P" / f"{sid}_TRANSCRIPT.csv", newline="") as f:
        return list(csv.reader(f, delimiter="\t"))[1:]


def _lines(root: Path, speaker: str) -> dict[int, list[str]]:
    return {sid: [r[3] for r in _rows(root, sid) if r[2] == speaker] for sid in IDS}


def _labels(root: Path) -> dict[int, int]:
    return {s["id"]: s["label"] for s in load_truth(root)["sessions"]}


def test_default_is_the_explicit_half_and_leaks(corpora):
    a, b = _files(corpora["default"]), _files(corpora["explicit"])
    assert a.keys() == b.keys()
    assert [k for k in a if a[k] != b[k]] == []
    assert any(k.endswith(".wav") for k in a) and any(k.endswith(".csv") for k in a)
    # The shortcut exists by default: "i'm sorry to hear that" after a depressed person's answer.
    labels, ellie = _labels(corpora["default"]), _lines(corpora["default"], "Ellie")
    assert any(NEGATIVE_ONLY & set(ellie[sid]) for sid in IDS if labels[sid] == 1)
    assert load_truth(corpora["default"])["config"]["prompt_leak"] == 0.5


def test_zero_leak_keeps_ellie_neutral_and_the_participants_words(corpora):
    none, default = corpora["none"], corpora["default"]
    ellie = _lines(none, "Ellie")
    assert not any(SPECIFIC & set(lines) for lines in ellie.values())
    assert any(set(BACKCHANNEL_NEUTRAL) & set(lines) for lines in ellie.values())
    assert _labels(none) == _labels(default)
    # Same words said by the participants; their times shift after a backchannel whose text
    # (hence duration) changed, so only the texts are compared.
    assert _lines(none, "Participant") == _lines(default, "Participant")
    assert json.loads((none / syn.SIDECAR).read_text())["config"]["prompt_leak"] == 0.0


def test_full_leak_always_reacts_to_the_answer(corpora):
    ellie = _lines(corpora["always"], "Ellie")
    assert not any((set(BACKCHANNEL_NEUTRAL) - set(BACKCHANNEL_NEGATIVE)) & set(lines)
                   for lines in ellie.values())  # fmt: skip
    assert any(SPECIFIC & set(lines) for lines in ellie.values())
    assert _lines(corpora["always"], "Participant") == _lines(corpora["default"], "Participant")


@pytest.mark.parametrize("leak", [-0.1, 1.5, float("nan"), True, "0.5"])
def test_prompt_leak_outside_0_1_is_refused(leak):
    with pytest.raises(ConfigError, match="prompt_leak"):
        SynthConfig(prompt_leak=leak)


def test_prompt_leak_is_part_of_the_corpus_identity(corpora, tmp_path):
    work = tmp_path / "work"
    shutil.copytree(corpora["default"], work)
    with pytest.raises(ConfigError, match="other settings"):
        generate_corpus(work, SynthConfig(**FAST, prompt_leak=0.0), progress=False)
    # A corpus written before the knob existed (no prompt_leak recorded) is the default one.
    for path in (work / syn.STATE_DIR / "config.json", work / syn.SIDECAR):
        data = json.loads(path.read_text())
        del data["config"]["prompt_leak"]
        path.write_text(json.dumps(data))
    (work / syn.SIDECAR).unlink()  # interrupted before the end: resumes
    summary = generate_corpus(work, SynthConfig(**FAST), jobs=1, progress=False)
    assert (summary.generated, summary.skipped) == (0, len(IDS))
    assert _files(work) == _files(corpora["default"])
    summary = generate_corpus(
        work, SynthConfig(**FAST, prompt_leak=0.0), jobs=2, progress=False, force=True
    )
    assert summary.generated == len(IDS)
    assert _files(work) == _files(corpora["none"])


def test_cli_synth_prompt_leak(tmp_path):
    runner = CliRunner()
    assert "--prompt-leak" in runner.invoke(app, ["synth", "--help"]).output
    out = tmp_path / "cli"
    ok = runner.invoke(app, ["synth", "--out", str(out), "--participants", "1", "--questions",
                             "1", "--jobs", "1", "--prompt-leak", "0"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert load_truth(out)["config"]["prompt_leak"] == 0.0
    bad = runner.invoke(app, ["synth", "--out", str(tmp_path / "bad"), "--prompt-leak", "2"])
    assert isinstance(bad.exception, ConfigError)


def test_without_leak_every_interview_asks_as_many_questions(tmp_path) -> None:
    """At 0 the number of questions does not follow the participant's pace either."""
    import csv

    from depscreen.corpora.synthetic import SynthConfig, generate_corpus
    from depscreen.corpora.synthetic.script import TOPICS

    questions = {t.question for t in TOPICS}
    generate_corpus(tmp_path / "c", SynthConfig(participants=6, minutes=0.5, prompt_leak=0.0,
                                                seed=4), progress=False)
    counts = set()
    for f in sorted((tmp_path / "c").glob("*_P/*_TRANSCRIPT.csv")):
        rows = list(csv.reader(f.open(), delimiter="\t"))
        counts.add(sum(1 for r in rows if len(r) >= 4 and r[2] == "Ellie" and r[3] in questions))
    assert counts == {3}  # 0.5 minutes at 6 questions a minute, whoever answers
