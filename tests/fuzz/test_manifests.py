"""Hostile manifests through `prepare --corpus manifest` and `predict --manifest`."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import examples
from .harness import OUT_DIR, fresh_dir, run_checked
from .strategies import manifests

TRANSCRIPT = b"start_time\tstop_time\tspeaker\tvalue\n0.5\t1.0\tEllie\thi\n1.0\t1.9\tParticipant\ti feel low\n"


def _corpus(ex: Path, data: bytes) -> Path:
    """A corpus folder with every kind of path a manifest row may name, and the manifest."""
    from corpora.fixtures import wav_bytes

    corpus = ex / "corpus"
    corpus.mkdir()
    good = wav_bytes(2.0)
    for name in ("good.wav", "[bold]x.wav", "a\nb.wav"):
        (corpus / name).write_bytes(good)
    (ex / "outside.wav").write_bytes(good)
    (corpus / "good.csv").write_bytes(TRANSCRIPT)
    (corpus / "bad.wav").write_text("not audio\n" * 20)
    (corpus / "empty.wav").write_bytes(b"")
    (corpus / "dir").mkdir()
    os.mkfifo(corpus / "fifo")  # never opened: reading it would block
    (corpus / "devnull").symlink_to("/dev/null")
    with zipfile.ZipFile(corpus / "g.zip", "w") as z:
        z.writestr("a.wav", good)
    manifest = corpus / "m.csv"
    manifest.write_bytes(data.replace(b"ABS_GOOD", os.fsencode(corpus / "good.wav")))
    return manifest


def _names(ex: Path, manifest: Path) -> list:
    return [manifest, ex, "/etc/passwd", "/etc/hostname"]


@settings(max_examples=examples(40))
@given(data=manifests(), with_out=st.booleans())
def test_prepare_manifest(data, with_out, scratch):
    ex = fresh_dir(scratch)
    manifest = _corpus(ex, data)
    out = ex / OUT_DIR / "prep"
    res = run_checked(["prepare", "--corpus", "manifest", "--root", manifest], ex, None,
                      _names(ex, manifest), out=out)
    if res.code == 0:
        assert (out / "sessions.csv").is_file()


@settings(max_examples=examples(40))
@given(data=manifests(), with_out=st.booleans())
def test_predict_manifest(data, with_out, text_model, scratch):
    ex = fresh_dir(scratch)
    manifest = _corpus(ex, data)
    out = ex / OUT_DIR / "scores.csv" if with_out else None
    run_checked(["predict", "--model", text_model, "--manifest", manifest], ex, text_model,
                _names(ex, manifest), out=out, batch=True)
