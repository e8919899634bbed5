"""Training `decision-fusion`: the paper's decision-level fusion in three steps.

1. modality-specific classifiers, each trained on its own (sub-runs `text/` and `speech/`,
   ordinary runs of `lstm-cnn-text` and `lstm-cnn-speech` — or existing runs to reuse);
2. decision confidence calibration: Platt scaling per modality, fitted on dev;
3. aggregation: p = w * p_text + (1 - w) * p_speech, with w chosen on dev (by default by
   how well the dev participants' mean p separates them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from depscreen.corpora.records import Corpus
from depscreen.errors import ConfigError
from depscreen.models import create_model, model_class
from depscreen.training.config import TrainConfig
from depscreen.training.data import (
    DataBundle,
    build_data,
    predict_dataset,
    predict_log_odds,
    sample_session_ids,
)
from depscreen.training.module import dev_metrics
from depscreen.training.run_folder import Fit, RunFolder

SUB_MODALITY = ("text", "speech")


@torch.inference_mode()
def modality_log_odds(model, ds) -> np.ndarray:
    """A single-modal model's log-odds per sample; NaN where the sample lacks its modality."""
    z = predict_log_odds(model, ds)
    mod = next(iter(model.modalities))
    present = np.array([(s.has_text if mod == "text" else s.span is not None) for s in ds.samples])
    z[~present] = np.nan
    return z


def _sub_runs(cfg: TrainConfig, folder: RunFolder, reuse: dict[str, Path] | None,
              train_sub_run: Callable[[TrainConfig, Path], None]) -> dict[str, RunFolder]:
    """Step 1: one finished single-modal run per modality (`reuse`d, or trained into
    FOLDER/text and FOLDER/speech)."""
    config_cls = model_class(cfg.model).config_cls
    sub_runs: dict[str, RunFolder] = {}
    for modality in SUB_MODALITY:
        if reuse and modality in reuse:
            sub_runs[modality] = RunFolder(reuse[modality])
            continue
        sub_cfg = TrainConfig.from_dict({**cfg.to_dict(), "model": cfg.model_config.get(
            f"{modality}_model", getattr(config_cls, f"{modality}_model")),
            "model_config": dict(cfg.model_config.get(modality, {})),
            "batch_size": None, "max_epochs": cfg.max_epochs, "lr": cfg.lr,
            "patience": cfg.patience})
        train_sub_run(sub_cfg, folder / modality)
        sub_runs[modality] = RunFolder(folder / modality)
    return sub_runs


def _combined_model(cfg: TrainConfig, sub_runs: dict[str, RunFolder]):
    """The decision-level model holding the sub-runs' classifiers (weights copied)."""
    text_model, text_spec = sub_runs["text"].load_model()
    speech_model, speech_spec = sub_runs["speech"].load_model()
    fusion_cfg = {
        k: v for k, v in cfg.model_config.items() if k not in ("text", "speech",
                                                               "text_model", "speech_model")
    }
    model = create_model(
        cfg.model, task=cfg.task, text_model=text_spec["name"],
        speech_model=speech_spec["name"], text=text_spec["config"],
        speech=speech_spec["config"], **fusion_cfg,
    )
    model.text_model.load_state_dict(text_model.state_dict())
    model.speech_model.load_state_dict(speech_model.state_dict())
    return model


def fit_decision_fusion(
    corpus: Corpus,
    cfg: TrainConfig,
    folder: RunFolder,
    cache_dir: Path,
    progress: bool,
    reuse: dict[str, Path] | None,
    train_sub_run: Callable[[TrainConfig, Path], None],
) -> tuple[DataBundle, Fit]:
    """Steps 1-3; the data (train/dev samples with both modalities) and the fitted model.

    `train_sub_run(sub_cfg, out)` trains one sub-run (training/run.py passes its `train`, so
    this module needs nothing from it)."""
    sub_runs = _sub_runs(cfg, folder, reuse, train_sub_run)
    model = _combined_model(cfg, sub_runs)
    # Calibration and the weight are fitted on dev samples carrying both modalities' inputs.
    data = build_data(corpus, cfg, cache_dir, progress=progress,
                      modalities=frozenset(SUB_MODALITY))
    vocab_file = sub_runs["text"].vocab_file
    if data.vocab is not None and vocab_file.is_file() and (
        vocab_file.read_text() != data.vocab.to_json()
    ):
        # The text model's token ids must be the ones it was trained with.
        raise ConfigError("the text run was trained with another vocabulary", vocab_file)
    dev = data.dev
    if cfg.task == "regression":
        return data, _fit_score_weight(model, dev, sub_runs)
    calib = model.fit_calibration(modality_log_odds(model.text_model, dev),
                                  modality_log_odds(model.speech_model, dev), dev.labels,
                                  groups=sample_session_ids(dev))
    model.eval()
    probs = predict_dataset(model, dev)
    metrics = dev_metrics(sample_session_ids(dev), probs, dev.labels)
    fit = Fit(model, -1, metrics, probs,
              model_extra={"sub_runs": {k: str(v.path) for k, v in sub_runs.items()}},
              done_extra={"calibration": asdict(calib)})
    if cfg.task == "multitask":  # the screen's combiner above, the score's weight too
        scores = _fit_score_weight(model, dev, sub_runs)
        fit.dev_metrics.update(scores.dev_metrics)
        fit.dev_scores = scores.dev_scores
        fit.done_extra.update(scores.done_extra)
    return data, fit


@torch.inference_mode()
def _modality_scores(model, ds) -> dict[str, np.ndarray]:
    """Each sub-model's PHQ-8 estimate per sample (NaN where its modality is absent)."""
    from depscreen.features.dataset import LengthBucketSampler, collate

    out = {m: np.full(len(ds), np.nan) for m in ("text", "speech", "fused")}
    for idx in LengthBucketSampler(ds.lengths, 64, shuffle=False):
        got = model.modality_scores(collate([ds[i] for i in idx]))
        for m in out:
            out[m][idx] = got[m].double().cpu().numpy()
    return out


def _fit_score_weight(model, dev, sub_runs: dict[str, RunFolder]) -> Fit:
    """Decision-level regression: the text weight of the sub-models' estimates, on dev."""
    from depscreen.training.module import dev_score_metrics

    model.eval()
    groups = sample_session_ids(dev)
    per = _modality_scores(model, dev)
    result = model.fit_score_weight(per["text"], per["speech"], dev.scores, groups)
    scores = _modality_scores(model, dev)["fused"]
    metrics = dev_score_metrics(groups, scores, dev.scores)
    return Fit(model, -1, metrics, np.full(len(dev), np.nan), dev_scores=scores,
               model_extra={"sub_runs": {k: str(v.path) for k, v in sub_runs.items()}},
               done_extra={"score_weight": result})
