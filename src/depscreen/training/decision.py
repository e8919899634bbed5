"""Training `decision-fusion`: the paper's decision-level fusion in three steps.

1. modality-specific classifiers, each trained on its own (sub-runs `text/` and `speech/`,
   ordinary runs of `lstm-cnn-text` and `lstm-cnn-speech` — or existing runs to reuse);
2. decision confidence calibration: Platt scaling per modality, fitted on dev;
3. aggregation: p = w * p_text + (1 - w) * p_speech, with w chosen on dev (by default by
   how well the dev participants' mean p separates them).
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from depscreen.corpora.records import Corpus
from depscreen.errors import ConfigError
from depscreen.models import create_model
from depscreen.training.config import TrainConfig
from depscreen.training.data import (
    build_data,
    predict_dataset,
    predict_log_odds,
    prediction_frame,
    sample_session_ids,
)
from depscreen.training.module import dev_metrics

SUB_MODALITY = ("text", "speech")


@torch.inference_mode()
def _margins(model, ds) -> np.ndarray:
    """Log-odds of each sample; NaN where the sample lacks the model's modality."""
    z = predict_log_odds(model, ds)
    mod = next(iter(model.modalities))
    present = np.array([(s.has_text if mod == "text" else s.span is not None) for s in ds.samples])
    z[~present] = np.nan
    return z


def train_decision_fusion(
    corpus: Corpus,
    prepared: Path,
    cfg: TrainConfig,
    out: Path,
    resume: bool,
    cache_dir: Path,
    progress: bool,
    reuse: dict[str, Path] | None = None,
):
    from depscreen.models import model_class
    from depscreen.training.run import (
        DONE_FILE,
        RunResult,
        _write_json,
        _write_run_header,
        load_run_model,
        save_weights,
        train,
    )
    from depscreen.utils.atomic import atomic_write_text

    config_cls = model_class(cfg.model).config_cls
    sub_runs: dict[str, Path] = {}
    for modality in SUB_MODALITY:
        if reuse and modality in reuse:
            sub_runs[modality] = Path(reuse[modality])
            continue
        sub_cfg = TrainConfig.from_dict({**cfg.to_dict(), "model": cfg.model_config.get(
            f"{modality}_model", getattr(config_cls, f"{modality}_model")),
            "model_config": dict(cfg.model_config.get(modality, {})),
            "batch_size": None, "max_epochs": cfg.max_epochs, "lr": cfg.lr,
            "patience": cfg.patience})
        sub_out = out / modality
        train(prepared, sub_cfg, sub_out, resume=resume or sub_out.exists() and (
            sub_out / DONE_FILE).exists(), cache_dir=cache_dir, progress=progress)
        sub_runs[modality] = sub_out

    text_model, text_spec = load_run_model(sub_runs["text"])
    speech_model, speech_spec = load_run_model(sub_runs["speech"])
    fusion_cfg = {
        k: v for k, v in cfg.model_config.items() if k not in ("text", "speech",
                                                               "text_model", "speech_model")
    }
    model = create_model(
        cfg.model, text_model=text_spec["name"], speech_model=speech_spec["name"],
        text=text_spec["config"], speech=speech_spec["config"], **fusion_cfg,
    )
    model.text_model.load_state_dict(text_model.state_dict())
    model.speech_model.load_state_dict(speech_model.state_dict())

    # Calibration and the weight are fitted on dev samples carrying both modalities' inputs.
    data = build_data(corpus, cfg, cache_dir, progress=progress,
                      modalities=frozenset(SUB_MODALITY))
    vocab_file = sub_runs["text"] / "vocab.json"
    if data.vocab is not None and vocab_file.is_file() and (
        vocab_file.read_text() != data.vocab.to_json()
    ):
        # The text model's token ids must be the ones it was trained with.
        raise ConfigError("the text run was trained with another vocabulary", vocab_file)
    _write_run_header(out, cfg, prepared, data)
    dev = data.dev
    calib = model.fit_calibration(_margins(model.text_model, dev),
                                  _margins(model.speech_model, dev), dev.labels,
                                  groups=sample_session_ids(dev))
    model.eval()
    probs = predict_dataset(model, dev)
    metrics = dev_metrics(sample_session_ids(dev), probs, dev.labels)
    save_weights(model, out, cfg.model,
                 {"features": data.feature_config(), "text_input": cfg.text_input,
                  "sub_runs": {k: str(v) for k, v in sub_runs.items()}})
    atomic_write_text(out / "dev_predictions.csv", prediction_frame(dev, probs).to_csv(index=False))
    _write_json(out / DONE_FILE, {"best_epoch": -1, "dev_metrics": metrics,
                                  "model": cfg.model, "seed": cfg.seed,
                                  "calibration": asdict(calib)})
    return RunResult(out, -1, metrics)
