"""Model bundles: export, round trip, and refusal of tampered, foreign or incompatible files."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import pytest

from depscreen.errors import OutputError
from depscreen.inference import bundle as bundle_mod
from depscreen.inference.bundle import (
    BundleError,
    export_bundle,
    load_bundle,
    load_model,
)
from depscreen.inference.predict import predict_interview

MEMBERS = {"manifest.json", "weights.safetensors", "model.json", "vocab.json", "features.json",
           "calibration.json", "thresholds.json"}


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def _rezip(path: Path, members: dict[str, bytes], comment: bytes = b"") -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
        z.comment = comment
    path.write_bytes(buf.getvalue())


def test_bundle_holds_only_data_and_a_checksum_manifest(bundle_path):
    members = _members(bundle_path)
    assert set(members) == MEMBERS
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == "depscreen-bundle"
    assert manifest["format_version"] == 1
    assert manifest["depscreen_version"]
    assert set(manifest["files"]) == MEMBERS - {"manifest.json"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    features = json.loads(members["features.json"])
    assert {"audio", "audio_key", "text", "text_input", "modalities"} <= set(features)
    thresholds = json.loads(members["thresholds.json"])
    assert 0 <= thresholds["participant"] <= 1 and thresholds["chosen_on"] == "dev"
    assert json.loads(members["calibration.json"])["fitted_on"] == "dev"
    # No absolute paths of the machine that trained it travel with the model.
    assert "sub_runs" not in json.loads(members["model.json"])


def test_export_is_deterministic(run_dir, bundle_path, tmp_path):
    again = tmp_path / "again.dsb"
    export_bundle(run_dir, again)
    assert again.read_bytes() == bundle_path.read_bytes()


def test_bundle_and_run_folder_give_the_same_prediction(loaded, bundle_path, dev_session):
    _, audio, transcript = dev_session
    from_bundle = load_bundle(bundle_path)
    assert from_bundle.version == loaded.version and from_bundle.name == loaded.name
    assert from_bundle.thresholds == loaded.thresholds
    a = predict_interview(loaded, audio=audio, transcript=transcript)
    b = predict_interview(from_bundle, audio=audio, transcript=transcript)
    assert a["model"]["source"] == "run" and b["model"]["source"] == "bundle"
    for r in (a, b):
        r.pop("model")
    assert a == b


def test_loading_a_bundle_never_unpickles(bundle_path, monkeypatch):
    import torch

    def refuse(*_a, **_k):
        raise AssertionError("unpickling during bundle load")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(torch, "load", refuse)
    assert load_bundle(bundle_path).name == "decision-fusion"


def test_export_refuses_to_replace_a_file_without_force(run_dir, tmp_path):
    target = tmp_path / "m.dsb"
    target.write_text("keep me")
    with pytest.raises(OutputError, match="file exists; pass --force"):
        export_bundle(run_dir, target)
    assert target.read_text() == "keep me"
    export_bundle(run_dir, target, force=True)
    assert load_bundle(target).name == "decision-fusion"


def test_export_of_an_unfinished_run_is_refused(tmp_path):
    (tmp_path / "run").mkdir()
    with pytest.raises(BundleError, match="not a finished run folder"):
        export_bundle(tmp_path / "run", tmp_path / "m.dsb")
    assert not (tmp_path / "m.dsb").exists()


# ----------------------------------------------------------------------------- tampering


@pytest.mark.parametrize("where", [0, 3, 40, 0.25, 0.5, 0.75, -150, -60, -22, -1])
def test_any_changed_byte_is_refused(bundle_path, tmp_path, where):
    data = bytearray(bundle_path.read_bytes())
    pos = int(len(data) * where) if isinstance(where, float) else where % len(data)
    data[pos] ^= 0x01
    bad = tmp_path / "bad.dsb"
    bad.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="bundle is corrupt or was modified"):
        load_bundle(bad)


def test_an_edited_member_in_a_rebuilt_zip_fails_its_checksum(bundle_path, tmp_path):
    members = _members(bundle_path)
    thresholds = json.loads(members["thresholds.json"])
    thresholds["participant"] = 0.01
    members["thresholds.json"] = json.dumps(thresholds).encode()
    bad = tmp_path / "edited.dsb"
    _rezip(bad, members, comment=zipfile.ZipFile(bundle_path).comment)
    with pytest.raises(BundleError, match="thresholds.json does not match its checksum"):
        load_bundle(bad)


def test_an_edit_with_a_fixed_manifest_fails_the_archive_checksum(bundle_path, tmp_path):
    import hashlib

    members = _members(bundle_path)
    members["thresholds.json"] = b'{"participant": 0.01, "utterance": 0.01}'
    manifest = json.loads(members["manifest.json"])
    manifest["files"]["thresholds.json"] = {
        "sha256": hashlib.sha256(members["thresholds.json"]).hexdigest(),
        "size": len(members["thresholds.json"])}
    members["manifest.json"] = json.dumps(manifest).encode()
    bad = tmp_path / "edited.dsb"
    _rezip(bad, members)
    with pytest.raises(BundleError, match="archive checksum"):
        load_bundle(bad)


def test_a_foreign_zip_is_refused(tmp_path):
    foreign = tmp_path / "foreign.dsb"
    _rezip(foreign, {"weights.pt": b"\x80\x04not really a pickle"})
    with pytest.raises(BundleError, match="not a depscreen bundle"):
        load_bundle(foreign)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    other = tmp_path / "model.dsb"
    other.write_bytes(b"\x80\x04\x95 a pickle, say")
    with pytest.raises(BundleError, match="not a depscreen bundle"):
        load_bundle(other)
    (tmp_path / "empty.dsb").write_bytes(b"")
    with pytest.raises(BundleError, match="empty file"):
        load_bundle(tmp_path / "empty.dsb")


@pytest.mark.parametrize("name", ["../evil.json", "/abs.json", "sub/weights.safetensors"])
def test_unsafe_member_names_are_refused(bundle_path, tmp_path, name):
    members = _members(bundle_path)
    members[name] = b"{}"
    bad = tmp_path / "unsafe.dsb"
    _rezip(bad, members)
    with pytest.raises(BundleError, match="unsafe member name"):
        load_bundle(bad)


def test_unexpected_members_are_refused(bundle_path, tmp_path):
    members = _members(bundle_path)
    members["payload.pkl"] = pickle.dumps({"x": 1})
    bad = tmp_path / "extra.dsb"
    _rezip(bad, members)
    with pytest.raises(BundleError, match="unexpected member 'payload.pkl'"):
        load_bundle(bad)


def test_a_newer_format_version_is_refused(run_dir, tmp_path, monkeypatch):
    newer = tmp_path / "newer.dsb"
    loaded = bundle_mod.load_run(run_dir)
    import depscreen.inference.archive as archive_mod

    monkeypatch.setattr(archive_mod, "BUNDLE_FORMAT_VERSION", 2)
    newer.write_bytes(bundle_mod.build_bundle(loaded, (run_dir / "weights.safetensors")
                                              .read_bytes()))
    monkeypatch.undo()
    with pytest.raises(BundleError, match="newer depscreen"):
        load_bundle(newer)


def test_a_feature_config_the_code_no_longer_computes_is_refused(bundle_path, monkeypatch):
    import depscreen.features.audio as feat_audio

    monkeypatch.setattr(feat_audio, "LOGMEL_VERSION", feat_audio.LOGMEL_VERSION + 1)
    with pytest.raises(BundleError, match="feature config does not match"):
        load_bundle(bundle_path)


def test_load_model_accepts_a_run_folder_or_a_bundle(run_dir, bundle_path, tmp_path):
    assert load_model(run_dir).source == "run"
    assert load_model(bundle_path).source == "bundle"
    with pytest.raises(BundleError, match="no such run folder or bundle"):
        load_model(tmp_path / "nothing-here")


def test_export_command(cli, run_dir, tmp_path):
    out = tmp_path / "cli.dsb"
    code, stdout, stderr = cli("export", run_dir, "--out", out)
    assert code == 0, stderr
    assert "decision-fusion" in stdout and out.is_file()
    code, _, stderr = cli("export", run_dir, "--out", out)
    assert code == 2 and "file exists" in stderr and "Traceback" not in stderr
