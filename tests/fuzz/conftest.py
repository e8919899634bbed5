"""The fuzz/property harness (#13): hypothesis profiles and the models the examples run
against.

Profiles: "ci" (the default: few examples per property, derandomized so a CI run is
reproducible) and "long" (thousands of examples, a fresh random seed each run), chosen with
DEPSCREEN_FUZZ=long:

    DEPSCREEN_FUZZ=long bash dev.sh test tests/fuzz
    DEPSCREEN_FUZZ=long DEPSCREEN_FUZZ_SCALE=20 bash dev.sh test tests/fuzz  # shorter

With DEPSCREEN_FUZZ_EVENTS=1 and --hypothesis-show-statistics each property also lists the
refusals it reached (the first error line of each example, its folder shown as EX).

Neither profile keeps an example database (nothing is written into the checkout); a failure
prints the seed/blob that reproduces it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

_SUPPRESS = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
             HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.large_base_example]
settings.register_profile("ci", max_examples=30, deadline=None, derandomize=True,
                          database=None, suppress_health_check=_SUPPRESS, print_blob=True)
settings.register_profile("long", max_examples=3000, deadline=None, derandomize=False,
                          database=None, suppress_health_check=_SUPPRESS, print_blob=True)
PROFILE = os.environ.get("DEPSCREEN_FUZZ", "ci")
settings.load_profile(PROFILE)


# The long profile runs each property SCALE times its CI examples (DEPSCREEN_FUZZ_SCALE).
SCALE = int(os.environ.get("DEPSCREEN_FUZZ_SCALE", "100"))


def examples(ci: int) -> int:
    """A property's number of examples under the active profile."""
    return ci if PROFILE == "ci" else ci * SCALE


@pytest.fixture(scope="session")
def text_model(trained_run) -> Path:
    """A text-only classical run folder (tfidf-lr), the quickest model to load."""
    return trained_run("tfidf-lr")


@pytest.fixture(scope="session")
def speech_model(trained_run) -> Path:
    """A speech-only run folder (lstm-cnn-speech): predict --audio decodes the recording."""
    return trained_run("lstm-cnn-speech")


@pytest.fixture(scope="session")
def bundles(trained_run, tmp_path_factory) -> dict[str, Path]:
    """Exported bundles of a classical and a neural text model, the bases of the bundle
    mutations."""
    from depscreen.inference.bundle import export_bundle

    base = tmp_path_factory.mktemp("fuzz-bundles")
    out = {}
    for model in ("tfidf-lr", "lstm-cnn-text"):
        out[model] = base / f"{model}.dsb"
        export_bundle(trained_run(model), out[model])
    return out


@pytest.fixture(scope="session")
def scratch(tmp_path_factory) -> Path:
    """Where each example makes its own fresh folder."""
    return tmp_path_factory.mktemp("fuzz")
