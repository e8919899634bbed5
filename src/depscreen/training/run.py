"""`depscreen train`: one model, one seed, one self-describing run folder.

The folder's layout is owned by `RunFolder` (training/run_folder.py). How a model is fitted
is what its class declares (`fitting`): by gradient with Lightning (`fit_model`), in closed
form (`fit_closed_form`), or as a decision-level combination of sub-runs
(training/decision.py). Each returns a `Fit`; `train` writes it.

The test split is never read here: only `train` and `dev` samples are built.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from depscreen.corpora.prepare import load_prepared
from depscreen.errors import DepscreenError, Interrupted
from depscreen.training.config import TrainConfig
from depscreen.training.data import (
    DataBundle,
    build_data,
    predict_dataset,
    predict_log_odds,
    predict_scores,
    prediction_frame,
    sample_session_ids,
)
from depscreen.training.decision import fit_decision_fusion
from depscreen.training.run_folder import Fit, RunFolder
from depscreen.utils.outputs import check_output_folder, corpus_folder

MAXIMIZE = {"dev_ua", "dev_f1", "dev_participant_ua", "dev_participant_f1", "dev_participant_ccc"}


@dataclass
class RunResult:
    out: Path
    best_epoch: int
    dev_metrics: dict
    skipped: bool = False
    # False in a DDP process of rank > 0: it trained its share, rank 0 wrote the folder.
    written: bool = True


def is_finished(out: Path) -> bool:
    return RunFolder(out).is_finished()


def _is_ddp_worker() -> bool:
    """True in a process Lightning's DDP launcher started for rank > 0 (it re-runs the command).

    Such a process finds the run folder rank 0 has just started; it must neither refuse it
    as "already holds a run" nor rewrite its files.
    """
    return any(int(os.environ.get(k, "0") or 0) != 0 for k in ("LOCAL_RANK", "NODE_RANK"))


def _check_run_folder(folder: RunFolder, cfg: TrainConfig, prepared: Path, resume: bool) -> None:
    if not folder.config_file.exists():
        return
    saved = folder.header()
    if not resume:
        raise DepscreenError(
            "run folder already holds a run; pass --resume to continue it or choose a new --out",
            folder.path,
        )
    try:  # resolved again, so a run started before an option existed compares by its default
        saved_train = TrainConfig.from_dict(saved.get("train") or {}).to_dict()
    except (DepscreenError, TypeError):
        saved_train = None
    if saved_train != cfg.to_dict() or saved.get("prepared") != str(prepared):
        raise DepscreenError(
            "--resume with a different configuration than the run was started with; "
            "use the same options or a new --out",
            folder.config_file,
        )


@contextlib.contextmanager
def intra_op_threads(threads: int | None) -> Iterator[None]:
    """Run with `threads` intra-op threads (None: as is), restoring the count afterwards."""
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


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

    `reuse` (decision-level models only): finished single-modal runs to use as its
    per-modality classifiers, e.g. {"text": RUN, "speech": RUN}, instead of training them.
    """
    with intra_op_threads(cfg.threads):
        return _train(prepared, cfg, out, resume, cache_dir, progress, reuse)


def _train(prepared: Path, cfg: TrainConfig, out: Path, resume: bool, cache_dir: Path | None,
           progress: bool, reuse: dict[str, Path] | None) -> RunResult:
    from depscreen.models import model_class

    prepared, folder = Path(prepared).resolve(), RunFolder(out)
    if resume and folder.is_finished():
        done = folder.done()
        return RunResult(folder.path, done["best_epoch"], done["dev_metrics"], skipped=True)
    worker = _is_ddp_worker()
    if not worker:
        _check_run_folder(folder, cfg, prepared, resume)
    corpus = load_prepared(prepared)
    if not worker:  # the run folder: outside the corpus, holding neither input
        check_output_folder(out, inputs=[("the --prepared corpus", prepared)],
                            roots=[("the corpus root", corpus_folder(corpus.root))])
    _check_representations(cfg)  # a bad encoder folder fails before the run folder exists
    cache_dir = Path(cache_dir) if cache_dir else prepared / "features"
    folder.path.mkdir(parents=True, exist_ok=True)

    fitting = model_class(cfg.model).fitting
    if fitting == "decision":
        def train_sub_run(sub_cfg: TrainConfig, sub_out: Path) -> None:
            train(prepared, sub_cfg, sub_out, resume=resume or RunFolder(sub_out).is_finished(),
                  cache_dir=cache_dir, progress=progress)

        data, fit = fit_decision_fusion(corpus, cfg, folder, cache_dir, progress, reuse,
                                        train_sub_run)
        folder.write_header(cfg, prepared, data)
    else:
        data = build_data(corpus, cfg, cache_dir, progress=progress and not worker)
        if not worker:
            folder.write_header(cfg, prepared, data)
        if fitting == "closed-form":
            fit = fit_closed_form(cfg, data, folder)
        else:
            fit = fit_model(cfg, data, folder, resume, progress)
    if fit is None:  # a DDP rank > 0: only rank 0 writes the run's outputs
        return RunResult(folder.path, -1, {}, written=False)
    folder.finish(cfg, data, fit, prediction_frame(data.dev, fit.dev_probs, fit.dev_scores,
                                                   fit.dev_items))
    return RunResult(folder.path, fit.best_epoch, fit.dev_metrics)


def _check_representations(cfg: TrainConfig) -> None:
    """Build the run's representations once (reads their configs; loads no weights)."""
    from depscreen.features.audio import LogMelConfig
    from depscreen.training.data import feature_choice, model_modalities

    feature_choice(cfg).inputs(LogMelConfig(**cfg.audio), model_modalities(cfg.model))


def _quiet_lightning() -> None:
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", ".*does not have many workers.*")
    warnings.filterwarnings("ignore", ".*LeafSpec.*")
    warnings.filterwarnings("ignore", ".*torch.nn.utils.rnn.*")
    # Under DDP every rank scores the whole dev set, so epoch metrics need no sync_dist.
    warnings.filterwarnings("ignore", ".*sync_dist=True.*")


def _trainer(cfg: TrainConfig, folder: RunFolder, progress: bool):
    """The Lightning trainer and its checkpoint callback (best on `cfg.monitor`, and last)."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from depscreen.training.callbacks import EpochCSVLogger

    mode = "max" if cfg.monitor in MAXIMIZE else "min"
    checkpoint = ModelCheckpoint(dirpath=folder.checkpoints, filename="best", monitor=cfg.monitor,
                                 mode=mode, save_top_k=1, save_last=True,
                                 enable_version_counter=False)
    callbacks = [checkpoint, EpochCSVLogger(folder.metrics_file)]
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
        default_root_dir=str(folder.path),
    )
    return trainer, checkpoint


def fit_model(cfg: TrainConfig, data: DataBundle, folder: RunFolder, resume: bool,
              progress: bool) -> Fit | None:
    """Fit with Lightning; the best-on-dev model, its epoch and its dev metrics (None in a
    DDP process of rank > 0, which writes nothing)."""
    import lightning as L

    from depscreen.models import create_model
    from depscreen.training.module import LitClassifier

    _quiet_lightning()
    # Recurrent gradients decay into subnormal floats, which x86 processes ~100x slower.
    torch.set_flush_denormal(True)
    L.seed_everything(cfg.seed, workers=True, verbose=False)
    model = create_model(cfg.model, task=cfg.task, **data.model_kwargs(cfg))
    if cfg.init_from:
        _init_encoders(model, cfg.init_from, data)
    lit = LitClassifier(model, lr=cfg.lr, weight_decay=cfg.weight_decay,
                        class_weights=data.class_weights if cfg.imbalance == "class-weights" else None,
                        seed=cfg.seed, spec_augment=cfg.spec_augment)
    trainer, checkpoint = _trainer(cfg, folder, progress)
    last = folder.checkpoints / "last.ckpt"
    ckpt_path = str(last) if resume and last.exists() else None
    train_loader = data.train_loader(cfg, rank=trainer.global_rank, world_size=trainer.world_size)
    if ckpt_path is not None:
        # Loader workers draw the first batches when the iterator is made, before any epoch
        # hook runs: start the sampler at the epoch Lightning resumes (the one after last.ckpt).
        resumed = torch.load(last, map_location="cpu", weights_only=True)["epoch"] + 1
        train_loader.batch_sampler.set_epoch(int(resumed))
    trainer.fit(lit, train_loader, data.dev_loader(cfg), ckpt_path=ckpt_path)
    if trainer.interrupted:
        raise Interrupted("training interrupted; re-run the same command with --resume",
                          folder.path)
    best_path = Path(checkpoint.best_model_path) if checkpoint.best_model_path else last
    state = torch.load(best_path, map_location="cpu", weights_only=True)
    model.load_state_dict({k[len("model."):]: v for k, v in state["state_dict"].items()
                           if k.startswith("model.")})
    model.eval()
    if trainer.global_rank != 0:
        return None
    balance = None
    if getattr(model.config, "balance", "none") == "participant":
        balance = _fit_text_balance(model, data, cfg)
        folder.write_json("balance.json", balance)
    return _dev_fit(model, int(state["epoch"]), data, cfg)


def _dev_fit(model, best_epoch: int, data: DataBundle, cfg: TrainConfig) -> Fit:
    """The selected model's dev predictions and metrics: the screen's probabilities when it
    has a binary head (else NaN), and its PHQ-8 estimates for the regression tasks."""
    from depscreen.training.module import dev_metrics, dev_score_metrics

    ids = sample_session_ids(data.dev)
    dev: dict = {}
    if cfg.task in ("binary", "multitask"):
        probs = predict_dataset(model, data.dev, cfg)
        dev.update(dev_metrics(ids, probs, data.dev.labels))
    else:
        probs = np.full(len(data.dev), np.nan)
    scores = items = None
    if cfg.task != "binary":
        scores, items = predict_scores(model, data.dev, cfg)
        dev.update(dev_score_metrics(ids, scores, data.dev.scores))
    return Fit(model, best_epoch, dev, probs, dev_scores=scores, dev_items=items)


def fit_closed_form(cfg: TrainConfig, data: DataBundle, folder: RunFolder) -> Fit:
    """A classical model: fitted on train in one go, its C chosen on dev (fit.json says how)."""
    from depscreen.models import create_model

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, task=cfg.task, **data.model_kwargs(cfg))
    folder.write_json("fit.json", model.fit_closed_form(data.train, data.dev, seed=cfg.seed))
    model.eval()
    return _dev_fit(model, -1, data, cfg)


def _fit_text_balance(model, data: DataBundle, cfg: TrainConfig) -> dict:
    """Feature-level fusion: the text branch's weight for screening participants, on dev."""
    model.temperature.fill_(1.0)
    with_text = predict_log_odds(model, data.dev, cfg)
    model.text_balance.fill_(0.0)
    without_text = predict_log_odds(model, data.dev, cfg)
    result = model.fit_text_balance(with_text, without_text, data.dev.labels,
                                    sample_session_ids(data.dev))
    return asdict(result)


def _init_encoders(model, init_from: dict, data: DataBundle) -> None:
    """Warm-start the fusion's branches from finished single-modal runs."""
    sources = {}
    for modality, run in init_from.items():
        sub = RunFolder(run)
        if modality == "text" and data.vocab is not None and sub.vocab_file.is_file() and (
            sub.vocab_file.read_text() != data.vocab.to_json()
        ):
            raise DepscreenError("the text run was trained with another vocabulary",
                                 sub.vocab_file)
        sources[f"{modality}_model"] = sub.load_model()[0]
    model.init_encoders_from(**sources)


def load_run_model(run: Path):
    """Rebuild a trained model from a run folder (safetensors + JSON; never unpickles)."""
    return RunFolder(run).load_model()
