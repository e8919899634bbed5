"""`depscreen train`, `evaluate` and `reproduce`: runs, their scores, and Table I."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from depscreen.cli.app import app, console, out, plain
from depscreen.cli.options import Epochs, Jobs, Participants, Root, Seeds, corpus_root
from depscreen.errors import ConfigError, DepscreenError


# ----------------------------------------------------------------------------- train
def _json_object(text: str | None, flag: str) -> dict:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{flag} is not valid JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{flag} must be a JSON object, got {type(value).__name__}")
    return value


SpeechFeatures = Annotated[
    str | None,
    typer.Option("--speech-features", help="What speech frames are: logmel (the paper's), "
                 "egemaps (openSMILE eGeMAPSv02 descriptors) or ssl:PATH (a frozen "
                 "wav2vec 2.0 / HuBERT / WavLM / data2vec-audio folder, offline). "
                 "Default: what the model reads (logmel; egemaps for egemaps-lr)."),
]
TextFeatures = Annotated[
    str | None,
    typer.Option("--text-features", help="What text is: tokens (word ids, the paper's), "
                 "minilm (the bundled sentence encoder) or hf:PATH (a local sentence-"
                 "transformers / Hugging Face encoder, mean-pooled). Default: what the "
                 "model reads."),
]
SSLLayer = Annotated[
    int | None,
    typer.Option("--ssl-layer", help="ssl:PATH only: which hidden layer (0 = the CNN "
                 "features, -1 = the last); default the middle one."),
]
FeatureNorm = Annotated[
    str | None,
    typer.Option("--feature-norm", help="Standardise speech frames per session (the "
                 "paper's), per speaker (pooled over the speaker's sessions) or none. "
                 "Default: what the model expects (none for egemaps-lr)."),
]


Task = Annotated[
    str,
    typer.Option("--task", help="binary (the screen, PHQ-8 >= 10; the paper's), regression "
                 "(the PHQ-8 total, 0-24, as in AVEC 2017/2019), multitask (both heads "
                 "trained together) or items (the eight PHQ-8 items, summing to the total)."),
]
Source = Annotated[
    str,
    typer.Option("--source", help="Whose turns the model reads: participant (the default; "
                 "what screening reads), interviewer (the interviewer's prompts only) or both. "
                 "Non-participant runs measure the interviewer-prompt shortcut (see `depscreen "
                 "audit`) and cannot be exported."),
]
SkipUnscored = Annotated[
    bool,
    typer.Option("--skip-unscored", help="Regression tasks: leave out train/dev sessions "
                 "without a PHQ-8 score instead of stopping with an error."),
]


@app.command()
def train(
    prepared: Annotated[
        Path, typer.Option("--prepared", help="A folder written by `depscreen prepare`.")
    ],
    model: Annotated[
        str,
        typer.Option(
            "--model",
            help="Registered model: bilstm-text, lstm-cnn-text, lstm-speech, cnn-speech, "
            "lstm-cnn-speech, bilstm-cnn-fusion, decision-fusion (the paper's); egemaps-lr, "
            "tfidf-lr, embedding-lr, stacked-fusion (classical baselines); `depscreen models` "
            "lists every registered model and what it reads.",
        ),
    ],
    out_dir: Annotated[Path, typer.Option("--out", help="Run folder to write.")],
    profile: Annotated[
        str,
        typer.Option(
            "--profile",
            help="paper: batch 30 (50 for fusion), 300 epochs, Adam, as published; "
            "fast: a few epochs with early stopping on dev; small: for a few hundred "
            "speakers (40 epochs, patience 8, SpecAugment, weight decay 1e-4).",
        ),
    ] = "fast",
    seed: Annotated[int, typer.Option("--seed", help="One seed for everything random.")] = 0,
    threads: Annotated[
        int | None,
        typer.Option("--threads", help="CPU threads for training (default: the physical "
                     "cores). One seed and one thread count repeat a CPU run exactly; "
                     "another count changes the rounding of parallel sums."),
    ] = None,
    resume: Annotated[
        bool,
        typer.Option("--resume", help="Continue an interrupted run from its last checkpoint."),
    ] = False,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Override the profile's maximum epochs.")
    ] = None,
    batch_size: Annotated[
        int | None, typer.Option("--batch-size", help="Override the profile's batch size.")
    ] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Override the learning rate.")] = None,
    imbalance: Annotated[
        str,
        typer.Option("--imbalance", help="balanced-sampling, class-weights or none."),
    ] = "balanced-sampling",
    text_input: Annotated[
        str,
        typer.Option("--text-input", help="tokens (vocabulary from train) or embedding "
                     "(offline all-MiniLM-L6-v2 sentence embeddings)."),
    ] = "tokens",
    speech_features: SpeechFeatures = None,
    text_features: TextFeatures = None,
    ssl_layer: SSLLayer = None,
    feature_norm: FeatureNorm = None,
    spec_augment: Annotated[
        bool | None, typer.Option("--spec-augment/--no-spec-augment", help="Mask random time "
                                  "stretches and feature dimensions of speech frames while "
                                  "training (SpecAugment). Default: the profile's (on for "
                                  "small).")
    ] = None,
    weight_decay: Annotated[
        float | None, typer.Option("--weight-decay", help="L2 weight decay of the optimiser "
                                   "(default: the profile's, 1e-4 for small, else 0).")
    ] = None,
    patience: Annotated[
        int | None, typer.Option("--patience", help="Stop after this many epochs without "
                                 "a better dev score (default: the profile's).")
    ] = None,
    model_config: Annotated[
        str | None, typer.Option("--model-config", help="JSON object of model config "
                                 "overrides, e.g. '{\"pooling\": \"mean\"}' (see the model's "
                                 "config class; an unknown key is an error).")
    ] = None,
    accelerator: Annotated[
        str, typer.Option("--accelerator", help="cpu (default), gpu/cuda, or auto.")
    ] = "cpu",
    devices: Annotated[
        int, typer.Option("--devices", help="Devices per node; >1 trains with DDP.")
    ] = 1,
    num_nodes: Annotated[int, typer.Option("--num-nodes", help="Nodes for multi-node DDP.")] = 1,
    strategy: Annotated[
        str, typer.Option("--strategy", help="Lightning strategy (auto picks DDP for >1 device).")
    ] = "auto",
    cache_dir: Annotated[
        Path | None,
        typer.Option("--cache-dir", help="Feature cache (default: PREPARED/features)."),
    ] = None,
    limit_train_batches: Annotated[
        int | None, typer.Option("--limit-train-batches", hidden=True)
    ] = None,
    task: Task = "binary",
    skip_unscored: SkipUnscored = False,
    source: Source = "participant",
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Train one model on the train split, select it on dev, write a self-describing run folder.

    The test split is never read. Per-epoch checkpoints make an interrupted run resumable
    (--resume) to the same final weights.
    """
    from depscreen.training.config import TrainConfig
    from depscreen.training.run import train as run_train

    if devices > 1 and strategy == "auto":
        strategy = "ddp"
    cfg = TrainConfig(
        model=model, profile=profile, seed=seed, threads=threads, max_epochs=epochs,
        batch_size=batch_size, lr=lr,
        imbalance=imbalance, text_input=text_input, accelerator=accelerator, devices=devices,
        speech_features=speech_features, text_features=text_features, ssl_layer=ssl_layer,
        feature_norm=feature_norm, spec_augment=spec_augment, weight_decay=weight_decay,
        patience=patience, model_config=_json_object(model_config, "--model-config"),
        num_nodes=num_nodes, strategy=strategy, limit_train_batches=limit_train_batches,
        task=task, skip_unscored=skip_unscored, source=source,
    )
    result = run_train(prepared, cfg, out_dir, resume=resume, cache_dir=cache_dir,
                       progress=not quiet)
    if not result.written:  # a DDP process of rank > 0: rank 0 reports
        return
    if result.skipped:
        console.print(f"{plain(out_dir)}: already finished, nothing to do")
    dev = ", ".join(f"{k}={v:.3f}" for k, v in result.dev_metrics.items())
    out.print(f"{model}: best epoch {result.best_epoch}; dev {dev}", highlight=False)
    out.print(f"run folder: {plain(result.out)}")


# ----------------------------------------------------------------------------- evaluate
ThresholdRule = Annotated[
    str,
    typer.Option("--threshold-rule", help="How the dev predictions fix the decision "
                 "thresholds: balanced-logistic (where a class-balanced logistic fit on dev "
                 "crosses 1/2; steadier on small dev splits) or max-ua (the threshold with "
                 "the best dev UA)."),
]


def _check_threshold_rule(rule: str) -> None:
    from depscreen.stats.threshold import THRESHOLD_RULES

    if rule not in THRESHOLD_RULES:
        raise DepscreenError(f"--threshold-rule must be one of {', '.join(THRESHOLD_RULES)}, "
                             f"got {rule!r}")


@app.command()
def evaluate(
    run: Annotated[Path, typer.Argument(help="A finished run folder from `depscreen train`.")],
    split: Annotated[str, typer.Option("--split", help="dev or test.")] = "test",
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where to write metrics.json, predictions and figures "
                     "(default: RUN/eval-SPLIT)."),
    ] = None,
    aggregation: Annotated[
        str,
        typer.Option("--aggregation", help="Utterance -> participant: mean of probabilities "
                     "or majority vote."),
    ] = "mean",
    threshold_rule: ThresholdRule = "balanced-logistic",
) -> None:
    """Score a trained run at utterance level and participant level.

    Decision thresholds are chosen on the run's dev predictions, never on the split scored.
    Writes metrics.json (keys utterance and participant), predictions.csv (one row per
    participant), utterance_predictions.csv and a confusion-matrix PNG per level. A
    regression run (train --task regression/items/multitask) adds the PHQ-8 score's RMSE,
    MAE, CCC and r against the train-mean and train-median references.
    """
    from depscreen.evaluation.evaluate import evaluate_run
    from depscreen.stats.aggregate import LEVELS

    _check_threshold_rule(threshold_rule)
    target = out_dir or run / f"eval-{split}"
    ev = evaluate_run(run, split=split, out=target, aggregation=aggregation,
                      threshold_rule=threshold_rule)
    for level in [lv for lv in LEVELS if lv in ev.metrics]:
        m = ev.metrics[level]
        out.print(
            f"{level:11s} n={m['n']:5d}  F1 {m['f1_macro']:.3f}  F1(dep) {m['f1_depressed']:.3f}  "
            f"WA {m['wa']:.3f}  UA {m['ua']:.3f}  (threshold {ev.metrics['thresholds'][level]:.2f}"
            " from dev)",
            highlight=False,
        )
    if "regression" in ev.metrics:
        r, naive = ev.metrics["regression"], ev.metrics["naive"]["train mean"]
        out.print(f"PHQ-8 score n={r['n']:5d}  RMSE {r['rmse']:.2f}  MAE {r['mae']:.2f}  "
                  f"CCC {r['ccc']:.3f}  r {r['pearson_r']:.3f}  (train-mean reference: RMSE "
                  f"{naive['rmse']:.2f}; {ev.metrics['score_aggregation']} of the utterance "
                  "estimates, chosen on dev)", highlight=False, soft_wrap=True)
    out.print(f"written to {plain(target)}")


# ----------------------------------------------------------------------------- reproduce
@app.command()
def reproduce(
    corpus: Annotated[
        str,
        typer.Option("--corpus", help="synthetic (default: the embedded corpus, generated once), "
                     "daic-woz, edaic or manifest."),
    ] = "synthetic",
    root: Root = None,
    profile: Annotated[
        str, typer.Option("--profile", help="fast (minutes on a CPU), paper (300 epochs) or "
                          "small (for a few hundred speakers; see `train --help`).")
    ] = "fast",
    seeds: Seeds = 3,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path(
        "runs/reproduce"),
    jobs: Jobs = None,
    models: Annotated[
        str | None,
        typer.Option("--models", help="Comma-separated subset of the Table I models."),
    ] = None,
    participants: Participants = None,
    epochs: Epochs = None,
    aggregation: Annotated[
        str, typer.Option("--aggregation", help="mean or majority (participant level).")
    ] = "mean",
    threshold_rule: ThresholdRule = "balanced-logistic",
    cold_fusion: Annotated[
        bool,
        typer.Option("--cold-fusion", help="Train the fusion model from scratch instead of "
                     "initialising its branches from the same seed's LSTM-CNN runs."),
    ] = False,
    baselines: Annotated[
        bool, typer.Option("--baselines", help="Add the classical baselines' rows (egemaps-lr, "
                           "tfidf-lr, embedding-lr, stacked-fusion) on the same splits and "
                           "seeds.")
    ] = False,
    speech_features: SpeechFeatures = None,
    text_features: TextFeatures = None,
    ssl_layer: SSLLayer = None,
    feature_norm: FeatureNorm = None,
    task: Annotated[
        str,
        typer.Option("--task", help="binary: Table I, the screen (PHQ-8 >= 10). regression: "
                     "Table II, the PHQ-8 total (RMSE, MAE, CCC, r, the screen at 10, naive "
                     "references, published AVEC numbers) into table_regression.csv/md; "
                     "items: the eight items summing to the total; multitask: both heads, "
                     "Table II from the score head. A task other than binary trains every "
                     "Table I and baseline model that has the head, into runs/<model>/"
                     "<task>-seed<k>, beside earlier binary outputs in the same --out."),
    ] = "binary",
    source: Source = "participant",
    audit: Annotated[
        bool, typer.Option("--audit", help="Also run the interviewer-prompt audit into --out "
                           "(see `depscreen audit`).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress display.")] = False,
) -> None:
    """Reproduce the paper's Table I and Fig. 1 (or with --task regression, Table II): train,
    select on dev, score on test, report.

    Writes table.csv, table.md, confusion_matrix.png, gender.csv and a self-contained
    report.html under --out (--task regression: table_regression.csv/md and
    regression_scatter/residuals.png; report.html shows every task run into --out).
    Re-running skips finished runs.
    """
    from depscreen.reproduce import ReproduceConfig, requested_models
    from depscreen.reproduce import reproduce as run_reproduce

    _check_threshold_rule(threshold_rule)
    root = corpus_root(corpus, root)
    cfg = ReproduceConfig(
        corpus=corpus, root=root, out=out_dir, profile=profile, seeds=seeds, jobs=jobs,
        models=requested_models([m.strip() for m in models.split(",")] if models else None,
                                baselines, task),
        task=task, source=source,
        aggregation=aggregation, threshold_rule=threshold_rule,
        synth={"participants": participants} if participants else {},
        train_overrides={"max_epochs": epochs} if epochs else {},
        warm_start_fusion=not cold_fusion,
        representation={k: v for k, v in {
            "speech_features": speech_features, "text_features": text_features,
            "ssl_layer": ssl_layer, "feature_norm": feature_norm}.items() if v is not None},
    )
    run_reproduce(cfg, progress=not quiet, console=console)
    table = "table.md" if task == "binary" else f"table_{task}.md"
    out.print((out_dir / table).read_text())
    out.print(f"report: {plain(out_dir / 'report.html')}")
    if audit:
        from depscreen.cli.audit import run_audit

        run_audit(corpus, root, out_dir, seeds, profile, jobs, None, participants, epochs, quiet)


# ----------------------------------------------------------------------------- models
@app.command("models")
def models(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (one object per model) instead of a table.")
    ] = False,
) -> None:
    """List the registered models and what each declares about itself: modalities, how they
    are fused and fitted, whether they carry their own calibration, and the representations
    they read by default; then the registered speech and text representations."""
    from rich.table import Table

    from depscreen.features.representations import speech_feature_names, text_feature_names
    from depscreen.models import list_models, model_info

    infos = [model_info(name) for name in list_models()]
    if as_json:
        out.print_json(json.dumps({"models": infos, "speech_features": speech_feature_names(),
                                   "text_features": text_feature_names()}))
        return
    table = Table("model", "reads (default features)", "fusion", "fitting", "tasks")
    table.columns[0].no_wrap = True
    for info in infos:
        feats = info["default_features"]
        reads = ", ".join(f"{m} {feats[m]}" for m in info["modalities"])
        table.add_row(info["name"], reads, info["fusion"] or "—", info["fitting"],
                      ", ".join(info["heads"]))
    out.print(table)
    out.print(f"--speech-features: {', '.join(speech_feature_names())}", highlight=False)
    out.print(f"--text-features: {', '.join(text_feature_names())}", highlight=False)
