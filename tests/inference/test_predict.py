"""Scoring interviews: the JSON result, modalities, consistency with training, batches."""

from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from depscreen import CAVEAT
from depscreen.errors import ConfigError, FeatureError
from depscreen.inference.batch import BATCH_COLUMNS, find_interviews, read_manifest
from depscreen.inference.bundle import load_model
from depscreen.inference.inputs import check_modalities
from depscreen.inference.predict import predict_interview

from .helpers import write_wav


def test_prediction_reproduces_the_runs_dev_predictions(loaded, run_dir, dev_session):
    """Inference builds exactly the samples training scored (same windows, same features)."""
    sid, audio, transcript = dev_session
    res = predict_interview(loaded, audio=audio, transcript=transcript)
    dev = pd.read_csv(run_dir / "dev_predictions.csv", dtype={"session_id": str})
    dev = dev[dev["session_id"] == sid]
    per_utt = dev.groupby("utt_index")["prob"].mean().to_numpy()
    got = np.array([e["probability"] for e in res["timeline"]])
    np.testing.assert_allclose(got, per_utt, atol=1e-4)
    assert res["probability"] == pytest.approx(dev["prob"].mean(), abs=1e-4)
    assert res["session_id"] == sid


def test_result_has_everything_the_issue_asks_for(loaded, dev_session):
    _, audio, transcript = dev_session
    res = predict_interview(loaded, audio=audio, transcript=transcript)
    assert 0.0 <= res["probability"] <= 1.0
    d = res["decision"]
    assert d["depressed"] == (res["probability"] >= d["threshold"])
    assert d["threshold"] == pytest.approx(loaded.thresholds["participant"])
    assert d["threshold_chosen_on"] == "dev"
    assert set(res["modalities"]) == {"text", "speech"}
    assert all(0 <= v <= 1 for v in res["modalities"].values())
    assert res["timeline"] and all(
        {"start", "end", "probability", "text", "speech"} <= set(e) for e in res["timeline"])
    assert all(e["start"] < e["end"] for e in res["timeline"])
    assert res["model"]["name"] == "decision-fusion" and len(res["model"]["version"]) == 12
    assert res["caveat"] == CAVEAT and "not a diagnostic" in CAVEAT
    assert res["inputs"]["text_source"] == "transcript"
    json.dumps(res)  # JSON-ready


def test_audio_only_with_decision_fusion(loaded, dev_session):
    _, audio, _ = dev_session
    res = predict_interview(loaded, audio=audio)
    assert res["modalities"]["text"] is None and res["modalities"]["speech"] is not None
    assert res["inputs"]["modalities_used"] == ["speech"] and res["inputs"]["text_source"] is None
    assert len(res["timeline"]) >= 2  # speech segments found by energy
    assert any("does not separate interviewer from participant" in w for w in res["warnings"])


def test_text_only_with_decision_fusion(loaded, dev_session):
    _, _, transcript = dev_session
    res = predict_interview(loaded, transcript=transcript)
    assert res["modalities"]["speech"] is None and res["modalities"]["text"] is not None
    assert res["inputs"]["modalities_used"] == ["text"]
    inline = predict_interview(loaded, text="i feel tired and i cannot sleep")
    assert inline["inputs"]["text_source"] == "text" and inline["timeline"]


def test_single_modal_models_need_their_modality(run_dir, dev_session):
    _, audio, transcript = dev_session
    text_model = load_model(run_dir / "text")
    speech_model = load_model(run_dir / "speech")
    assert predict_interview(text_model, transcript=transcript)["modalities"]["text"] is not None
    assert predict_interview(speech_model, audio=audio)["modalities"]["speech"] is not None
    with pytest.raises(ConfigError) as e:
        predict_interview(text_model, audio=audio)
    msg = str(e.value)
    assert "needs text input" in msg and "decision-fusion" in msg and "lstm-cnn-speech" in msg
    assert "--asr" in msg and "lstm-cnn-text" not in msg.split("work with these inputs:")[1]
    with pytest.raises(ConfigError) as e:
        predict_interview(speech_model, transcript=transcript)
    msg = str(e.value)
    assert "needs speech input" in msg and "decision-fusion" in msg and "lstm-cnn-text" in msg


def test_feature_fusion_needs_both_modalities(loaded):
    class Fake:
        name = "bilstm-cnn-fusion"
        modalities = frozenset({"text", "speech"})
        decision_level = False

    with pytest.raises(ConfigError, match="needs speech input.*decision-fusion"):
        check_modalities(Fake(), {"text"})
    check_modalities(Fake(), {"text", "speech"})


def test_platt_calibration_of_a_single_modal_run(run_dir):
    m = load_model(run_dir / "speech")
    assert m.calibration["method"] in ("platt", "identity")
    assert m.calibration["fitted_on"] == "dev"
    assert set(m.thresholds) == {"utterance", "participant"}


def test_text_is_not_in_the_result_unless_asked(loaded, tmp_path, dev_session):
    _, audio, transcript = dev_session
    vocabulary = set(transcript.read_text().split())
    res = predict_interview(loaded, audio=audio, transcript=transcript)
    with_text = predict_interview(loaded, audio=audio, transcript=transcript, include_text=True)
    said = [e["words"] for e in with_text["timeline"]]
    assert all(s and set(s.split()) <= vocabulary for s in said)
    dumped = json.dumps(res)
    assert all("words" not in e for e in res["timeline"])
    assert not any(s in dumped for s in said)


def test_non_finite_model_output_is_an_error(loaded, dev_session, monkeypatch):
    _, audio, transcript = dev_session
    model = loaded.model

    def nan_features(batch):
        n = batch["mel"].shape[0]
        return torch.full((n, 2), float("nan"))

    # NaN log-odds for both modalities would silently become p = 0.5: refuse instead.
    monkeypatch.setattr(model, "_probas", lambda f: (f[:, 0], f[:, 1], f[:, 0]))
    monkeypatch.setattr(model, "forward_features", nan_features)
    with pytest.raises(FeatureError, match="non-finite"):
        predict_interview(loaded, audio=audio, transcript=transcript)


def test_cli_predict_prints_and_writes_json(cli, bundle_path, dev_session, tmp_path):
    _, audio, transcript = dev_session
    out = tmp_path / "result.json"
    code, stdout, stderr = cli("predict", "--model", bundle_path, "--audio", audio,
                               "--transcript", transcript, "--out", out)
    assert code == 0, stderr
    printed = json.loads(stdout)
    assert json.loads(out.read_text()) == printed
    assert printed["model"]["source"] == "bundle"


def test_cli_predict_without_the_transcript(cli, bundle_path, dev_session):
    _, audio, _ = dev_session
    code, stdout, stderr = cli("predict", "--model", bundle_path, "--audio", audio)
    assert code == 0, stderr
    assert json.loads(stdout)["modalities"]["text"] is None
    assert "does not separate interviewer from participant" in stderr


# ----------------------------------------------------------------------------- batches


@pytest.fixture
def interview_folder(two_sessions, tmp_path):
    folder = tmp_path / "interviews"
    for _, audio, _ in two_sessions:
        shutil.copytree(audio.parent, folder / audio.parent.name)
    (folder / "999_P").mkdir()
    (folder / "999_P" / "999_AUDIO.wav").write_text("not audio at all")
    return folder


def test_find_interviews_pairs_audio_and_transcripts(interview_folder, two_sessions):
    items = {it.session_id: it for it in find_interviews(interview_folder)}
    ids = [sid for sid, _, _ in two_sessions]
    assert set(items) == {*ids, "999"}
    assert items[ids[0]].transcript.name == f"{ids[0]}_TRANSCRIPT.csv"
    assert items["999"].transcript is None


def test_batch_folder_gives_one_row_per_session(cli, bundle_path, interview_folder, tmp_path,
                                                two_sessions):
    out = tmp_path / "batch.csv"
    code, _, stderr = cli("predict", interview_folder, "--model", bundle_path, "--out", out)
    assert code == 1  # one session failed
    assert "1 session(s) could not be scored" in stderr and "Traceback" not in stderr
    rows = {r["session_id"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert list(next(iter(csv.reader(io.StringIO(out.read_text()))))) == list(BATCH_COLUMNS)
    ids = [sid for sid, _, _ in two_sessions]
    assert set(rows) == {*ids, "999"}
    assert rows["999"]["error"] and "not a readable audio file" in rows["999"]["error"]
    for sid in ids:
        assert not rows[sid]["error"] and 0 <= float(rows[sid]["probability"]) <= 1
        assert rows[sid]["decision"] in ("0", "1")
        assert rows[sid]["modalities_used"] == "speech+text"


def _zip_session(folder, audio, transcript, sid, nested=True):
    """A DAIC-WOZ style {ID}_P.zip (members inside an {ID}_P/ folder, as some copies are)."""
    import zipfile

    inner = f"{sid}_P/" if nested else ""
    with zipfile.ZipFile(folder / f"{sid}_P.zip", "w") as z:
        z.write(audio, f"{inner}{sid}_AUDIO.wav")
        z.write(transcript, f"{inner}{sid}_TRANSCRIPT.csv")


def test_batch_folder_reads_daic_zips_in_place(cli, bundle_path, two_sessions, tmp_path, loaded):
    folder = tmp_path / "zipped"
    folder.mkdir()
    (sid_a, audio_a, tr_a), (sid_b, audio_b, tr_b) = two_sessions
    _zip_session(folder, audio_a, tr_a, sid_a)
    _zip_session(folder, audio_b, tr_b, sid_b, nested=False)
    shutil.copytree(audio_b.parent, folder / audio_b.parent.name)  # also unzipped: folder wins
    (folder / "998_P.zip").write_bytes(b"PK\x03\x04 not really a zip")
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    items = {it.session_id: it for it in find_interviews(folder)}
    assert set(items) == {sid_a, sid_b, "998"}
    assert items[sid_a].audio == f"{folder / f'{sid_a}_P.zip'}::{sid_a}_P/{sid_a}_AUDIO.wav"
    assert str(items[sid_a].transcript).endswith(f"::{sid_a}_P/{sid_a}_TRANSCRIPT.csv")
    assert items[sid_b].audio == str(folder / audio_b.parent.name / audio_b.name)

    out = tmp_path / "batch.csv"
    code, _, stderr = cli("predict", folder, "--model", bundle_path, "--out", out)
    assert code == 1 and "1 session(s) could not be scored" in stderr
    rows = {r["session_id"]: r for r in csv.DictReader(io.StringIO(out.read_text()))}
    assert "998_P.zip" in rows["998"]["error"]
    # The zipped interview scores exactly as its unzipped files do.
    direct = predict_interview(loaded, audio=audio_a, transcript=tr_a)
    assert not rows[sid_a]["error"] and rows[sid_a]["modalities_used"] == "speech+text"
    assert float(rows[sid_a]["probability"]) == pytest.approx(direct["probability"], abs=1e-4)
    # Read in place: nothing extracted, nothing changed.
    assert {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()} == before


def test_zipped_transcript_errors_name_the_member(loaded, dev_session, tmp_path):
    import zipfile

    from depscreen.errors import TranscriptError

    _, audio, _ = dev_session
    archive = tmp_path / "300_P.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("300_TRANSCRIPT.csv", b"")
    with pytest.raises(TranscriptError, match="empty file") as e:
        predict_interview(loaded, audio=audio, transcript=f"{archive}::300_TRANSCRIPT.csv")
    assert "300_P.zip::300_TRANSCRIPT.csv" in str(e.value)
    with pytest.raises(TranscriptError, match="no such member"):
        predict_interview(loaded, audio=audio, transcript=f"{archive}::missing.csv")


def test_batch_manifest(cli, bundle_path, dev_session, tmp_path):
    _, audio, transcript = dev_session
    wav = write_wav(tmp_path / "a.wav", seconds=5.0)
    manifest = tmp_path / "list.csv"
    manifest.write_text(
        "session_id,audio,transcript,text\n"
        f"s1,{audio},{transcript},\n"
        "s2,a.wav,,\n"
        "s3,,,i have been feeling low\n")
    items = read_manifest(manifest)
    assert [it.session_id for it in items] == ["s1", "s2", "s3"]
    assert items[1].audio == str(wav)  # relative to the manifest
    code, stdout, stderr = cli("predict", "--manifest", manifest, "--model", bundle_path)
    assert code == 0, stderr
    rows = list(csv.DictReader(io.StringIO(stdout)))
    assert [r["session_id"] for r in rows] == ["s1", "s2", "s3"]
    assert [r["modalities_used"] for r in rows] == ["speech+text", "speech", "text"]
    assert all(not r["error"] for r in rows)


def test_manifest_errors_are_one_line(cli, bundle_path, tmp_path):
    manifest = tmp_path / "bad.csv"
    manifest.write_text("session_id,audio\ns1,\n")
    code, _, stderr = cli("predict", "--manifest", manifest, "--model", bundle_path)
    assert code == 1 and "bad.csv:2: row has none of audio, transcript, text" in stderr
    assert "Traceback" not in stderr
