"""Limits on reading untrusted input and one-line errors for what used to be tracebacks (#13
items 3, 6, 7 and 8)."""

from __future__ import annotations

import errno
import os
import subprocess
import tempfile
import zipfile
from pathlib import Path

import pytest


# ----------------------------------------------------------------------------- outputs
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_a_failing_write_is_an_output_error_naming_the_path(code, tmp_path: Path,
                                                            monkeypatch) -> None:
    from depscreen.errors import OutputError
    from depscreen.utils import atomic

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, "fsync" if code == errno.ENOSPC else "replace", fail)
    target = tmp_path / "out.json"
    with pytest.raises(OutputError) as err:
        atomic.atomic_write_text(target, "{}")
    assert str(target) in str(err.value) and os.strerror(code) in str(err.value)
    assert not target.exists() and not list(tmp_path.iterdir())  # no temporary left


def _outside(tmp_path: Path, name: str) -> Path:
    """An output beside the test's folder: the folder holds the corpus (a manifest's folder is
    its corpus root), and the output policy refuses writing under it."""
    return tmp_path.parent / f"{tmp_path.name}-{name}"


def test_a_read_only_folder_is_an_output_error(tmp_path: Path, monkeypatch) -> None:
    from depscreen.errors import OutputError
    from depscreen.utils import atomic

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", read_only)
    with pytest.raises(OutputError, match="Read-only file system"):
        with atomic.atomic_folder(tmp_path / "ev"):
            pass


def test_disk_full_while_filling_a_folder_is_left_to_the_caller(tmp_path: Path) -> None:
    """The caller's work inside `atomic_folder` reports its own errors (evaluate names the
    evaluation); the temporary folder is removed either way."""
    from depscreen.utils import atomic

    with pytest.raises(OSError, match="No space left"):
        with atomic.atomic_folder(tmp_path / "ev"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert not list(tmp_path.iterdir())


def test_prepare_into_an_unwritable_folder_is_one_line(tmp_path: Path, monkeypatch) -> None:
    from corpora.fixtures import write_manifest

    from depscreen.corpora import prepare as prep
    from depscreen.errors import OutputError

    manifest = write_manifest(tmp_path / "m.csv", [
        {"session_id": "a", "label": 1, "text": "i feel low", "split": "train"}])

    def mkdtemp(*args, **kwargs):  # prepare builds its folder in a temporary sibling
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(tempfile, "mkdtemp", mkdtemp)
    with pytest.raises(OutputError, match="Permission denied") as err:
        prep.prepare("manifest", manifest, _outside(tmp_path, "out"), progress=False)
    assert str(_outside(tmp_path, "out")) in str(err.value)


def _one_line_error(cli_cmd, cli_env, argv) -> str:
    res = subprocess.run([*cli_cmd, *argv], env=cli_env, capture_output=True, timeout=300)
    err = res.stderr.decode("utf-8", "replace")
    assert res.returncode == 1, err
    assert "Traceback" not in err + res.stdout.decode("utf-8", "replace")
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_unwritable_outputs_of_predict_and_prepare_are_one_line(tmp_path: Path, trained_run,
                                                                cli_cmd, cli_env) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    line = _one_line_error(cli_cmd, cli_env, [
        "predict", "--model", str(trained_run("tfidf-lr")), "--text", "i feel low",
        "--out", str(blocker / "out.json")])
    assert str(blocker / "out.json") in line and "cannot write (a folder on its path is a file)" in line
    from corpora.fixtures import write_manifest

    manifest = write_manifest(tmp_path / "corpus" / "m.csv", [
        {"session_id": "a", "label": 1, "text": "i feel low", "split": "train"}])
    line = _one_line_error(cli_cmd, cli_env, [
        "prepare", "--corpus", "manifest", "--root", str(manifest), "--out",
        str(blocker / "prep")])
    assert str(blocker / "prep") in line and "cannot write" in line


# ----------------------------------------------------------------------------- zip members
def _zip(path: Path, members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as z:
        for name, data in members.items():
            z.writestr(name, data)
    return path


def _encrypted(path: Path, member: str) -> Path:
    """`path` with `member` flagged as encrypted (as `zip -e` writes it; zipfile cannot)."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        offset = z.getinfo(member).header_offset
    data[offset + 6] |= 1  # local header: general purpose flags
    pos = data.find(b"PK\x01\x02")
    while pos != -1:  # central directory entries
        n = int.from_bytes(data[pos + 28:pos + 30], "little")
        if data[pos + 46:pos + 46 + n].decode() == member:
            data[pos + 8] |= 1
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))
    return path


def _daic(root: Path, first) -> Path:
    from corpora.fixtures import DaicSession, build_daic

    return build_daic(root, [first, DaicSession("301", "dev", score=12),
                             DaicSession("302", "test")])


def test_a_zipped_transcript_bomb_is_refused_before_reading(tmp_path: Path) -> None:
    """#13 item 3: a 1 MB zip whose transcript inflates to gigabytes reached 2.2 GB RSS."""
    from corpora.fixtures import DaicSession, daic_transcript, wav_bytes

    from depscreen.corpora.prepare import prepare
    from depscreen.utils.limits import MAX_TEXT_BYTES

    archive = tmp_path / "daic" / "300_P.zip"
    archive.parent.mkdir()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("300_AUDIO.wav", wav_bytes(10.0))
        with z.open("300_TRANSCRIPT.csv", "w") as f:
            f.write(daic_transcript([(1, 2, "Ellie", "hi"), (3, 4, "Participant", "a")]).encode())
            for _ in range(MAX_TEXT_BYTES // 2**20 + 1):
                f.write(b" " * 2**20)
    assert archive.stat().st_size < 2**20
    root = _daic(tmp_path / "daic", DaicSession("300", "train", layout="zip",
                                                 zip_bytes=archive.read_bytes()))
    result = prepare("daic-woz", root, _outside(tmp_path, "prep"), progress=False)
    assert [s.session_id for s in result.corpus.sessions] == ["301", "302"]
    (warning,) = [w for w in result.warnings if w.session_id == "300"]
    assert warning.path == f"{archive}::300_TRANSCRIPT.csv"
    assert "above the limit of 64 MiB" in warning.message


def test_a_member_read_stops_at_its_limit(tmp_path: Path) -> None:
    from depscreen.errors import TranscriptError
    from depscreen.utils.limits import read_member

    archive = _zip(tmp_path / "a.zip", {"t.csv": b"x" * 5000})
    with zipfile.ZipFile(archive) as z:
        assert read_member(z, "t.csv", 5000, "the transcript", TranscriptError, "a") == b"x" * 5000
        with pytest.raises(TranscriptError, match="a: the transcript is 0 MiB unpacked, above"):
            read_member(z, "t.csv", 4999, "the transcript", TranscriptError, "a")


def test_a_zip_bomb_audio_member_is_refused_before_decoding(tmp_path: Path) -> None:
    """#13 item 3: a 600 KB zip decoded up to the 4 GiB default reached 2.9 GB RSS."""
    import struct

    from depscreen.audio import audio_info, load_audio, zip_ref
    from depscreen.errors import AudioError

    archive = tmp_path / "300_P.zip"
    size = 72 * 2**20  # 38 minutes of 16 kHz silence: inflates ~1000x
    header = (b"RIFF" + struct.pack("<I", 36 + size) + b"WAVEfmt "
              + struct.pack("<IHHIIHH", 16, 1, 1, 16000, 32000, 2, 16)
              + b"data" + struct.pack("<I", size))
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z, z.open("a.wav", "w") as f:
        f.write(header)
        for _ in range(size // 2**20):
            f.write(bytes(2**20))
    assert archive.stat().st_size < 2**20
    for read in (audio_info, load_audio):
        with pytest.raises(AudioError, match="inflates .* times .*zip bomb") as err:
            read(zip_ref(archive, "a.wav"))
        assert str(archive) in str(err.value)


def test_an_encrypted_transcript_member_skips_the_session(tmp_path: Path) -> None:
    """#13 item 6: RuntimeError 'password required' stopped prepare with no output."""
    from corpora.fixtures import DaicSession, daic_transcript, wav_bytes

    from depscreen.corpora.prepare import prepare

    archive = _zip(tmp_path / "300_P.zip", {
        "300_AUDIO.wav": wav_bytes(10.0),
        "300_TRANSCRIPT.csv": daic_transcript([(1, 2, "Ellie", "hi"),
                                               (3, 4, "Participant", "a")]).encode()})
    _encrypted(archive, "300_TRANSCRIPT.csv")
    root = _daic(tmp_path / "daic", DaicSession("300", "train", layout="zip",
                                                 zip_bytes=archive.read_bytes()))
    result = prepare("daic-woz", root, _outside(tmp_path, "prep"), progress=False)
    assert [s.session_id for s in result.corpus.sessions] == ["301", "302"]
    (warning,) = [w for w in result.warnings if w.session_id == "300"]
    assert warning.path == f"{root / '300_P.zip'}::300_TRANSCRIPT.csv"
    assert "encrypted (password required)" in warning.message


def test_an_encrypted_audio_member_is_an_error_row_and_the_batch_goes_on(
        tmp_path: Path, trained_run) -> None:
    from corpora.fixtures import daic_transcript, wav_bytes

    from depscreen.inference.batch import find_interviews, predict_batch
    from depscreen.inference.bundle import load_model

    folder = tmp_path / "in"
    folder.mkdir()
    transcript = daic_transcript([(1, 2, "Ellie", "hi"), (3, 4, "Participant", "i feel low")])
    _encrypted(_zip(folder / "300_P.zip", {"300_AUDIO.wav": wav_bytes(10.0),
                                           "300_TRANSCRIPT.csv": transcript.encode()}),
               "300_AUDIO.wav")
    (folder / "301_TRANSCRIPT.csv").write_text(transcript)
    rows = predict_batch(load_model(trained_run("tfidf-lr")), find_interviews(folder))
    by_id = {r["session_id"]: r for r in rows}
    assert "300_P.zip::300_AUDIO.wav" in by_id["300"]["error"]
    assert "encrypted" in by_id["300"]["error"]
    assert by_id["301"]["error"] == "" and by_id["301"]["probability"] != ""


# ----------------------------------------------------------------------------- CSV fields
HUGE = "x" * (2**20 + 1)


def test_a_huge_transcript_field_names_the_file_and_line(tmp_path: Path) -> None:
    from depscreen.corpora.transcripts import parse_transcript
    from depscreen.errors import TranscriptError

    text = f"start_time\tstop_time\tspeaker\tvalue\n1\t2\tEllie\thi\n3\t4\tParticipant\t{HUGE}\n"
    with pytest.raises(TranscriptError) as err:
        parse_transcript(text, "t.csv")
    assert str(err.value).startswith("t.csv:3: cannot parse the CSV (a field is longer than")
    assert "xxx" not in str(err.value)


def test_a_huge_field_skips_one_prepared_session(tmp_path: Path) -> None:
    from corpora.fixtures import DaicSession, daic_transcript

    from depscreen.corpora.prepare import prepare

    bad = daic_transcript([(1, 2, "Ellie", "hi"), (3, 4, "Participant", HUGE)]).encode()
    root = _daic(tmp_path / "daic", DaicSession("300", "train", transcript=bad))
    result = prepare("daic-woz", root, _outside(tmp_path, "prep"), progress=False)
    assert [s.session_id for s in result.corpus.sessions] == ["301", "302"]
    (warning,) = [w for w in result.warnings if w.session_id == "300"]
    assert warning.line == 3 and warning.path.endswith("300_TRANSCRIPT.csv")
    assert "a field is longer than 1,048,576 characters" in warning.message


def test_a_huge_field_in_a_manifest_is_one_line(tmp_path: Path, trained_run, cli_cmd,
                                                cli_env) -> None:
    from corpora.fixtures import write_manifest

    from depscreen.corpora.prepare import prepare
    from depscreen.errors import CorpusError

    rows = [{"session_id": "a", "label": 1, "text": "i feel low", "split": "train"},
            {"session_id": "b", "label": 0, "text": HUGE, "split": "dev"}]
    manifest = write_manifest(tmp_path / "m.csv", rows)
    with pytest.raises(CorpusError, match=r"m.csv:3: cannot parse the CSV \(a field is longer"):
        prepare("manifest", manifest, _outside(tmp_path, "prep"), progress=False)
    model = str(trained_run("tfidf-lr"))
    line = _one_line_error(cli_cmd, cli_env, ["predict", "--model", model, "--manifest",
                                              str(manifest)])
    assert f"{manifest}:3: cannot parse the CSV (a field is longer" in line
    transcript = tmp_path / "t.csv"
    transcript.write_text(f"start_time,stop_time,value\n1,2,{HUGE}\n")
    line = _one_line_error(cli_cmd, cli_env, ["predict", "--model", model, "--transcript",
                                              str(transcript)])
    assert f"{transcript}:2: cannot parse the CSV" in line and "xxx" not in line


# ----------------------------------------------------------------------------- names
def test_a_file_name_that_is_not_utf8_keeps_the_batch(tmp_path: Path, trained_run, cli_cmd,
                                                      cli_env) -> None:
    """#13 item 6: one b'\\xff' in a file name raised UnicodeEncodeError writing --out, and
    every score was lost."""
    folder = tmp_path / "in"
    folder.mkdir()
    text = "start_time,stop_time,value\n1,2,i feel low\n"
    (folder / os.fsdecode(b"\xff_TRANSCRIPT.csv")).write_text(text)
    (folder / "ok_TRANSCRIPT.csv").write_text(text)
    out = tmp_path / "scores.csv"
    res = subprocess.run([*cli_cmd, "predict", str(folder), "--model",
                          str(trained_run("tfidf-lr")), "--out", str(out)],
                         env=cli_env, capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr.decode("utf-8", "replace")
    rows = out.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3 and any(r.startswith("\\xff,") for r in rows)


def test_text_that_is_not_utf8_writes_with_include_text(tmp_path: Path, trained_run, cli_cmd,
                                                        cli_env) -> None:
    import json

    out = tmp_path / "r.json"
    res = subprocess.run([*cli_cmd, "predict", "--model", str(trained_run("tfidf-lr")),
                          "--text", b"i feel \xff low", "--include-text", "--out", str(out)],
                         env=cli_env, capture_output=True, timeout=300)
    assert res.returncode == 0, res.stderr.decode("utf-8", "replace")
    result = json.loads(out.read_text(encoding="utf-8"))
    assert "\udcff" in json.dumps(result, ensure_ascii=False)
    assert res.stdout.decode() == out.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- overlaps
OVERLAPPING = [(1.0, 2.0, "Ellie", "hi"), (10.0, 15.0, "Participant", "SECRET one"),
               (12.0, 14.0, "Participant", "two"), (14.5, 16.0, "Participant", "three"),
               (16.0, 17.0, "Participant", "four")]


def test_overlapping_participant_lines_are_merged_with_a_warning() -> None:
    """#13 item 7: 10-15 s and 12-14 s were both scored, their audio counted twice."""
    from corpora.fixtures import daic_transcript

    from depscreen.corpora.transcripts import parse_transcript, participant_utterances
    from depscreen.errors import WarningCollector

    lines = parse_transcript(daic_transcript(OVERLAPPING), "t.csv")
    warnings = WarningCollector()
    utts, _ = participant_utterances("300", lines, "t.csv", warnings)
    assert [(u.start, u.end, u.text) for u in utts] == [
        (10.0, 16.0, "SECRET one two three"), (16.0, 17.0, "four")]  # touching: kept apart
    (w,) = warnings.items
    assert "2 participant line(s) overlapping" in w.message and "4 lines -> 2" in w.message
    assert "SECRET" not in str(w)


def test_predict_merges_overlapping_lines_too(tmp_path: Path) -> None:
    from corpora.fixtures import daic_transcript

    from depscreen.inference.inputs import Context, read_transcript

    path = tmp_path / "t.csv"
    path.write_text(daic_transcript(OVERLAPPING))
    ctx = Context()
    utts = read_transcript(path, "300", None, ctx)
    assert [(u.start, u.end) for u in utts] == [(10.0, 16.0), (16.0, 17.0)]
    assert any("overlapping" in w for w in ctx.warnings)


# ----------------------------------------------------------------------------- audio checks
def _float_wav(path: Path, samples) -> Path:
    import numpy as np
    import soundfile as sf

    sf.write(path, np.asarray(samples, dtype=np.float32), 16000, subtype="FLOAT")
    return path


@pytest.mark.parametrize("seconds", [1 / 16000, 0.5])
def test_prepare_skips_audio_shorter_than_a_speech_window(seconds, tmp_path: Path) -> None:
    from corpora.fixtures import write_manifest, write_wav

    from depscreen.corpora.prepare import prepare

    write_wav(tmp_path / "short.wav", seconds)
    write_wav(tmp_path / "ok.wav", 3.0)
    rows = [{"session_id": "short", "label": 1, "audio": "short.wav", "split": "train"},
            {"session_id": "ok", "label": 0, "audio": "ok.wav", "split": "train"},
            {"session_id": "d", "label": 0, "text": "fine", "split": "dev"},
            {"session_id": "t", "label": 1, "text": "low", "split": "test"}]
    result = prepare("manifest", write_manifest(tmp_path / "m.csv", rows), _outside(tmp_path, "prep"),
                     progress=False)
    assert [s.session_id for s in result.corpus.sessions] == ["ok", "d", "t"]
    (w,) = result.warnings
    assert w.session_id == "short" and w.path == str(tmp_path / "short.wav")
    assert "shorter than the 1 s of the shortest speech window" in w.message


def test_prepare_warns_when_a_split_is_empty(tmp_path: Path) -> None:
    from corpora.fixtures import write_manifest

    from depscreen.corpora.prepare import load_prepared, prepare

    rows = [{"session_id": str(i), "label": i % 2, "text": "words", "split": "test"}
            for i in range(4)]
    result = prepare("manifest", write_manifest(tmp_path / "m.csv", rows), _outside(tmp_path, "prep"),
                     progress=False)
    messages = [w.message for w in result.warnings]
    assert any(m.startswith("no train sessions (train 0, dev 0, test 4)") for m in messages)
    assert any(m.startswith("no dev sessions") for m in messages)
    assert [w.message for w in load_prepared(_outside(tmp_path, "prep")).warnings] == messages


def test_feature_extraction_skips_silent_and_non_finite_audio_by_session(tmp_path: Path) -> None:
    import numpy as np

    from depscreen.corpora.records import Session, Utterance
    from depscreen.features.audio import LogMelConfig
    from depscreen.features.cache import extract_corpus

    rng = np.random.default_rng(0)
    waves = {"silent": np.zeros(48000), "nan": np.full(48000, np.nan),
             "ok": 0.1 * rng.standard_normal(48000)}
    sessions = [Session(sid, "train", 0, audio=str(_float_wav(tmp_path / f"{sid}.wav", w)),
                        utterances=[Utterance(sid, 0.0, 3.0, "")])
                for sid, w in waves.items()]
    res = extract_corpus(sessions, LogMelConfig(), tmp_path / "cache", jobs=1, progress=False)
    assert set(res.handles) == {"ok"}
    by_id = {w.session_id: str(w) for w in res.warnings}
    assert "session silent: audio skipped" in by_id["silent"] and "silent" in by_id["silent"]
    assert "session nan: audio skipped" in by_id["nan"] and "non-finite" in by_id["nan"]
    assert str(tmp_path / "nan.wav") in by_id["nan"]


def test_huge_float_samples_are_out_of_range_naming_the_file(tmp_path: Path) -> None:
    """#13 item 8: 1e30 samples were 'non-finite' (after the spectrum overflowed), unnamed."""
    from depscreen.audio import load_audio
    from depscreen.errors import AudioError

    wav = _float_wav(tmp_path / "loud.wav", [1e30] * 32000)
    with pytest.raises(AudioError, match="samples out of range") as err:
        load_audio(str(wav))
    assert str(wav) in str(err.value)


def test_an_empty_audio_path_says_so() -> None:
    from depscreen.errors import ConfigError
    from depscreen.inference.inputs import check_inputs

    with pytest.raises(ConfigError, match="^--audio: empty path$"):
        check_inputs("", None, "some words", False)


def test_a_fifo_or_device_is_not_a_regular_file(tmp_path: Path) -> None:
    """#13 item 8: a FIFO in a manifest was 'file not found'; it is never opened (that would
    block)."""
    from corpora.fixtures import write_manifest

    from depscreen.audio import audio_info
    from depscreen.corpora.prepare import prepare
    from depscreen.errors import AudioError, TranscriptError
    from depscreen.utils.files import read_limited

    fifo = tmp_path / "fifo.wav"
    os.mkfifo(fifo)
    device = tmp_path / "null.csv"
    device.symlink_to("/dev/null")
    rows = [{"session_id": "f", "label": 1, "audio": "fifo.wav", "split": "train"},
            {"session_id": "n", "label": 1, "transcript": "null.csv", "split": "train"},
            {"session_id": "ok", "label": 0, "text": "fine", "split": "train"}]
    result = prepare("manifest", write_manifest(tmp_path / "m.csv", rows), _outside(tmp_path, "prep"),
                     progress=False)
    by_id = {w.session_id: w.message for w in result.warnings if w.session_id}
    assert "audio fifo.wav is not a regular file (a FIFO)" in by_id["f"]
    assert "transcript null.csv is not a regular file (a character device)" in by_id["n"]
    with pytest.raises(AudioError, match="fifo.wav: is not a regular file \\(a FIFO\\)"):
        audio_info(str(fifo))
    with pytest.raises(TranscriptError, match="is not a regular file \\(a character device\\)"):
        read_limited(device, 100, "transcript", TranscriptError)


# ----------------------------------------------------------------------------- found by the fuzz harness
def test_an_open_quote_in_a_manifest_header_is_one_line_without_rows(tmp_path: Path, cli) -> None:
    """tests/fuzz: a quote left open in the header swallowed the rows into a column name,
    and the error printed them, over two lines."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    manifest = corpus / "m.csv"
    manifest.write_text('session_id,"label,split,audio\nSECRET0,0,train,good.wav\n')
    code, out, err = cli("prepare", "--corpus", "manifest", "--root", manifest, "--out",
                         tmp_path / "prep")
    assert code == 1 and "Traceback" not in err
    assert err.count("\n") == 1 and err.startswith(f"error: {manifest}:1: missing required")
    assert "SECRET" not in err and "(found: session_id, label,split,audio…)" in err


@pytest.mark.parametrize("column", ["audio", "transcript"])
def test_a_path_too_long_for_the_system_is_a_row_problem(column, tmp_path: Path, trained_run,
                                                         cli) -> None:
    """tests/fuzz: a 300-character file name in a manifest raised OSError (File name too
    long) from a stat, a traceback in prepare and in predict --manifest."""
    from corpora.fixtures import write_manifest

    from depscreen.corpora.prepare import prepare

    long = "x" * 300
    rows = [{"session_id": "a", "label": 1, column: long, "split": "train"},
            {"session_id": "b", "label": 0, "text": "fine", "split": "train"}]
    manifest = write_manifest(tmp_path / "corpus" / "m.csv", rows)
    result = prepare("manifest", manifest, tmp_path / "prep", progress=False)
    (w,) = [w for w in result.warnings if w.session_id == "a"]
    assert "is not a regular file (unusable: File name too long)" in w.message
    model = trained_run("tfidf-lr" if column == "transcript" else "lstm-cnn-speech")
    code, out, err = cli("predict", "--model", model, "--manifest", manifest, "--out",
                         tmp_path / "s.csv")
    assert code == 1 and "Traceback" not in err
    assert "File name too long" in (tmp_path / "s.csv").read_text()


def test_a_line_break_in_a_file_name_keeps_the_error_on_one_line(tmp_path: Path, cli) -> None:
    code, out, err = cli("predict", "--model", tmp_path / "a\nb.dsb", "--text", "hello there")
    assert code == 1 and err.count("\n") == 1 and "a\\x0ab.dsb" in err


def test_a_deeply_nested_vocabulary_in_a_bundle_is_a_bundle_error(trained_run,
                                                                  tmp_path: Path) -> None:
    """tests/fuzz: a re-signed bundle whose vocab.json nests 100,000 arrays raised
    RecursionError (a traceback) from the vocabulary reader."""
    import io
    import json

    from depscreen.inference.archive import BundleError, write_archive
    from depscreen.inference.bundle import export_bundle, load_bundle_bytes

    export_bundle(trained_run("tfidf-lr"), tmp_path / "m.dsb")
    with zipfile.ZipFile(io.BytesIO((tmp_path / "m.dsb").read_bytes())) as z:
        members = {n: z.read(n) for n in z.namelist()}
    manifest = json.loads(members.pop("manifest.json"))
    members["vocab.json"] = b"[" * 100_000 + b"]" * 100_000
    data = write_archive(members, manifest["model"], manifest["model_version"])
    with pytest.raises(BundleError, match="vocab.json is not a vocabulary .*nested too deeply"):
        load_bundle_bytes(data, tmp_path / "m.dsb")


def test_a_forged_layer_count_is_refused_before_building(tmp_path: Path) -> None:
    """tests/fuzz (long profile): a re-signed bundle asking for 2**40 LSTM layers hung in
    building the model on the meta device (a Python loop per layer; 10,000 took 49 s)."""
    import time

    from depscreen.inference.archive import BundleError
    from depscreen.inference.rebuild import build_model
    from depscreen.models import create_model

    state = create_model("lstm-cnn-text", vocab_size=50).state_dict()
    start = time.monotonic()
    for config in ({"num_layers": 2**40}, {"kernel_sizes": [3] * 1000}):
        with pytest.raises(BundleError, match="must be from 1 to 64"):
            build_model("lstm-cnn-text", {"vocab_size": 50, **config}, state, tmp_path / "m.dsb")
    assert time.monotonic() - start < 5


@pytest.mark.parametrize("column", ["audio", "transcript"])
def test_a_nul_byte_in_a_manifest_path_is_a_row_error(column, tmp_path: Path, trained_run,
                                                      cli) -> None:
    """tests/fuzz (long profile): a manifest path holding a NUL byte raised ValueError
    (embedded null byte) from the output policy and from the transcript reader."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    manifest = corpus / "m.csv"
    manifest.write_text(f"session_id,{column}\ns0,a\x00b\n")
    model = trained_run("tfidf-lr" if column == "transcript" else "lstm-cnn-speech")
    for out in (None, tmp_path / "s.csv"):
        args = ["--out", out] if out is not None else []
        code, stdout, err = cli("predict", "--model", model, "--manifest", manifest, *args)
        assert "Traceback" not in err and code == 1, err
        assert "1 session(s) could not be scored" in err
    assert "NUL byte" in (tmp_path / "s.csv").read_text() or column == "audio"
