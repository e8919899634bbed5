"""The output policy (`depscreen.utils.outputs`) and the defects it fixes (#13 items 1, 2, 9).

Every refusal changes nothing: the tests hash the whole tree before and after.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path

import pytest
from corpora.fixtures import small_daic, tree_state, write_manifest

from depscreen.errors import OutputError
from depscreen.utils.atomic import atomic_folder
from depscreen.utils.outputs import check_output_file, check_output_folder, corpus_folder


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _device(path: Path) -> Path:
    """A /dev/null-like character device (as root), else a FIFO: neither is a file to write."""
    if os.geteuid() == 0:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    else:
        os.mkfifo(path)
    return path


def _refused(code: int, err: str, *needles: str) -> str:
    """Exit status 2 and one line naming the path and why."""
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error: --out "), err
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


# ----------------------------------------------------------------------------- the policy
def test_a_file_output_is_never_an_input(tmp_path: Path) -> None:
    wav = tmp_path / "v.wav"
    wav.write_bytes(b"RIFF")
    os.link(wav, tmp_path / "hard.wav")
    (tmp_path / "soft.wav").symlink_to(wav)
    for out in (wav, tmp_path / "hard.wav", tmp_path / "soft.wav", tmp_path / "." / "v.wav"):
        with pytest.raises(OutputError, match="is the --audio recording, an input of this "
                                              "command"):
            check_output_file(out, inputs=[("the --audio recording", wav)], force=True)
    assert wav.read_bytes() == b"RIFF"


def test_an_existing_file_needs_force(tmp_path: Path) -> None:
    out = tmp_path / "p.json"
    assert check_output_file(out) == out  # new: fine
    out.write_text("{}")
    with pytest.raises(OutputError, match="file exists; pass --force"):
        check_output_file(out)
    assert check_output_file(out, force=True) == out


def test_devices_fifos_and_folders_are_refused(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(OutputError, match="is a FIFO, not a file"):
        check_output_file(fifo, force=True)
    if os.geteuid() == 0:
        with pytest.raises(OutputError, match="is a character device, not a file"):
            check_output_file(_device(tmp_path / "null"), force=True)
    with pytest.raises(OutputError, match="is a folder, not a file; --out names a file"):
        check_output_file(tmp_path, force=True)
    with pytest.raises(OutputError, match="is a FIFO, not a folder"):
        check_output_folder(fifo)


def test_a_symlink_is_written_through(tmp_path: Path) -> None:
    target = tmp_path / "real" / "p.json"
    target.parent.mkdir()
    (tmp_path / "link.json").symlink_to(target)  # dangling: the target does not exist yet
    assert check_output_file(tmp_path / "link.json") == target
    target.write_text("{}")
    with pytest.raises(OutputError, match="file exists .through the link"):
        check_output_file(tmp_path / "link.json")


def test_nothing_is_written_under_a_corpus_root(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "300_P").mkdir(parents=True)
    manifest = write_manifest(root / "sessions.csv", [{"session_id": "1", "text": "hi"}])
    roots = [("the corpus root --root", corpus_folder(manifest))]
    assert corpus_folder(manifest) == root
    for out in (root / "new.csv", root / "300_P" / "x.json", manifest):
        with pytest.raises(OutputError, match="is inside the corpus root --root"):
            check_output_file(out, roots=roots, force=True)
    with pytest.raises(OutputError, match="is the corpus root --root, which depscreen only "
                                          "reads"):
        check_output_folder(root, roots=roots)
    with pytest.raises(OutputError, match="is inside the corpus root"):
        check_output_folder(root / "prepared", roots=roots)
    with pytest.raises(OutputError, match="contains the corpus root"):
        check_output_folder(tmp_path, roots=roots)
    assert check_output_folder(tmp_path / "prepared", roots=roots) == tmp_path / "prepared"


def test_files_of_an_input_folder_are_never_replaced(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "weights.safetensors").write_bytes(b"w")
    inputs = [("the run folder", run)]
    with pytest.raises(OutputError, match="is a file inside the run folder"):
        check_output_file(run / "weights.safetensors", inputs=inputs, force=True)
    assert check_output_file(run / "model.dsb", inputs=inputs) == run / "model.dsb"
    assert check_output_folder(run / "eval-test", inputs=inputs) == run / "eval-test"
    with pytest.raises(OutputError, match="is the run folder, an input"):
        check_output_folder(run, inputs=inputs)
    with pytest.raises(OutputError, match="contains the run folder"):
        check_output_folder(tmp_path, inputs=inputs)


def test_a_folder_holding_a_users_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"holds files that are not ours \(notes.txt\)"):
        check_output_folder(tmp_path / "out", owned=lambda n: n == "a.csv", owner="ours")


def test_a_swapped_folder_keeps_what_it_is_asked_to(tmp_path: Path) -> None:
    out = tmp_path / "prepared"
    (out / "features").mkdir(parents=True)
    (out / "features" / "x.npy").write_bytes(b"frames")
    (out / "sessions.csv").write_text("old")
    before = tree_state(tmp_path)
    with pytest.raises(KeyboardInterrupt), atomic_folder(out, keep=("features",)) as tmp:
        (tmp / "sessions.csv").write_text("new")
        raise KeyboardInterrupt
    assert tree_state(tmp_path) == before  # the old folder, whole; no temporary left
    with atomic_folder(out, keep=("features",)) as tmp:
        (tmp / "sessions.csv").write_text("new")
    assert (out / "sessions.csv").read_text() == "new"
    assert (out / "features" / "x.npy").read_bytes() == b"frames"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["prepared"]


# ----------------------------------------------------------------------------- predict
@pytest.fixture(scope="module")
def text_model(trained_run) -> Path:
    return trained_run("tfidf-lr")


def test_predict_out_equal_to_audio_leaves_the_recording(text_model, tmp_path: Path,
                                                         cli) -> None:
    """#13 item 1: `--out v.wav` with `--audio v.wav` replaced the recording (exit 0)."""
    from inference.helpers import write_wav

    wav = write_wav(tmp_path / "v.wav")
    before = tree_state(tmp_path)
    code, out, err = cli("predict", "--model", text_model, "--audio", wav, "--text", "hello",
                         "--out", wav)
    _refused(code, err, str(wav), "is the --audio recording, an input of this command")
    assert out == "" and tree_state(tmp_path) == before


def test_predict_refuses_a_device_a_folder_and_an_existing_file(text_model, tmp_path: Path,
                                                                cli) -> None:
    dev = _device(tmp_path / "null")
    (tmp_path / "old.json").write_text("keep")
    before = tree_state(tmp_path)
    args = ("predict", "--model", text_model, "--text", "i feel fine", "--out")
    code, _, err = cli(*args, dev, "--force")
    _refused(code, err, "not a file")
    assert stat.S_ISCHR(dev.stat().st_mode) or stat.S_ISFIFO(dev.stat().st_mode)
    _refused(*cli(*args, tmp_path, "--force")[::2], "is a folder")
    _refused(*cli(*args, tmp_path / "old.json")[::2], "file exists; pass --force")
    assert tree_state(tmp_path) == before
    code, out, _ = cli(*args, tmp_path / "old.json", "--force")
    assert code == 0 and json.loads((tmp_path / "old.json").read_text()) == json.loads(out)


def test_predict_writes_through_a_symlink(text_model, tmp_path: Path, cli) -> None:
    """#13 item 1: the link itself used to be replaced by a regular file."""
    target = tmp_path / "results" / "p.json"
    target.parent.mkdir()
    link = tmp_path / "p.json"
    link.symlink_to(target)
    code, out, err = cli("predict", "--model", text_model, "--text", "hello", "--out", link)
    assert code == 0, err
    assert link.is_symlink() and json.loads(target.read_text()) == json.loads(out)


def test_batch_predict_never_overwrites_a_listed_transcript(text_model, tmp_path: Path,
                                                            cli) -> None:
    from corpora.fixtures import daic_transcript

    t = tmp_path / "t.csv"
    t.write_text(daic_transcript([(0.0, 1.0, "Participant", "i am tired")]))
    manifest = write_manifest(tmp_path / "m.csv", [{"session_id": "1", "transcript": "t.csv"}])
    before = tree_state(tmp_path)
    for out in (t, manifest):
        code, _, err = cli("predict", "--model", text_model, "--manifest", manifest,
                           "--out", out, "--force")
        _refused(code, err, "an input of this command")
    assert tree_state(tmp_path) == before


# ----------------------------------------------------------------------------- export
def test_export_never_replaces_the_runs_own_files(text_model, tmp_path: Path, cli) -> None:
    """#13 item 1: `export --force --out RUN/weights.safetensors` destroyed the weights."""
    before = tree_state(text_model)
    code, _, err = cli("export", text_model, "--out", text_model / "weights.safetensors",
                       "--force")
    _refused(code, err, "is a file inside the run folder")
    assert tree_state(text_model) == before


# ----------------------------------------------------------------------------- prepare
def test_prepare_never_writes_into_the_corpus(tmp_path: Path, cli) -> None:
    """#13 item 2: `--root d/sessions.csv --out d` overwrote the user's manifest, and an
    --out inside the corpus dropped files into it."""
    d = tmp_path / "d"
    write_manifest(d / "sessions.csv", [{"session_id": str(i), "label": str(i % 2),
                                         "text": "hello there"} for i in range(6)])
    daic = small_daic(tmp_path / "daic")
    before = tree_state(tmp_path)
    code, _, err = cli("prepare", "--corpus", "manifest", "--root", d / "sessions.csv",
                       "--out", d)
    _refused(code, err, "is the corpus root --root, which depscreen only reads")
    for out in (daic, daic / "prepared", tmp_path):
        code, _, err = cli("prepare", "--corpus", "daic-woz", "--root", daic, "--out", out)
        _refused(code, err, "the corpus root --root")
    assert tree_state(tmp_path) == before


def test_prepare_refuses_a_folder_of_other_files(tmp_path: Path, cli) -> None:
    daic = small_daic(tmp_path / "daic")
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.tex").write_text("mine")
    before = tree_state(tmp_path)
    code, _, err = cli("prepare", "--corpus", "daic-woz", "--root", daic, "--out",
                       tmp_path / "docs")
    _refused(code, err, "holds files that are not a prepared corpus's (thesis.tex)")
    assert tree_state(tmp_path) == before


def test_an_interrupted_prepare_leaves_the_old_folder_or_nothing(tmp_path: Path,
                                                                 monkeypatch) -> None:
    """#13 item 9: an interruption left sessions.csv without its completion marker."""
    import depscreen.corpora.prepare as prep

    daic = small_daic(tmp_path / "daic")
    reference = prep.prepare("daic-woz", daic, tmp_path / "reference", progress=False)
    real = prep.utterances_jsonl_gz

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(prep, "utterances_jsonl_gz", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prep.prepare("daic-woz", daic, tmp_path / "fresh", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["daic", "reference"]

    old = tmp_path / "reference"
    (old / "features").mkdir()
    (old / "features" / "cached.npy").write_bytes(b"frames")
    before = tree_state(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        prep.prepare("daic-woz", daic, old, progress=False, force=True)
    assert tree_state(tmp_path) == before

    monkeypatch.setattr(prep, "utterances_jsonl_gz", real)
    again = prep.prepare("daic-woz", daic, tmp_path / "fresh", progress=False)
    assert not again.cached
    for name in (prep.SESSIONS_FILE, prep.UTTERANCES_FILE, prep.INTERVIEWER_FILE):
        assert _sha(tmp_path / "fresh" / name) == _sha(reference.out / name)
    prep.prepare("daic-woz", daic, old, progress=False, force=True)
    assert (old / "features" / "cached.npy").read_bytes() == b"frames"  # the cache is kept


def test_an_interrupted_synthetic_prepare_resumes(tmp_path: Path, monkeypatch) -> None:
    """#13 item 9: the re-run of an interrupted `prepare --corpus synthetic` renders only
    the sessions not yet rendered, and ends as an uninterrupted run does."""
    import depscreen.corpora.prepare as prep
    from depscreen.corpora.synthetic import SynthConfig, corpus

    cfg = SynthConfig(ids=(300, 301, 302, 303), questions=1, seed=5)
    real_run, rendered = corpus._run, []

    def run_two_then_stop(out, todo, config, jobs, progress):
        rendered.append(len(todo))
        done = real_run(out, todo[:2], config, 1, progress)
        if len(todo) > 2:
            raise KeyboardInterrupt
        return done

    monkeypatch.setattr(corpus, "_run", run_two_then_stop)
    with pytest.raises(KeyboardInterrupt):
        prep.prepare("synthetic", tmp_path / "root", tmp_path / "prepared", synth_config=cfg,
                     progress=False)
    assert not (tmp_path / "prepared").exists()
    result = prep.prepare("synthetic", tmp_path / "root", tmp_path / "prepared",
                          synth_config=cfg, progress=False)
    assert rendered == [4, 2]  # the re-run rendered only the two sessions left
    monkeypatch.setattr(corpus, "_run", real_run)
    straight = prep.prepare("synthetic", tmp_path / "root2", tmp_path / "prepared2",
                            synth_config=cfg, progress=False)
    for name in (prep.UTTERANCES_FILE, prep.INTERVIEWER_FILE):
        assert _sha(result.out / name) == _sha(straight.out / name)
    assert [s.to_row() | {"audio": None} for s in result.corpus.sessions] == \
        [s.to_row() | {"audio": None} for s in straight.corpus.sessions]


# ----------------------------------------------------------------------------- the others
def test_evaluate_train_and_reproduce_refuse_the_corpus_and_the_run(text_model, tiny,
                                                                    tmp_path: Path, cli) -> None:
    before = tree_state(text_model)
    _refused(*cli("evaluate", text_model, "--out", text_model)[::2], "is the run folder")
    _refused(*cli("evaluate", text_model, "--out", tiny.root / "ev")[::2],
             "is inside the corpus root")
    assert tree_state(text_model) == before
    root_before = tree_state(tiny.root)
    _refused(*cli("train", "--prepared", tiny.prepared, "--model", "tfidf-lr", "--out",
                  tiny.root / "run")[::2], "is inside the corpus root")
    _refused(*cli("train", "--prepared", tiny.prepared, "--model", "tfidf-lr", "--out",
                  tiny.prepared)[::2], "is the --prepared corpus, an input")
    _refused(*cli("reproduce", "--corpus", "daic-woz", "--root", tiny.root, "--out",
                  tiny.root / "repro")[::2], "is inside the corpus root --root")
    assert tree_state(tiny.root) == root_before


def test_synth_refuses_a_file_or_a_device(tmp_path: Path, cli) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    dev = _device(tmp_path / "null")
    before = tree_state(tmp_path)
    _refused(*cli("synth", "--out", tmp_path / "notes.txt", "--participants", "2")[::2],
             "is a file, not a folder")
    _refused(*cli("synth", "--out", dev, "--participants", "2")[::2], "not a folder")
    assert tree_state(tmp_path) == before
