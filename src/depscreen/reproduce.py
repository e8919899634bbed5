"""`depscreen reproduce`: the paper's Table I and Fig. 1 on any supported corpus, and with
`--task regression` (or items, multitask) Table II, the PHQ-8 score estimates.

prepare (generating the embedded synthetic corpus once when no corpus is given)
  -> train the six models of Table I and decision-fusion on train, select on dev, K seeds
  -> evaluate every run on test with thresholds fixed on dev
  -> table.csv / table.md (mean ± std over seeds, bootstrap CI over participants, the paper's
     numbers beside ours), confusion_matrix.png (Fig. 1), gender.csv, report.html

With another task than binary, the runs go to RUN/<model>/<task>-seed<k> and the outputs to
table_<task>.csv/md (Table II: RMSE, MAE, CCC, r, the screen at 10, the naive references and
the AVEC anchors), <task>_scatter.png, <task>_residuals.png and summary_<task>.json, so the
binary outputs of an earlier call into the same --out stay as they were; report.html shows
every task run into --out.

Everything finished is kept: an interrupted reproduce re-run skips finished runs and resumes
a half-trained one from its last checkpoint.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from depscreen.errors import DepscreenError
from depscreen.table_models import BASELINE_MODELS, ROW_MODELS, TABLE_MODELS
from depscreen.training.run_folder import RunFolder
from depscreen.utils.atomic import atomic_write_text
from depscreen.utils.outputs import check_output_folder, corpus_folder
from depscreen.utils.workers import exit_with_parent

TASKS = ("binary", "regression", "multitask", "items")  # training.config.DEFAULT_MONITOR


def default_models(task: str = "binary", baselines: bool = False) -> list[str]:
    """The binary task's rows: Table I (and with `baselines` the classical rows). Another
    task's: every row model, Table I's and the baselines, whose class has that head."""
    from depscreen.models import model_class

    if task == "binary":
        return list(TABLE_MODELS) + (list(BASELINE_MODELS) if baselines else [])
    return [m for m in ROW_MODELS if task in model_class(m).heads]


def requested_models(models: list[str] | None, baselines: bool, task: str) -> list[str]:
    """`--models` (None: the task's default rows) plus, with `--baselines`, the classical
    rows (another task than binary: those with its head not already there)."""
    from depscreen.models import model_class

    chosen = list(models) if models else default_models(task)
    if not baselines:
        return chosen
    if task == "binary":
        return chosen + list(BASELINE_MODELS)
    return chosen + [m for m in BASELINE_MODELS
                     if task in model_class(m).heads and m not in chosen]


@dataclass
class ReproduceConfig:
    corpus: str = "synthetic"
    root: Path = Path("data/synthetic")
    out: Path = Path("runs/reproduce")
    profile: str = "fast"
    seeds: int = 3
    first_seed: int = 0
    models: list[str] | None = None  # None: default_models(task)
    jobs: int | None = None  # parallel training processes (default: CPU count)
    aggregation: str = "mean"
    threshold_rule: str = "balanced-logistic"  # stats.threshold.THRESHOLD_RULES
    synth: dict = field(default_factory=dict)  # SynthConfig overrides for the embedded corpus
    train_overrides: dict = field(default_factory=dict)  # TrainConfig overrides (tests, tuning)
    # Representations for the paper's models (speech_features, text_features, ssl_layer,
    # feature_norm); the baselines keep the ones they are defined on.
    representation: dict = field(default_factory=dict)
    n_boot: int = 1000
    # Initialise the fusion's branches from the same seed's LSTM-CNN runs, then train it end
    # to end at a quarter of the learning rate (README, "Reproducing Table I").
    warm_start_fusion: bool = True
    # binary (Table I), or regression / items / multitask: Table II from the score head.
    task: str = "binary"
    # Whose turns every model reads (TrainConfig.source): participant, or interviewer / both
    # to see how far the interviewer's prompts carry a model (use another --out: the
    # tables are the same files).
    source: str = "participant"

    def __post_init__(self) -> None:
        if self.models is None:
            self.models = default_models(self.task)

    def to_dict(self) -> dict:
        d = dict(self.__dict__)
        d["root"], d["out"] = str(self.root), str(self.out)
        return d


def run_dir(cfg: ReproduceConfig, model: str, seed: int) -> Path:
    """A binary run's folder is runs/<model>/seed<k>; another task's runs/<model>/<task>-seed<k>
    (so the two never share a folder)."""
    name = f"seed{seed}" if cfg.task == "binary" else f"{cfg.task}-seed{seed}"
    if cfg.source != "participant":
        name = f"{cfg.source}-{name}"
    return cfg.out / "runs" / model / name


def config_file(cfg: ReproduceConfig) -> Path:
    name = "reproduce_config.json" if cfg.task == "binary" else f"reproduce_config_{cfg.task}.json"
    return cfg.out / name


def _train_job(prepared: str, train_cfg: dict, out: str, reuse: dict | None, threads: int) -> str:
    """One training run in a worker process (top level: picklable)."""
    from depscreen.training.config import TrainConfig
    from depscreen.training.run import intra_op_threads, train

    with intra_op_threads(threads):  # restored after: jobs=1 runs in the caller's process
        train(Path(prepared), TrainConfig.from_dict(train_cfg), Path(out), resume=True,
              progress=False, reuse={k: Path(v) for k, v in (reuse or {}).items()})
    return out


def _scoring(cfg: ReproduceConfig) -> dict:
    """How test is scored; an evaluation made another way is redone, not reused. A score-only
    task has no threshold and chooses its aggregation on dev (evaluation/regression.py)."""
    binary = {"aggregation": cfg.aggregation, "threshold_rule": cfg.threshold_rule}
    if cfg.task == "binary":
        return binary
    return {"task": cfg.task} if cfg.task in ("regression", "items") else {**binary,
                                                                           "task": cfg.task}


def _evaluation_current(run: Path, scoring: dict) -> bool:
    metrics = run / "eval-test" / "metrics.json"
    done = RunFolder(run).done_file
    if not metrics.is_file() or metrics.stat().st_mtime_ns < done.stat().st_mtime_ns:
        return False
    written = json.loads(metrics.read_text())
    return all(written.get(k) == v for k, v in scoring.items())


def train_and_score(prepared: str, train_cfg: dict, out: str, depends: dict | None,
                    threads: int, scoring: dict) -> str:
    """Train (unless finished), then score on test with dev thresholds (unless done)."""
    run = Path(out)
    if not RunFolder(run).is_finished():
        # Decision fusion reuses its dependencies as classifiers; the fusion model is only
        # initialised from them (via its config's init_from).
        from depscreen.models import model_class

        reuse = depends if model_class(train_cfg["model"]).fitting == "decision" else None
        _train_job(prepared, train_cfg, out, reuse, threads)
    if not _evaluation_current(run, scoring):
        from depscreen.evaluation.evaluate import evaluate_run

        how = {k: scoring[k] for k in ("aggregation", "threshold_rule") if k in scoring}
        evaluate_run(run, "test", out=run / "eval-test", **how)
    return out


def _jobs_and_threads(jobs: int | None, n_runs: int) -> tuple[int, int]:
    cpus = os.cpu_count() or 1
    n = max(1, min(jobs or cpus, n_runs))
    return n, max(1, cpus // n)


def run_jobs(calls: list[tuple[str, dict, str, dict | None]], jobs: int | None, scoring: dict,
             bar, task, labels: list[str]) -> None:
    """`train_and_score(prepared, train_cfg, out, depends, ...)` for every call: in this
    process one after another when one job runs at a time (the bar names each, `labels`),
    else in spawned worker processes (forked ones would inherit the parent's torch thread
    pools). Used by reproduce and the audit."""
    if not calls:
        return
    n, threads = _jobs_and_threads(jobs, len(calls))
    if n == 1:
        for call, label in zip(calls, labels, strict=True):
            bar.update(task, description=label)
            train_and_score(*call, threads, scoring)
            bar.advance(task)
        return
    with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn"),
                             initializer=exit_with_parent, initargs=(os.getpid(),)) as pool:
        futures = [pool.submit(train_and_score, *call, threads, scoring) for call in calls]
        bar.update(task, description=f"training + test scoring ({n} in parallel)")
        for fut in as_completed(futures):
            fut.result()  # re-raise a worker's error here
            bar.advance(task)


def prepare_corpus(corpus: str, root: Path, out: Path, synth: dict, progress: bool):
    """OUT/prepared for a recipe (the embedded corpus generated first with `synth`
    SynthConfig overrides when it is not there)."""
    from depscreen.corpora.prepare import prepare

    synth_config = None
    if corpus == "synthetic":
        from depscreen.corpora.synthetic import SynthConfig

        synth_config = SynthConfig(**synth) if synth else None
    return prepare(corpus, root, Path(out) / "prepared", synth_config=synth_config,
                   progress=progress)


def check_config(cfg: ReproduceConfig) -> None:
    """Refuse an unknown task or model, or a model without the task's head (one line each)."""
    from depscreen.models import model_class

    if cfg.task not in TASKS:
        raise DepscreenError(f"--task must be one of {', '.join(TASKS)}, got {cfg.task!r}")
    unknown = [m for m in cfg.models if m not in ROW_MODELS]
    if unknown:
        raise DepscreenError(f"unknown model(s) {unknown}; the table has {list(ROW_MODELS)}")
    unable = [m for m in cfg.models if cfg.task not in model_class(m).heads]
    if unable:
        able = [m for m in ROW_MODELS if cfg.task in model_class(m).heads]
        raise DepscreenError(f"{', '.join(unable)} cannot be trained for --task {cfg.task}; "
                             f"the models that can: {', '.join(able)}")
    if cfg.seeds < 1:
        raise DepscreenError(f"--seeds must be >= 1, got {cfg.seeds}")


def reproduce(cfg: ReproduceConfig, progress: bool = True, console=None) -> dict:
    """Run the whole reproduction; returns the summary written to OUT/summary.json (another
    task than binary: OUT/summary_<task>.json)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    check_config(cfg)
    check_output_folder(cfg.out, roots=[("the corpus root --root", corpus_folder(cfg.root))])
    cfg.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(config_file(cfg), json.dumps(cfg.to_dict(), indent=2, default=str) + "\n")
    prep = prepare_corpus(cfg.corpus, cfg.root, cfg.out, cfg.synth, progress)
    prepared = cfg.out / "prepared"
    seeds = list(range(cfg.first_seed, cfg.first_seed + cfg.seeds))
    jobs_spec = _job_specs(cfg, seeds)
    _extract_all_features(prepared, prep.corpus, [j[2] for j in jobs_spec], progress)

    todo = [j for j in jobs_spec if not (RunFolder(run_dir(cfg, j[0], j[1])).is_finished()
                                         and _evaluation_current(run_dir(cfg, j[0], j[1]),
                                                                 _scoring(cfg)))]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn())
    with Progress(*columns, console=console, disable=not progress, transient=False) as bar:
        task = bar.add_task("training + test scoring", total=len(jobs_spec),
                            completed=len(jobs_spec) - len(todo))
        first = [j for j in todo if j[3] is None]
        later = [j for j in todo if j[3] is not None]
        for phase in (first, later):
            _run_phase(phase, prepared, cfg, bar, task)
    results = [_load_result(cfg, model, seed) for model, seed, _tc, _ in jobs_spec]
    if cfg.task == "binary":
        from depscreen.evaluation.report import build_outputs

        return build_outputs(cfg, prep, results, seeds)
    from depscreen.evaluation.report_regression import build_regression_outputs

    return build_regression_outputs(cfg, prep, results, seeds)


def _job_specs(cfg: ReproduceConfig, seeds: list[int]) -> list[tuple]:
    """(model, seed, TrainConfig, dependencies) of every run; runs with dependencies (None:
    none) are trained after the others."""
    from depscreen.models import model_class
    from depscreen.training.config import TrainConfig
    from depscreen.training.profiles import get_profile

    decision = [m for m in cfg.models if model_class(m).fitting == "decision"]
    single = [m for m in cfg.models if m not in decision]
    jobs_spec = []
    for seed in seeds:
        for model in single:
            overrides = {**cfg.train_overrides, "task": cfg.task, "source": cfg.source}
            if model in TABLE_MODELS:
                overrides.update(cfg.representation)
            depends = None
            # A model whose branches can start from single-modal runs (the paper's fusion
            # from the LSTM-CNNs) starts from the same seed's (and task's) runs when they are
            # in the table.
            sources = model_class(model).warm_start_from
            branches = {m: str(run_dir(cfg, src, seed)) for m, src in sources.items()}
            if (sources and cfg.warm_start_fusion
                    and all(src in cfg.models for src in sources.values())):
                overrides["init_from"] = branches
                overrides.setdefault("lr", get_profile(cfg.profile).lr / 4)
                depends = branches
            tc = TrainConfig(model=model, profile=cfg.profile, seed=seed, **overrides)
            jobs_spec.append((model, seed, tc, depends))
    for model in decision:
        parts = model_class(model).config_cls
        for seed in seeds:
            extra = cfg.representation if model in TABLE_MODELS else {}
            tc = TrainConfig(model=model, profile=cfg.profile, seed=seed,
                             **{**cfg.train_overrides, "task": cfg.task, "source": cfg.source},
                             **extra)
            # Its per-modality classifiers are exactly the same seed's runs of its sub-models
            # (LSTM-CNNs for decision-fusion, the classical baselines for stacked-fusion).
            subs = {m: getattr(parts, f"{m}_model") for m in ("text", "speech")}
            reuse = {m: str(run_dir(cfg, sub, seed)) for m, sub in subs.items()
                     if sub in cfg.models}
            jobs_spec.append((model, seed, tc, reuse or {}))
    return jobs_spec


def _run_phase(phase, prepared: Path, cfg: ReproduceConfig, bar, task) -> None:
    calls = [(str(prepared), tc.to_dict(), str(run_dir(cfg, model, seed)), reuse)
             for model, seed, tc, reuse in phase]
    run_jobs(calls, cfg.jobs, _scoring(cfg), bar, task,
             [f"{model} (seed {seed})" for model, seed, _tc, _r in phase])


def _extract_all_features(prepared: Path, corpus, train_cfgs: list, progress: bool) -> None:
    """Extract every speech representation the runs read once up front, so parallel runs
    only read the cache."""
    from depscreen.features.audio import LogMelConfig
    from depscreen.features.cache import extract_corpus
    from depscreen.training.data import feature_choice

    done = set()
    for tc in train_cfgs:
        audio_cfg = LogMelConfig(**tc.audio)
        choice = feature_choice(tc)
        key = (json.dumps(tc.audio, sort_keys=True), choice.speech, choice.ssl_layer)
        if key in done:
            continue
        done.add(key)
        extract_corpus(corpus, audio_cfg, prepared / "features", progress=progress,
                       rep=choice.speech_rep(audio_cfg))


def _load_result(cfg: ReproduceConfig, model: str, seed: int) -> dict:
    """One run's test evaluation, as written by its job into RUN/eval-test."""
    from depscreen.evaluation.evaluate import load_evaluation

    run = run_dir(cfg, model, seed)
    return {"model": model, "seed": seed, "run": run,
            "evaluation": load_evaluation(run / "eval-test")}
