"""Fixtures of the inference tests, on the session's tiny synthetic corpus (tests/conftest.py).

`run_dir` is the shared smoke run of decision-fusion; it also leaves its two single-modal
sub-runs (`text/`: lstm-cnn-text, `speech/`: lstm-cnn-speech), finished run folders of their
own, which the tests use as single-modal models.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from depscreen.inference.bundle import export_bundle, load_model


@pytest.fixture(scope="session")
def synth_root(tiny) -> Path:
    return tiny.root


@pytest.fixture(scope="session")
def prepared(tiny) -> Path:
    return tiny.prepared


@pytest.fixture(scope="session")
def run_dir(trained_run) -> Path:
    return trained_run("decision-fusion")


@pytest.fixture(scope="session")
def loaded(run_dir):
    return load_model(run_dir)


@pytest.fixture(scope="session")
def bundle_path(run_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("inference-bundle") / "model.dsb"
    export_bundle(run_dir, out)
    return out


def _files(session) -> tuple[str, Path, Path]:
    audio = Path(session.audio)
    return session.session_id, audio, audio.with_name(f"{session.session_id}_TRANSCRIPT.csv")


@pytest.fixture(scope="session")
def dev_session(tiny) -> tuple[str, Path, Path]:
    """(session id, audio, transcript) of a dev session of the tiny corpus."""
    return _files(tiny.corpus.by_split("dev")[0])


@pytest.fixture(scope="session")
def two_sessions(tiny) -> list[tuple[str, Path, Path]]:
    """Two sessions of the tiny corpus (any split: inference does not care)."""
    return [_files(s) for s in tiny.corpus.sessions[:2]]
