"""Every bad input of the issue: a clear one-line error (exit 1, no traceback, no output file)
or a warning (exit 0) — through the real command line (`cli.main`)."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from .helpers import write_transcript, write_wav


@pytest.fixture
def fails(cli, bundle_path, tmp_path):
    """Run predict expecting a refusal; check the contract; return stderr."""

    def run(*args, match: str) -> str:
        out = tmp_path / "refused.json"
        code, stdout, stderr = cli("predict", "--model", bundle_path, *args, "--out", out)
        assert code == 1, (stdout, stderr)
        assert "Traceback" not in stderr
        errors = [ln for ln in stderr.splitlines() if ln.startswith("error:")]
        assert len(errors) == 1, stderr
        assert match in errors[0], errors[0]
        assert stdout == ""
        assert not out.exists()  # no half-written (or any) output
        assert not list(tmp_path.glob(".refused*"))  # no temporary left behind
        return errors[0]

    return run


@pytest.fixture
def works(cli, bundle_path, tmp_path):
    """Run predict expecting success with warnings; return (result, stderr)."""

    def run(*args) -> tuple[dict, str]:
        out = tmp_path / "result.json"
        code, stdout, stderr = cli("predict", "--model", bundle_path, *args, "--out", out)
        assert code == 0, stderr
        assert "Traceback" not in stderr
        result = json.loads(out.read_text())
        assert json.loads(stdout) == result
        return result, stderr

    return run


@pytest.fixture
def transcript_ok(tmp_path):
    return write_transcript(tmp_path / "t.csv", [
        (0.2, 0.9, "Ellie", "how are you"),
        (1.0, 3.5, "Participant", "i am fine thank you"),
        (4.0, 7.5, "Participant", "i sleep well most nights"),
    ])


# ----------------------------------------------------------------------------- audio


def test_empty_file(fails, tmp_path):
    (tmp_path / "empty.wav").write_bytes(b"")
    fails("--audio", tmp_path / "empty.wav", match="empty file (0 bytes)")


def test_silent_wav(fails, tmp_path):
    sf.write(tmp_path / "silent.wav", np.zeros(16000 * 5, np.float32), 16000, subtype="PCM_16")
    fails("--audio", tmp_path / "silent.wav", match="audio is silent")


def test_truncated_header(fails, tmp_path):
    data = write_wav(tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:30])
    fails("--audio", tmp_path / "cut.wav", match="not a readable audio file")


def test_corrupt_header(fails, tmp_path):
    data = bytearray(write_wav(tmp_path / "full.wav").read_bytes())
    data[8:12] = b"XXXX"  # "WAVE" form type destroyed
    (tmp_path / "corrupt.wav").write_bytes(bytes(data))
    fails("--audio", tmp_path / "corrupt.wav", match="not a readable audio file")


def test_truncated_data_is_scored_with_a_warning(works, tmp_path, transcript_ok):
    data = write_wav(tmp_path / "full.wav", seconds=8.0).read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[: len(data) // 2])  # header says 8 s, 4 s present
    result, stderr = works("--audio", tmp_path / "cut.wav", "--transcript", transcript_ok)
    assert "WAV file is truncated" in stderr
    assert "end after the audio ends" in stderr  # the 4.0-7.5 s line
    assert result["inputs"]["duration_s"] == pytest.approx(4.0, abs=0.01)


def test_non_audio_file_named_wav(fails, tmp_path):
    (tmp_path / "notes.wav").write_text("these are my notes, not a recording\n" * 50)
    fails("--audio", tmp_path / "notes.wav", match="not a readable audio file")


def test_missing_file_and_folder(fails, tmp_path):
    fails("--audio", tmp_path / "nope.wav", match="file not found")
    (tmp_path / "dir.wav").mkdir()
    fails("--audio", tmp_path / "dir.wav", match="is a folder")


def test_enormous_file_is_refused_up_front(fails, tmp_path):
    """A sparse 5 GiB file with a valid WAV header: refused by size before any decoding."""
    big = tmp_path / "huge.wav"
    head = write_wav(tmp_path / "small.wav", seconds=1.0).read_bytes()[:44]
    with open(big, "wb") as f:
        f.write(head)
        f.truncate(5 * 1024**3)
    fails("--audio", big, match="above the limit of 4096 MiB")


def test_size_limit_is_configurable(fails, works, tmp_path):
    wav = write_wav(tmp_path / "a.wav", seconds=40.0)  # ~1.2 MiB
    err = fails("--audio", wav, "--max-audio-mb", "1", match="above the limit of 1 MiB")
    assert "--max-audio-mb" in err
    works("--audio", wav, "--max-audio-mb", "2")


def test_other_sample_rate_and_stereo_are_converted(works, tmp_path, transcript_ok):
    wav = write_wav(tmp_path / "stereo44.wav", seconds=8.0, sr=44100, channels=2)
    result, stderr = works("--audio", wav, "--transcript", transcript_ok)
    assert "resampled from 44100 Hz to 16000 Hz" in stderr
    assert "2 channels mixed down to mono" in stderr
    assert any("resampled" in w for w in result["warnings"])
    assert result["modalities"]["speech"] is not None


# ----------------------------------------------------------------------------- transcripts


def test_times_beyond_the_audio(works, fails, tmp_path):
    wav = write_wav(tmp_path / "a.wav", seconds=5.0)
    t = write_transcript(tmp_path / "t.csv", [(1.0, 3.0, "Participant", "i am fine"),
                                              (30.0, 34.0, "Participant", "later words")])
    result, stderr = works("--audio", wav, "--transcript", t)
    assert "t.csv:3: " in stderr and "end after the audio ends" in stderr
    assert result["inputs"]["utterances"] == 1
    t2 = write_transcript(tmp_path / "t2.csv", [(30.0, 34.0, "Participant", "later words")])
    fails("--audio", wav, "--transcript", t2, match="no usable participant utterances")


@pytest.mark.parametrize("start,end", [(-2.0, 1.5), (3.0, 1.0)])
def test_negative_or_reversed_times(works, tmp_path, start, end):
    wav = write_wav(tmp_path / "a.wav", seconds=6.0)
    t = write_transcript(tmp_path / "t.csv", [(start, end, "Participant", "odd times here"),
                                              (2.0, 4.5, "Participant", "fine words here")])
    result, stderr = works("--audio", wav, "--transcript", t)
    assert "t.csv:2: " in stderr and "negative or reversed times" in stderr
    assert result["inputs"]["utterances"] == 1


def test_non_utf8_transcript(works, tmp_path):
    wav = write_wav(tmp_path / "a.wav", seconds=6.0)
    t = write_transcript(tmp_path / "t.csv", [(1.0, 4.0, "Participant", "café crème déjà vu")],
                         encoding="cp1252")
    result, stderr = works("--audio", wav, "--transcript", t, "--include-text")
    assert "not UTF-8; decoded as cp1252" in stderr
    assert result["timeline"][0]["words"] == "café crème déjà vu"


def test_binary_or_empty_transcript(fails, tmp_path):
    (tmp_path / "t.csv").write_bytes(b"")
    fails("--transcript", tmp_path / "t.csv", match="empty file (0 bytes)")
    (tmp_path / "b.csv").write_bytes(b"\x00\x01\x02binary" * 10)
    fails("--transcript", tmp_path / "b.csv", match="not a text file")


def test_interviewer_only_transcript_explains_the_scope(fails, tmp_path):
    t = write_transcript(tmp_path / "t.csv", [(0.0, 2.0, "Ellie", "hello there")])
    err = fails("--transcript", t, match="no usable participant utterances")
    assert "cannot separate interviewer from participant" in err


# ----------------------------------------------------------------------------- non-finite


def test_non_finite_samples(fails, tmp_path):
    x = (0.1 * np.random.default_rng(0).standard_normal(16000 * 4)).astype(np.float32)
    x[1000] = np.nan
    sf.write(tmp_path / "nan.wav", x, 16000, subtype="FLOAT")
    fails("--audio", tmp_path / "nan.wav", match="non-finite samples")
    x[1000] = np.inf
    sf.write(tmp_path / "inf.wav", x, 16000, subtype="FLOAT")
    fails("--audio", tmp_path / "inf.wav", match="non-finite samples")


@pytest.mark.parametrize("bad", ["nan", "inf", "-inf"])
def test_non_finite_transcript_times(fails, tmp_path, bad):
    t = tmp_path / "t.csv"
    t.write_text(f"start_time\tstop_time\tspeaker\tvalue\n{bad}\t2.0\tParticipant\thi there\n")
    fails("--transcript", t, match="t.csv:2: cannot parse transcript line: start time")


def test_non_finite_features_are_caught_before_the_model(loaded, monkeypatch, tmp_path):
    """Whatever produced them, NaN frames never reach the model: logmel refuses them."""
    from depscreen.features.audio import NonFiniteAudioError, logmel

    with pytest.raises(NonFiniteAudioError):
        logmel(np.array([0.0, np.nan] * 8000, dtype=np.float32), loaded.audio_cfg)


# ----------------------------------------------------------------------------- bundles


def test_bundle_with_a_changed_byte(cli, bundle_path, tmp_path, transcript_ok):
    data = bytearray(bundle_path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    bad = tmp_path / "bad.dsb"
    bad.write_bytes(bytes(data))
    out = tmp_path / "r.json"
    code, stdout, stderr = cli("predict", "--model", bad, "--transcript", transcript_ok,
                               "--out", out)
    assert code == 1 and stdout == "" and not out.exists()
    assert "bundle is corrupt or was modified" in stderr and "Traceback" not in stderr


# ----------------------------------------------------------------------------- usage


def test_usage_mistakes(fails, tmp_path, transcript_ok):
    wav = write_wav(tmp_path / "a.wav")
    fails(match="nothing to score")
    fails("--transcript", transcript_ok, "--text", "hi", match="exclude each other")
    fails("--asr", "--audio", wav, "--transcript", transcript_ok,
          match="--asr is for audio without")
    fails("--asr", match="--asr transcribes the audio: give --audio")
    fails("--audio", wav, "--max-audio-mb", "0", match="must be a positive number of MiB")
    fails(tmp_path, "--audio", wav, match="batch mode")


def test_an_existing_output_survives_a_failed_run(cli, bundle_path, tmp_path):
    out = tmp_path / "keep.json"
    out.write_text('{"previous": true}')
    (tmp_path / "empty.wav").write_bytes(b"")
    code, _, _ = cli("predict", "--model", bundle_path, "--audio", tmp_path / "empty.wav",
                     "--out", out, "--force")  # --force: replaced only by a finished result
    assert code == 1 and out.read_text() == '{"previous": true}'
    code, _, _ = cli("predict", "--model", bundle_path, "--audio", tmp_path / "empty.wav",
                     "--out", out)  # without --force: refused before any work
    assert code == 2 and out.read_text() == '{"previous": true}'


def test_real_process_exit_code_and_no_traceback(bundle_path, tmp_path):
    """The installed entry point, as a user runs it."""
    (tmp_path / "empty.wav").write_bytes(b"")
    env = {**os.environ, "DEPSCREEN_DEBUG": ""}
    env.pop("DEPSCREEN_DEBUG")
    proc = subprocess.run(
        [sys.executable, "-c", "from depscreen.cli import main; main()", "predict",
         "--model", str(bundle_path), "--audio", str(tmp_path / "empty.wav")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_wav_with_a_lying_data_size(works, tmp_path, transcript_ok):
    """A header whose data chunk claims 4 GiB (streaming writers do this) still works."""
    data = bytearray(write_wav(tmp_path / "a.wav", seconds=8.0).read_bytes())
    pos = data.find(b"data")
    data[pos + 4: pos + 8] = struct.pack("<I", 0xFFFFFFFF)
    (tmp_path / "stream.wav").write_bytes(bytes(data))
    result, _ = works("--audio", tmp_path / "stream.wav", "--transcript", transcript_ok)
    assert result["inputs"]["duration_s"] == pytest.approx(8.0, abs=0.01)
