"""`depscreen train`: one model, one seed, one self-describing run folder.

Run folder:
  config.json           the resolved TrainConfig, the prepared folder and the feature configs
  env.json              library versions, platform, git commit
  vocab.json            the vocabulary (built from the training split only)
  checkpoints/          last.ckpt (every epoch, for --resume) and best.ckpt (best on dev)
  metrics.csv           one row per epoch: train loss and dev metrics
  weights.safetensors   the selected (best-on-dev) weights — no pickles
  model.json            model name + config, enough to rebuild it with create_model
  balance.json          bilstm-cnn-fusion only: text factor + temperature chosen on dev
  dev_predictions.csv   one row per dev utterance sample: session, times, label, probability
  done.json             written last: best epoch and its dev metrics

The test split is never read here: only `train` and `dev` samples are built.
"""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from depscreen.corpora.prepare import load_prepared
from depscreen.errors import DepscreenError
from depscreen.training.config import TrainConfig
from depscreen.training.data import (
    DataBundle,
    build_data,
    predict_dataset,
    predict_log_odds,
    prediction_frame,
    sample_session_ids,
)
from depscreen.utils.atomic import atomic_path, atomic_write_text
from depscreen.utils.provenance import environment

FORMAT_VERSION = 1
DONE_FILE = "done.json"
MAXIMIZE = {"dev_ua", "dev_f1", "dev_participant_ua", "dev_participant_f1"}


@dataclass
class RunResult:
    out: Path
    best_epoch: int
    dev_metrics: dict
    skipped: bool = False


def is_finished(out: Path) -> bool:
    return (Path(out) / DONE_FILE).is_file()


def _write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def _is_ddp_worker() -> bool:
    """True in a process Lightning's DDP launcher started for rank > 0 (it re-runs the command).

    Such a process finds the run folder rank 0 has just started; it must neither refuse it
    as "already holds a run" nor rewrite its files.
    """
    return any(int(os.environ.get(k, "0") or 0) != 0 for k in ("LOCAL_RANK", "NODE_RANK"))


def _check_run_folder(out: Path, cfg: TrainConfig, prepared: Path, resume: bool) -> None:
    cfg_path = out / "config.json"
    if not cfg_path.exists():
        return
    saved = json.loads(cfg_path.read_text())
    if not resume:
        raise DepscreenError(
            "run folder already holds a run; pass --resume to continue it or choose a new --out",
            out,
        )
    try:  # resolved again, so a run started before an option existed compares by its default
        saved_train = TrainConfig.from_dict(saved.get("train") or {}).to_dict()
    except (DepscreenError, TypeError):
        saved_train = None
    if saved_train != cfg.to_dict() or saved.get("prepared") != str(prepared):
        raise DepscreenError(
            "--resume with a different configuration than the run was started with; "
            "use the same options or a new --out",
            cfg_path,
        )


def train(
    prepared: Path,
    cfg: TrainConfig,
    out: Path,
    resume: bool = False,
    cache_dir: Path | None = None,
    progress: bool = True,
    reuse: dict[str, Path] | None = None,
) -> RunResult:
    """Train `cfg.model` on the train split of `prepared`, select on dev, write the run folder.

    `reuse` (decision-fusion only): finished single-modal runs to use as its per-modality
    classifiers, e.g. {"text": RUN, "speech": RUN}, instead of training them again.
    """
    prepared, out = Path(prepared).resolve(), Path(out)
    if resume and is_finished(out):
        done = json.loads((out / DONE_FILE).read_text())
        return RunResult(out, done["best_epoch"], done["dev_metrics"], skipped=True)
    worker = _is_ddp_worker()
    if not worker:
        _check_run_folder(out, cfg, prepared, resume)
    corpus = load_prepared(prepared)
    _check_representations(cfg)  # a bad encoder folder fails before the run folder exists
    cache_dir = Path(cache_dir) if cache_dir else prepared / "features"
    out.mkdir(parents=True, exist_ok=True)

    from depscreen.models import model_class

    fitting = model_class(cfg.model).fitting
    if fitting == "decision":
        from depscreen.training.decision import train_decision_fusion

        return train_decision_fusion(corpus, prepared, cfg, out, resume, cache_dir, progress,
                                     reuse=reuse)

    data = build_data(corpus, cfg, cache_dir, progress=progress and not worker)
    if not worker:
        _write_run_header(out, cfg, prepared, data)
    if fitting == "closed-form":
        model, best_epoch, dev = fit_closed_form(cfg, data, out)
    else:
        model, best_epoch, dev = fit_model(cfg, data, out, resume, progress)
    finish_run(out, cfg, model, data, best_epoch, dev)
    return RunResult(out, best_epoch, dev)


def _check_representations(cfg: TrainConfig) -> None:
    """Build the run's representations once (reads their configs; loads no weights)."""
    from depscreen.features.audio import LogMelConfig
    from depscreen.training.data import feature_choice, model_modalities

    feature_choice(cfg).inputs(LogMelConfig(**cfg.audio), model_modalities(cfg.model))


def _write_run_header(out: Path, cfg: TrainConfig, prepared: Path, data: DataBundle) -> None:
    _write_json(
        out / "config.json",
        {"format": FORMAT_VERSION, "prepared": str(prepared), "train": cfg.to_dict(),
         "features": data.feature_config()},
    )
    _write_json(out / "env.json", environment())
    if data.vocab is not None:
        atomic_write_text(out / "vocab.json", data.vocab.to_json())


def _quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    warnings.filterwarnings("ignore", ".*torch.nn.utils.rnn.*")
    # Under DDP every rank scores the whole dev set, so epoch metrics need no sync_dist.
    warnings.filterwarnings("ignore", ".*sync_dist=True.*")


def fit_model(cfg: TrainConfig, data: DataBundle, out: Path, resume: bool, progress: bool):
    """Fit with Lightning; return the best-on-dev model, its epoch and its dev metrics."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from depscreen.models import create_model
    from depscreen.training.callbacks import EpochCSVLogger
    from depscreen.training.module import LitClassifier

    _quiet_lightning()
    # Recurrent gradients decay into subnormal floats, which x86 processes ~100x slower.
    torch.set_flush_denormal(True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model = create_model(cfg.model, **data.model_kwargs(cfg))
    if cfg.init_from:
        _init_encoders(model, cfg.init_from, data)
    lit = LitClassifier(model, lr=cfg.lr, weight_decay=cfg.weight_decay,
                        class_weights=data.class_weights if cfg.imbalance == "class-weights" else None,
                        seed=cfg.seed, spec_augment=cfg.spec_augment)
    mode = "max" if cfg.monitor in MAXIMIZE else "min"
    ckpt_dir = out / "checkpoints"
    checkpoint = ModelCheckpoint(dirpath=ckpt_dir, filename="best", monitor=cfg.monitor, mode=mode,
                                 save_top_k=1, save_last=True, enable_version_counter=False)
    callbacks = [checkpoint, EpochCSVLogger(out / "metrics.csv")]
    if cfg.patience:
        callbacks.append(EarlyStopping(monitor=cfg.monitor, mode=mode, patience=cfg.patience))
    trainer = L.Trainer(
        accelerator=cfg.accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=cfg.strategy,
        max_epochs=cfg.max_epochs,
        callbacks=callbacks,
        logger=False,
        deterministic=True,
        num_sanity_val_steps=0,  # a sanity pass would consume randomness a resumed run does not
        enable_progress_bar=progress,
        enable_model_summary=False,
        use_distributed_sampler=False,  # our bucket sampler shards itself across ranks
        limit_train_batches=cfg.limit_train_batches,
        default_root_dir=str(out),
    )
    last = ckpt_dir / "last.ckpt"
    ckpt_path = str(last) if resume and last.exists() else None
    train_loader = data.train_loader(cfg, rank=trainer.global_rank, world_size=trainer.world_size)
    if ckpt_path is not None:
        # Loader workers draw the first batches when the iterator is made, before any epoch
        # hook runs: start the sampler at the epoch Lightning resumes (the one after last.ckpt).
        resumed = torch.load(last, map_location="cpu", weights_only=True)["epoch"] + 1
        train_loader.batch_sampler.set_epoch(int(resumed))
    trainer.fit(lit, train_loader, data.dev_loader(cfg), ckpt_path=ckpt_path)
    if trainer.interrupted:
        raise KeyboardInterrupt
    best_path = Path(checkpoint.best_model_path) if checkpoint.best_model_path else last
    state = torch.load(best_path, map_location="cpu", weights_only=True)
    best_epoch = int(state["epoch"])
    model.load_state_dict({k[len("model."):]: v for k, v in state["state_dict"].items()
                           if k.startswith("model.")})
    model.eval()
    if trainer.global_rank != 0:
        # Only rank 0 writes the run's outputs.
        raise SystemExit(0)
    if getattr(model.config, "balance", "none") == "participant":
        _fit_text_balance(model, data, cfg, out)
    probs = predict_dataset(model, data.dev, cfg)
    from depscreen.training.module import dev_metrics

    dev = dev_metrics(sample_session_ids(data.dev), probs, data.dev.labels)
    data.dev_probs = probs
    return model, best_epoch, dev


def fit_closed_form(cfg: TrainConfig, data: DataBundle, out: Path):
    """A classical model: fitted on train in one go, its C chosen on dev (fit.json says how)."""
    from depscreen.models import create_model
    from depscreen.training.module import dev_metrics

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, **data.model_kwargs(cfg))
    info = model.fit_closed_form(data.train, data.dev, seed=cfg.seed)
    _write_json(out / "fit.json", info)
    model.eval()
    probs = predict_dataset(model, data.dev, cfg)
    dev = dev_metrics(sample_session_ids(data.dev), probs, data.dev.labels)
    data.dev_probs = probs
    return model, -1, dev


def _fit_text_balance(model, data: DataBundle, cfg: TrainConfig, out: Path) -> None:
    """Feature-level fusion: the text branch's weight for screening participants, on dev."""
    model.temperature.fill_(1.0)
    with_text = predict_log_odds(model, data.dev, cfg)
    model.text_balance.fill_(0.0)
    without_text = predict_log_odds(model, data.dev, cfg)
    result = model.fit_text_balance(with_text, without_text, data.dev.labels,
                                    sample_session_ids(data.dev))
    _write_json(out / "balance.json", asdict(result))


def _init_encoders(model, init_from: dict, data: DataBundle) -> None:
    """Warm-start the fusion's branches from finished single-modal runs."""
    sources = {}
    for modality, run in init_from.items():
        vocab_file = Path(run) / "vocab.json"
        if modality == "text" and data.vocab is not None and vocab_file.is_file() and (
            vocab_file.read_text() != data.vocab.to_json()
        ):
            raise DepscreenError("the text run was trained with another vocabulary", vocab_file)
        sources[f"{modality}_model"] = load_run_model(Path(run))[0]
    model.init_encoders_from(**sources)


def save_weights(model: torch.nn.Module, out: Path, name: str, extra: dict | None = None) -> None:
    """weights.safetensors + model.json: rebuildable with create_model, no pickles."""
    from safetensors.torch import save_file

    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(out / "weights.safetensors") as tmp:
        save_file(tensors, str(tmp), metadata={"model": name, "format": str(FORMAT_VERSION)})
    _write_json(out / "model.json", {"format": FORMAT_VERSION, "name": name,
                                     "config": model.config_dict(), **(extra or {})})


def finish_run(out: Path, cfg: TrainConfig, model, data: DataBundle, best_epoch: int,
               dev: dict) -> None:
    save_weights(model, out, cfg.model, {"features": data.feature_config(),
                                         "text_input": cfg.text_input})
    rows = prediction_frame(data.dev, data.dev_probs)
    atomic_write_text(out / "dev_predictions.csv", rows.to_csv(index=False))
    _write_json(out / DONE_FILE, {"best_epoch": best_epoch, "dev_metrics": dev,
                                  "model": cfg.model, "seed": cfg.seed})


def load_run_model(run: Path):
    """Rebuild a trained model from a run folder (safetensors + JSON; never unpickles)."""
    from safetensors.torch import load_file

    from depscreen.models import create_model

    run = Path(run)
    if not (run / "model.json").is_file():
        raise DepscreenError("not a finished run folder (no model.json)", run)
    spec = json.loads((run / "model.json").read_text())
    model = create_model(spec["name"], **spec["config"])
    model.load_state_dict(load_file(str(run / "weights.safetensors")))
    model.eval()
    return model, spec

