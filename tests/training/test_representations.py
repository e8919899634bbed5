"""Every representation end to end on the tiny corpus: train -> evaluate -> export -> predict.

The pretrained encoders are tiny random models built in code (tests/features/
pretrained_fixtures.py); nothing is downloaded. The classical baselines and the paper's
architectures run over representations other than log-Mel + tokens, with input sizes taken
from the features.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SMOKE, Tiny

from depscreen.errors import ConfigError
from depscreen.evaluation.evaluate import evaluate_run, predict_split
from depscreen.features.audio import LogMelConfig
from depscreen.features.cache import extract_corpus, logmel_dir
from depscreen.features.egemaps import EGEMAPS_DIM
from depscreen.features.representations import (
    FeatureChoice,
    LogMelRepresentation,
    speech_representation,
)
from depscreen.inference.bundle import export_bundle, load_model
from depscreen.inference.predict import predict_interview
from depscreen.training.augment import SpecAugment
from depscreen.training.config import TrainConfig
from depscreen.training.run import train


def _session_files(tiny: Tiny):
    s = tiny.corpus.by_split("dev")[0]
    audio = Path(s.audio)
    return audio, audio.with_name(f"{s.session_id}_TRANSCRIPT.csv")


def _train_eval_export_predict(tiny: Tiny, tmp_path: Path, **cfg) -> tuple[Path, dict]:
    run = tmp_path / "run"
    train(tiny.prepared, TrainConfig(**{**SMOKE, **cfg}), run, progress=False)
    ev = evaluate_run(run, "test")
    assert 0.0 <= ev.metrics["participant"]["ua"] <= 1.0
    bundle = tmp_path / "model.dsb"
    export_bundle(run, bundle)
    loaded = load_model(bundle)
    assert loaded.choice == FeatureChoice.from_dict(
        json.loads((run / "config.json").read_text())["features"]["representations"])
    audio, transcript = _session_files(tiny)
    result = predict_interview(loaded, audio=audio, transcript=transcript)
    # predict builds the same samples as evaluation: its probability for a dev session is
    # the calibrated mean of the run's own dev predictions for it.
    assert 0.0 <= result["probability"] <= 1.0
    return run, result


def test_logmel_cache_folder_is_unchanged(tiny: Tiny) -> None:
    cfg = LogMelConfig()
    assert logmel_dir(tiny.cache_dir, cfg).name == f"logmel-{cfg.key()}"
    assert logmel_dir(tiny.cache_dir, cfg, LogMelRepresentation(cfg)) == logmel_dir(
        tiny.cache_dir, cfg)


def test_paper_defaults_are_logmel_tokens_session() -> None:
    for model in ("lstm-cnn-speech", "lstm-cnn-text", "bilstm-cnn-fusion", "decision-fusion"):
        cfg = TrainConfig(model=model, profile="paper")
        assert (cfg.speech_features, cfg.text_features, cfg.feature_norm) == (
            "logmel", "tokens", "session")
        assert not cfg.spec_augment
    assert TrainConfig(model="egemaps-lr").speech_features == "egemaps"
    assert TrainConfig(model="egemaps-lr").feature_norm == "none"
    assert TrainConfig(model="embedding-lr").text_input == "embedding"
    sf = TrainConfig(model="stacked-fusion")
    assert (sf.speech_features, sf.text_features) == ("egemaps", "tokens")


@pytest.mark.parametrize("bad", [
    {"speech_features": "mfcc"}, {"speech_features": "ssl"}, {"text_features": "hf"},
    {"text_features": "bert"}, {"feature_norm": "global"},
    {"speech_features": "logmel", "ssl_layer": 3},
])
def test_bad_representation_flags_are_config_errors(bad: dict) -> None:
    with pytest.raises(ConfigError):
        TrainConfig(model="bilstm-cnn-fusion", **bad)


def test_egemaps_frames_and_cache(tiny: Tiny, tmp_path: Path) -> None:
    cfg = LogMelConfig()
    rep = speech_representation("egemaps", cfg)
    sessions = tiny.corpus.by_split("dev")[:1]
    res = extract_corpus(sessions, cfg, tmp_path, jobs=1, progress=False, rep=rep)
    handle = res.handles[sessions[0].session_id]
    frames = handle.frames()
    assert frames.shape[1] == EGEMAPS_DIM and frames.shape[0] > 100
    assert np.isfinite(frames).all()
    assert res.folder.name.startswith("egemaps-") and res.folder != logmel_dir(tmp_path, cfg)
    again = extract_corpus(sessions, cfg, tmp_path, jobs=1, progress=False, rep=rep)
    assert again.reused == 1 and again.extracted == 0
    # 10 ms frames: about 100 per second of each sample's audio.
    span = handle.samples[0]
    seconds = (span.last - span.first) / cfg.sample_rate
    assert abs(span.n_frames - 100 * seconds) <= 8


def test_spec_augment_masks_only_real_frames() -> None:
    torch.manual_seed(0)
    frames = torch.ones(3, 50, 20)
    lengths = torch.tensor([50, 30, 10])
    out = SpecAugment(time_masks=2, max_time=0.2, freq_masks=2, max_freq=0.2)(frames, lengths)
    assert out.shape == frames.shape and (out == 0).any()
    assert torch.equal(out[1, 30:], frames[1, 30:])  # padding untouched
    assert torch.equal(frames, torch.ones(3, 50, 20))  # input not modified


def test_egemaps_lr_end_to_end(tiny: Tiny, tmp_path: Path) -> None:
    run, result = _train_eval_export_predict(tiny, tmp_path, model="egemaps-lr")
    spec = json.loads((run / "model.json").read_text())
    assert spec["config"]["n_mels"] == EGEMAPS_DIM
    assert json.loads((run / "fit.json").read_text())["feature_dim"] == 5 * EGEMAPS_DIM


def test_paper_architecture_over_egemaps_speaker_norm_spec_augment(tiny: Tiny,
                                                                   tmp_path: Path) -> None:
    run, _ = _train_eval_export_predict(
        tiny, tmp_path, model="lstm-speech", speech_features="egemaps", feature_norm="speaker",
        spec_augment=True)
    spec = json.loads((run / "model.json").read_text())
    assert spec["config"]["n_mels"] == EGEMAPS_DIM
    feats = json.loads((run / "config.json").read_text())["features"]
    assert feats["representations"]["norm"] == "speaker" and feats["speech_dim"] == EGEMAPS_DIM


def test_text_baselines_and_stacked_fusion(tiny: Tiny, tmp_path: Path) -> None:
    _train_eval_export_predict(tiny, tmp_path / "tfidf", model="tfidf-lr")
    run, result = _train_eval_export_predict(tiny, tmp_path / "stacked", model="stacked-fusion")
    assert set(result["modalities"]) >= {"text", "speech"}
    done = json.loads((run / "done.json").read_text())
    assert {"stack_text", "stack_speech", "stack_bias"} <= set(done["calibration"])


def test_ssl_encoder_end_to_end(tiny: Tiny, tmp_path: Path) -> None:
    from tests.features.pretrained_fixtures import make_tiny_ssl

    folder = make_tiny_ssl(tmp_path / "wavlm", "wavlm")
    run, _ = _train_eval_export_predict(tiny, tmp_path / "ssl", model="lstm-cnn-speech",
                                        speech_features=f"ssl:{folder}", ssl_layer=1,
                                        model_config={"stride": 1, "pool_freq": 1})
    feats = json.loads((run / "config.json").read_text())["features"]
    assert feats["speech_dim"] == 32 and feats["representations"]["ssl_layer"] == 1
    frame = predict_split(run, "dev")
    assert len(frame) > 0 and frame["prob"].between(0, 1).all()


def test_hf_text_encoder_end_to_end(tiny: Tiny, tmp_path: Path) -> None:
    from tests.features.pretrained_fixtures import make_tiny_text_encoder

    folder = make_tiny_text_encoder(tmp_path / "bert")
    run, _ = _train_eval_export_predict(tiny, tmp_path / "hf", model="lstm-cnn-text",
                                        text_features=f"hf:{folder}")
    spec = json.loads((run / "model.json").read_text())
    assert spec["config"]["text_input"] == "embedding"
    assert spec["config"]["sentence_dim"] == json.loads(
        (run / "config.json").read_text())["features"]["text_dim"]


@pytest.mark.parametrize("flags", [{"model": "lstm-speech", "speech_features": "ssl:/nonexistent"},
                                   {"model": "lstm-cnn-text", "text_features": "hf:/etc"}])
def test_a_bad_encoder_folder_fails_before_the_run_folder_exists(tiny: Tiny, tmp_path: Path,
                                                                 flags: dict) -> None:
    from depscreen.errors import FeatureError

    with pytest.raises(FeatureError):
        train(tiny.prepared, TrainConfig(**{**SMOKE, **flags}), tmp_path / "run",
              progress=False)
    assert not (tmp_path / "run").exists()


def test_a_run_started_before_the_representation_options_resumes(tiny: Tiny,
                                                                 tmp_path: Path) -> None:
    """An interrupted run whose config.json predates the new options resumes with the same
    (default) options, and is refused with other ones."""
    run = tmp_path / "run"
    cfg = TrainConfig(model="lstm-speech", **SMOKE)
    train(tiny.prepared, cfg, run, progress=False)
    saved = json.loads((run / "config.json").read_text())
    for key in ("speech_features", "text_features", "ssl_layer", "feature_norm",
                "spec_augment"):
        saved["train"].pop(key)
    saved["train"]["weight_decay"] = 0.0
    (run / "config.json").write_text(json.dumps(saved))
    (run / "done.json").unlink()  # interrupted
    train(tiny.prepared, cfg, run, resume=True, progress=False)
    assert (run / "done.json").is_file()
    (run / "done.json").unlink()
    from depscreen.errors import DepscreenError

    with pytest.raises(DepscreenError, match="different configuration"):
        train(tiny.prepared, TrainConfig(model="lstm-speech", feature_norm="speaker", **SMOKE),
              run, resume=True, progress=False)
