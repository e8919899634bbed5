"""Fixtures of the screening-view tests: a tiny decision-fusion bundle (the session's smoke
run, tests/conftest.py) and interviews synthesised in code, a short one and a 16-minute one.

Every participant line of the synthetic transcripts carries MARKER, a word found nowhere
else, so a test can tell whether transcript words reached a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from depscreen.inference.bundle import export_bundle, load_model
from tests.inference.helpers import write_transcript, write_wav

MARKER = "zorbluxian"


@dataclass(frozen=True)
class Interview:
    audio: Path
    transcript: Path
    utterances: int  # participant lines


def make_interview(folder: Path, seconds: float, seed: int = 0, name: str = "interview"
                   ) -> Interview:
    """Tone bursts for `seconds` with a participant line every 8 s (5 s long) and an
    interviewer line between them."""
    folder.mkdir(parents=True, exist_ok=True)
    audio = write_wav(folder / f"{name}.wav", seconds=seconds, seed=seed)
    rows, t, n = [], 1.0, 0
    while t + 6.0 <= seconds:
        rows.append((round(t, 3), round(t + 1.0, 3), "Ellie", "how are you doing today"))
        rows.append((round(t + 1.5, 3), round(t + 6.5, 3), "Participant",
                     f"i feel {MARKER} tired and i have not been sleeping well {n}"))
        t += 8.0
        n += 1
    transcript = write_transcript(folder / f"{name}_TRANSCRIPT.csv", rows)
    return Interview(audio, transcript, n)


@pytest.fixture(scope="session")
def view_bundle(trained_run, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("view-bundle") / "model.dsb"
    export_bundle(trained_run("decision-fusion"), out)
    return out


@pytest.fixture(scope="session")
def view_loaded(view_bundle):
    return load_model(view_bundle)


@pytest.fixture(scope="session")
def short_interview(tmp_path_factory) -> Interview:
    return make_interview(tmp_path_factory.mktemp("view-short"), 40.0)


@pytest.fixture(scope="session")
def long_interview(tmp_path_factory) -> Interview:
    """A 16-minute interview (~120 participant utterances)."""
    return make_interview(tmp_path_factory.mktemp("view-long"), 16 * 60.0, seed=1, name="long")


@pytest.fixture(scope="session")
def regression_loaded(tiny, tmp_path_factory):
    """A model with a PHQ-8 score head only (tfidf-lr, task regression: fitted in one go)."""
    from depscreen.training.config import TrainConfig
    from depscreen.training.run import train

    out = tmp_path_factory.mktemp("view-regression") / "run"
    train(tiny.prepared, TrainConfig(model="tfidf-lr", task="regression"), out, progress=False)
    bundle = out.parent / "model.dsb"
    export_bundle(out, bundle)
    return load_model(bundle)
