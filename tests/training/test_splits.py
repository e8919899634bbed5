"""Training never reads the test split: not its records, samples, features or audio."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SMOKE, Tiny

import depscreen.features.dataset as dataset_mod
import depscreen.training.data as data_mod
from depscreen.corpora.records import Corpus
from depscreen.training.config import TrainConfig
from depscreen.training.run import train


@pytest.mark.parametrize("model", ["bilstm-cnn-fusion", "decision-fusion"])
def test_training_never_asks_for_the_test_split(
    model: str, tiny: Tiny, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: dict[str, list[str]] = {"by_split": [], "build_samples": [], "extract": []}

    real_by_split = Corpus.by_split

    def by_split(self: Corpus, split: str):
        asked["by_split"].append(split)
        return real_by_split(self, split)

    def spy_build_samples(real):
        def wrapper(corpus, split, *args, **kwargs):
            asked["build_samples"].append(split)
            return real(corpus, split, *args, **kwargs)
        return wrapper

    real_extract = dataset_mod.extract_corpus

    def extract(sessions, *args, **kwargs):
        sessions = list(sessions.sessions if isinstance(sessions, Corpus) else sessions)
        asked["extract"].extend(s.split for s in sessions)
        return real_extract(sessions, *args, **kwargs)

    monkeypatch.setattr(Corpus, "by_split", by_split)
    monkeypatch.setattr(data_mod, "build_samples", spy_build_samples(data_mod.build_samples))
    monkeypatch.setattr(dataset_mod, "build_samples",
                        spy_build_samples(dataset_mod.build_samples))
    monkeypatch.setattr(dataset_mod, "extract_corpus", extract)

    # A fresh cache: features are really extracted here, so the audio read is observed too.
    result = train(tiny.prepared, TrainConfig(model=model, **SMOKE), tmp_path / model,
                   cache_dir=tmp_path / "cache", progress=False)
    assert not result.skipped

    assert "test" not in asked["by_split"]
    assert "test" not in asked["build_samples"]
    assert "test" not in asked["extract"]
    # The spies did see the work: train and dev were read.
    assert {"train", "dev"} <= set(asked["build_samples"])
    assert {"train", "dev"} <= set(asked["by_split"])
    assert {"train", "dev"} == set(asked["extract"])
