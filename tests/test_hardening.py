"""Mistakes that used to end in a traceback get one line naming what is wrong (#13)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import Tiny


def _one_line_error(cli_cmd, cli_env, argv) -> str:
    res = subprocess.run([*cli_cmd, *map(str, argv)], env=cli_env, capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    return lines[0]


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0"])
def test_max_audio_mb_must_be_a_positive_finite_number(value, tiny: Tiny, tmp_path: Path,
                                                       cli_cmd, cli_env) -> None:
    line = _one_line_error(cli_cmd, cli_env, [
        "prepare", "--corpus", "daic-woz", "--root", tiny.root, "--out", tmp_path / "p",
        "--max-audio-mb", value])
    assert "--max-audio-mb must be a positive number of MiB" in line
    assert not (tmp_path / "p").exists()
    line = _one_line_error(cli_cmd, cli_env, [
        "predict", "--model", tmp_path / "none.dsb", "--text", "hello there",
        "--max-audio-mb", value])
    assert "--max-audio-mb must be a positive number of MiB" in line


def test_evaluate_refuses_an_unknown_aggregation(trained_run, cli_cmd, cli_env,
                                                 tmp_path: Path) -> None:
    run = trained_run("tfidf-lr")
    line = _one_line_error(cli_cmd, cli_env, ["evaluate", run, "--aggregation", "median",
                                              "--out", tmp_path / "ev"])
    assert "--aggregation must be one of mean, majority, got 'median'" in line
    assert not (tmp_path / "ev").exists()


def test_evaluate_on_truncated_weights_names_the_file(trained_run, cli_cmd, cli_env,
                                                      tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run("tfidf-lr"), run)
    weights = run / "weights.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    line = _one_line_error(cli_cmd, cli_env, ["evaluate", run, "--out", tmp_path / "ev"])
    assert str(weights) in line and "not a readable safetensors file" in line


def test_a_deeply_nested_json_in_a_run_folder_is_one_line(trained_run, cli_cmd, cli_env,
                                                         tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(trained_run("tfidf-lr"), run)
    (run / "config.json").write_text("[" * 100_000 + "]" * 100_000)
    line = _one_line_error(cli_cmd, cli_env, ["export", run, "--out", tmp_path / "m.dsb"])
    assert str(run / "config.json") in line and "nested too deeply" in line


@pytest.mark.parametrize("name", ["[/x].dsb", "[bold red]m[/].dsb", "a\x1b[31mred.dsb"])
def test_printed_paths_are_shown_as_they_are(name, tmp_path: Path, cli_cmd, cli_env) -> None:
    """Markup in a file name is printed literally, control characters as \\xNN (#13 item 4)."""
    line = _one_line_error(cli_cmd, cli_env, ["predict", "--model", tmp_path / name,
                                              "--text", "hello there"])
    assert "\x1b" not in line
    assert name.replace("\x1b", "\\x1b") in line


def test_formula_text_in_a_session_id_is_not_a_formula_in_any_csv(tmp_path: Path) -> None:
    """#13 item 10: sessions.csv and predict's CSV quote formula-like cells; IDs round-trip."""
    from corpora.fixtures import write_manifest

    from depscreen.corpora.prepare import load_prepared, prepare
    from depscreen.inference.batch import BATCH_COLUMNS, batch_csv

    evil = '=HYPERLINK("http://x","y")'
    rows = [{"session_id": evil, "label": 1, "text": "i feel low", "split": "train"},
            {"session_id": "+1", "label": 0, "text": "i feel fine", "split": "train"},
            {"session_id": "ok", "label": 0, "text": "fine", "split": "dev"},
            {"session_id": "@x", "label": 1, "text": "sad", "split": "test"}]
    manifest = write_manifest(tmp_path / "data" / "m.csv", rows)
    prepare("manifest", manifest, tmp_path / "prep", progress=False)
    text = (tmp_path / "prep" / "sessions.csv").read_text()
    cells = [line.split(",")[0].lstrip('"') for line in text.splitlines()[1:]]
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)
    assert "'=HYPERLINK" in text
    back = {s.session_id for s in load_prepared(tmp_path / "prep").sessions}
    assert back == {evil, "+1", "ok", "@x"}
    row = dict.fromkeys(BATCH_COLUMNS, "")
    row.update(session_id=evil, error="-bad")
    out = batch_csv([row])
    assert "'=HYPERLINK" in out and ",'-bad," in out


def test_export_refuses_non_finite_dev_probabilities(trained_run, tmp_path: Path) -> None:
    """#13 item 10: a NaN in dev_predictions.csv is refused, not passed with a warning."""
    import pandas as pd

    from depscreen.inference.bundle import BundleError, export_bundle

    run = tmp_path / "run"
    shutil.copytree(trained_run("tfidf-lr"), run)
    dev = pd.read_csv(run / "dev_predictions.csv")
    dev.loc[0, "prob"] = float("nan")
    dev.to_csv(run / "dev_predictions.csv", index=False)
    with pytest.raises(BundleError, match="not finite numbers") as err:
        export_bundle(run, tmp_path / "m.dsb")
    assert "dev_predictions.csv" in str(err.value)
    assert not (tmp_path / "m.dsb").exists()


def _wav_with_rate(path: Path, rate: int) -> Path:
    """A valid 16 kHz PCM WAV whose header then claims `rate` Hz."""
    import struct

    import numpy as np
    import soundfile as sf

    sf.write(path, (0.1 * np.sin(np.arange(16000) / 5)).astype("float32"), 16000,
             subtype="PCM_16")
    data = bytearray(path.read_bytes())
    data[24:28] = struct.pack("<I", rate)
    data[28:32] = struct.pack("<I", rate * 2)  # byte rate
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("rate", [1, 4000, 400_000])
def test_a_wav_header_with_an_absurd_rate_is_refused_before_decoding(rate, tmp_path: Path):
    """#13 item 3: a 1 Hz header made 32 KB decode into hours of audio."""
    from depscreen.audio import audio_info, load_audio
    from depscreen.errors import AudioError

    wav = _wav_with_rate(tmp_path / "x.wav", rate)
    for read in (audio_info, load_audio):
        with pytest.raises(AudioError, match=f"sample rate {rate} Hz is outside 8-192 kHz"):
            read(str(wav))


def test_a_forged_model_size_is_refused_before_allocating(tmp_path: Path) -> None:
    """#13 item 3: model.json asking for a huge layer is compared with the weights first."""
    import resource

    from depscreen.inference.archive import BundleError
    from depscreen.inference.rebuild import build_model
    from depscreen.models import create_model

    real = create_model("lstm-cnn-text", vocab_size=50)
    state = real.state_dict()
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(BundleError, match="needs .* weights but the weights file holds"):
        build_model("lstm-cnn-text", {"vocab_size": 50, "hidden_size": 4_000_000}, state,
                    tmp_path / "m.dsb")
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 500  # the forged layer alone would be ~64 GB


def test_deeply_nested_json_is_a_bundle_error(tmp_path: Path) -> None:
    from depscreen.inference.archive import BundleError, parse_json

    with pytest.raises(BundleError, match="nested too deeply"):
        parse_json(b"[" * 200_000 + b"]" * 200_000, "model.json", tmp_path / "m.dsb")


def test_prepare_warnings_do_not_quote_transcripts(tmp_path: Path) -> None:
    """#13 item 5: a bad transcript field is not quoted in warnings or prepare.json."""
    from corpora.fixtures import DaicSession, build_daic, daic_transcript

    from depscreen.corpora.prepare import prepare

    secret = "SECRETWORD i want to die"
    bad = daic_transcript([(1, 2, "Ellie", "hi"), (3, 4, "Participant", "a")]).replace(
        "3.0", secret).encode()
    root = build_daic(tmp_path / "daic", [DaicSession("300", "train", transcript=bad),
                                          DaicSession("301", "train"),
                                          DaicSession("302", "dev", score=12),
                                          DaicSession("303", "test")])
    result = prepare("daic-woz", root, tmp_path / "prep", progress=False)
    warnings = " ".join(str(w) for w in result.warnings)
    assert "session 300 skipped" in warnings and "SECRETWORD" not in warnings
    assert "SECRETWORD" not in (tmp_path / "prep" / "prepare.json").read_text()


def test_a_manifest_that_is_not_one_is_not_echoed(tmp_path: Path, cli_cmd, cli_env) -> None:
    """#13 item 5: pointing --manifest at /etc/passwd-like text does not print its content."""
    f = tmp_path / "passwd"
    f.write_text("root:x:0:0:SECRET:/root:/bin/bash\n")
    line = _one_line_error(cli_cmd, cli_env, ["predict", "--model", tmp_path / "m.dsb",
                                              "--manifest", f])
    assert "SECRET" not in line and "root:x" not in line and "bin/bash" not in line


def test_emoji_codes_in_names_print_as_typed(tmp_path: Path, cli_cmd, cli_env) -> None:
    line = _one_line_error(cli_cmd, cli_env, ["predict", "--model", tmp_path / ":x:.dsb",
                                              "--text", "hello there"])
    assert ":x:.dsb" in line


def test_an_unclosed_quote_does_not_swallow_the_transcript(tmp_path: Path) -> None:
    """#13 item 7: a value starting with an unclosed `"` used to join the rest of the file
    into one utterance without a word; now the line is named."""
    from depscreen.corpora.transcripts import parse_transcript
    from depscreen.errors import TranscriptError

    text = ("start_time\tstop_time\tspeaker\tvalue\n"
            "1.0\t2.0\tEllie\thi\n"
            '3.0\t4.0\tParticipant\t"well i\n'
            "5.0\t6.0\tParticipant\tfine\n"
            "7.0\t8.0\tParticipant\tokay\n")
    with pytest.raises(TranscriptError, match="quote opened on line 3 is not closed") as e:
        parse_transcript(text, "t.csv")
    assert e.value.line == 3
    fine = text.replace('"well i', "well i")
    assert len(parse_transcript(fine, "t.csv")) == 4


def test_duplicated_transcript_lines_are_scored_once_with_a_warning() -> None:
    """#13 item 7: a repeated line was counted twice silently."""
    from depscreen.corpora.transcripts import parse_transcript, participant_utterances
    from depscreen.errors import WarningCollector

    text = ("start_time\tstop_time\tspeaker\tvalue\n1.0\t2.0\tEllie\thi\n"
            "3.0\t4.0\tParticipant\ti am fine\n3.0\t4.0\tParticipant\ti am fine\n"
            "5.0\t6.0\tParticipant\tthanks\n")
    warnings = WarningCollector()
    utts, _ = participant_utterances("1", parse_transcript(text, "t.csv"), "t.csv", warnings)
    assert [u.text for u in utts] == ["i am fine", "thanks"]
    assert [str(w) for w in warnings.items] == [
        "t.csv: session 1: 1 duplicated transcript line(s) dropped (same times and text)"]


def test_a_failed_evaluate_leaves_the_previous_evaluation_whole(trained_run, tmp_path: Path,
                                                                monkeypatch) -> None:
    """#13 item 9: a write failure used to leave a folder holding only predictions.csv, or
    new CSVs beside the previous run's PNGs with metrics.json removed."""
    import depscreen.evaluation.figures as figures
    from depscreen.errors import DepscreenError
    from depscreen.evaluation.evaluate import evaluate_run

    run, out = trained_run("tfidf-lr"), tmp_path / "ev"
    evaluate_run(run, "dev", out=out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(figures, "save_confusion_matrix", fail)
    with pytest.raises(DepscreenError, match="cannot write the evaluation .No space left"):
        evaluate_run(run, "test", out=out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["ev"]  # no temporary folder left
    with pytest.raises(DepscreenError, match="cannot write the evaluation"):
        evaluate_run(run, "test", out=tmp_path / "fresh")
    assert not (tmp_path / "fresh").exists()
    monkeypatch.undo()
    evaluate_run(run, "test", out=out)  # a successful run replaces the folder whole
    assert json.loads((out / "metrics.json").read_text())["split"] == "test"
    # A folder holding anything but an evaluation is the user's: refused, left untouched.
    (out / "note.txt").write_text("the user's")
    with pytest.raises(DepscreenError, match="holds files that are not an evaluation's "
                                             r"\(note.txt\); choose a new or empty --out"):
        evaluate_run(run, "dev", out=out)
    assert (out / "note.txt").read_text() == "the user's"
    assert json.loads((out / "metrics.json").read_text())["split"] == "test"


def test_nothing_to_score_names_the_transcript(trained_run, tmp_path: Path, cli) -> None:
    """Found by the fuzz harness: a transcript whose only participant line has no words
    ('"\\x7f') ended in 'nothing to score' without naming the file."""
    t = tmp_path / "t.csv"
    t.write_bytes(b'start_time\tstop_time\tspeaker\tvalue\n0\t0\tParticipant\t"\x7f\n')
    code, out, err = cli("predict", "--model", trained_run("tfidf-lr"), "--transcript", t)
    assert code == 1 and out == ""
    assert err.strip() == (f"error: {t}: nothing to score: no utterance has text input long "
                           "enough for the model (utterances shorter than 1 s of audio are "
                           "skipped, and text needs words)")
