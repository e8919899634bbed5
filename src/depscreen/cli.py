"""The `depscreen` command line: thin — parses, calls library functions, prints.

Library code raises `DepscreenError`; here it becomes a one-line message and exit code 1
(no traceback for a user's mistake). `--verbose`/DEPSCREEN_DEBUG=1 shows tracebacks.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from depscreen import __version__
from depscreen.errors import ConfigError, DepscreenError

app = typer.Typer(
    name="depscreen",
    help=(
        "Screen interview recordings for depression by fusing text and speech.\n\n"
        "Flow: synth (optional) -> prepare -> train -> evaluate / reproduce -> export -> predict.\n"
        "A screening research tool, not a diagnostic device."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)
out = Console()


def _version(value: bool) -> None:
    if value:
        print(f"depscreen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """depscreen: text + speech depression screening (research use only)."""


# ----------------------------------------------------------------------------- synth
@app.command("synth")
def synth(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write the corpus into.")],
    participants: Annotated[
        int, typer.Option(help="Number of participants (189 = DAIC-WOZ's IDs 300-492).")
    ] = 189,
    seed: Annotated[int, typer.Option(help="Seed: same seed and options -> identical files.")] = 0,
    text_signal: Annotated[
        float, typer.Option(help="Strength of depression cues in the words (0 = none).")
    ] = 1.0,
    speech_signal: Annotated[
        float, typer.Option(help="Strength of depression cues in the prosody (0 = none).")
    ] = 1.0,
    minutes: Annotated[
        float | None, typer.Option(help="Interview length in minutes (default 3).")
    ] = None,
    questions: Annotated[
        int | None, typer.Option(help="Interview length as a number of questions instead.")
    ] = None,
    jobs: Annotated[
        int | None, typer.Option(help="Worker processes (default: the CPU count).")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a corpus made with other settings.")
    ] = False,
) -> None:
    """Generate a synthetic interview corpus in DAIC-WOZ's exact layout (eSpeak NG voices).

    Re-running the same command resumes an interrupted generation.
    """
    from depscreen.corpora.synthetic import SynthConfig, generate_corpus

    config = SynthConfig(
        participants=participants,
        seed=seed,
        text_signal=text_signal,
        speech_signal=speech_signal,
        minutes=minutes,
        questions=questions,
    )
    s = generate_corpus(out_dir, config, jobs=jobs, progress=True, force=force)
    out.print(
        f"{s.sessions} sessions in {s.out} ({s.generated} generated, {s.skipped} already there); "
        f"{s.depressed} depressed; train/dev/test {s.splits['train']}/{s.splits['dev']}/"
        f"{s.splits['test']}; {s.audio_seconds / 3600:.1f} h of audio; {s.seconds:.0f} s",
        highlight=False,
    )


# ----------------------------------------------------------------------------- prepare
# Shared by prepare and predict.
MaxAudioMB = Annotated[
    float, typer.Option("--max-audio-mb", help="Refuse audio files larger than this (MiB).")
]


@app.command()
def prepare(
    corpus: Annotated[
        str,
        typer.Option(
            "--corpus",
            help="Corpus format: daic-woz, edaic, manifest (your own CSV) or synthetic "
            "(generated into --root first when none is there).",
        ),
    ] = "synthetic",
    root: Annotated[
        Path,
        typer.Option(
            "--root",
            help="Corpus folder (for manifest: the CSV file, or a folder holding manifest.csv). "
            "Never modified.",
        ),
    ] = Path("data/synthetic"),
    out_dir: Annotated[
        Path, typer.Option("--out", help="Output folder for sessions.csv and utterances.jsonl.gz.")
    ] = Path("data/prepared"),
    strict: Annotated[
        bool, typer.Option("--strict", help="Turn per-session warnings into errors.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Prepare again even if the output is up to date.")
    ] = False,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed for manifest splits assigned automatically.")
    ] = 0,
    max_audio_mb: MaxAudioMB = 4096.0,
    show_warnings: Annotated[
        int, typer.Option("--show-warnings", help="How many warnings to list (all are counted).")
    ] = 10,
) -> None:
    """Read a corpus, validate it and write participant-split records.

    Writes sessions.csv (one row per session), utterances.jsonl.gz (one participant utterance
    per line, times in the audio's time base) and prepare.json. A second run on an unchanged
    corpus does no work.
    """
    from depscreen.corpora.prepare import prepare as run_prepare

    result = run_prepare(
        corpus,
        root,
        out_dir,
        strict=strict,
        force=force,
        seed=seed,
        max_audio_bytes=int(max_audio_mb * 1024**2),
    )
    _print_prepare_summary(result, show_warnings)


def _print_prepare_summary(result, show_warnings: int) -> None:
    from rich.table import Table

    from depscreen.corpora.prepare import summary_rows

    if result.generated:
        console.print(f"generated the synthetic corpus in {result.corpus.root}")
    state = "up to date, nothing to do" if result.cached else "prepared"
    console.print(f"{result.corpus.name}: {state} -> {result.out}")
    table = Table(title=f"{result.corpus.name} ({len(result.corpus.sessions)} sessions)")
    for col in ("split", "sessions", "depressed", "healthy", "no label", "utts", "hours",
                "words"):
        table.add_column(col, justify="right" if col != "split" else "left")
    rows = summary_rows(result.corpus)
    total = {k: sum(r[k] for r in rows) for k in rows[0] if k != "split"}
    for r in [*rows, {"split": "total", **total}]:
        table.add_row(
            r["split"], str(r["sessions"]), str(r["depressed"]), str(r["not_depressed"]),
            str(r["unlabelled"]), str(r["utterances"]), f"{r['speech_hours']:.2f}",
            str(r["words"]),
        )
    out.print(table)
    for note in result.corpus.notes:
        console.print(f"note: {note}", highlight=False)
    if result.warnings:
        console.print(f"[yellow]{len(result.warnings)} warning(s)[/] (sessions skipped or fixed; "
                      f"all listed in {result.out / 'prepare.json'}):")
        for w in result.warnings[:show_warnings]:
            console.print(f"  warning: {w}", highlight=False, soft_wrap=True)


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
            "tfidf-lr, embedding-lr, stacked-fusion (classical baselines).",
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
        model=model, profile=profile, seed=seed, max_epochs=epochs, batch_size=batch_size, lr=lr,
        imbalance=imbalance, text_input=text_input, accelerator=accelerator, devices=devices,
        speech_features=speech_features, text_features=text_features, ssl_layer=ssl_layer,
        feature_norm=feature_norm, spec_augment=spec_augment, weight_decay=weight_decay,
        patience=patience, model_config=_json_object(model_config, "--model-config"),
        num_nodes=num_nodes, strategy=strategy, limit_train_batches=limit_train_batches,
    )
    result = run_train(prepared, cfg, out_dir, resume=resume, cache_dir=cache_dir,
                       progress=not quiet)
    if result.skipped:
        console.print(f"{out_dir}: already finished, nothing to do")
    dev = ", ".join(f"{k}={v:.3f}" for k, v in result.dev_metrics.items())
    out.print(f"{model}: best epoch {result.best_epoch}; dev {dev}", highlight=False)
    out.print(f"run folder: {result.out}")


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
    participant), utterance_predictions.csv and a confusion-matrix PNG per level.
    """
    from depscreen.evaluation.evaluate import evaluate_run
    from depscreen.stats.aggregate import LEVELS

    _check_threshold_rule(threshold_rule)
    target = out_dir or run / f"eval-{split}"
    ev = evaluate_run(run, split=split, out=target, aggregation=aggregation,
                      threshold_rule=threshold_rule)
    for level in LEVELS:
        m = ev.metrics[level]
        out.print(
            f"{level:11s} n={m['n']:5d}  F1 {m['f1_macro']:.3f}  F1(dep) {m['f1_depressed']:.3f}  "
            f"WA {m['wa']:.3f}  UA {m['ua']:.3f}  (threshold {ev.metrics['thresholds'][level]:.2f}"
            " from dev)",
            highlight=False,
        )
    out.print(f"written to {target}")


# ----------------------------------------------------------------------------- reproduce
@app.command()
def reproduce(
    corpus: Annotated[
        str,
        typer.Option("--corpus", help="synthetic (default: the embedded corpus, generated once), "
                     "daic-woz, edaic or manifest."),
    ] = "synthetic",
    root: Annotated[
        Path | None,
        typer.Option("--root", help="Corpus folder (default for synthetic: data/synthetic)."),
    ] = None,
    profile: Annotated[
        str, typer.Option("--profile", help="fast (minutes on a CPU), paper (300 epochs) or "
                          "small (for a few hundred speakers; see `train --help`).")
    ] = "fast",
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per model (mean ± std).")] = 3,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path(
        "runs/reproduce"),
    jobs: Annotated[
        int | None, typer.Option("--jobs", help="Training runs in parallel (default: CPUs).")
    ] = None,
    models: Annotated[
        str | None,
        typer.Option("--models", help="Comma-separated subset of the Table I models."),
    ] = None,
    participants: Annotated[
        int | None,
        typer.Option("--participants", help="Synthetic corpus size when it is generated."),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Override the profile's maximum epochs.")
    ] = None,
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
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress display.")] = False,
) -> None:
    """Reproduce the paper's Table I and Fig. 1: train, select on dev, score on test, report.

    Writes table.csv, table.md, confusion_matrix.png, gender.csv and a self-contained
    report.html under --out. Re-running skips finished runs.
    """
    from depscreen.reproduce import BASELINE_MODELS, TABLE_MODELS, ReproduceConfig
    from depscreen.reproduce import reproduce as run_reproduce

    _check_threshold_rule(threshold_rule)
    if root is None:
        if corpus != "synthetic":
            raise DepscreenError(f"--root is required for --corpus {corpus}")
        root = Path("data/synthetic")
    cfg = ReproduceConfig(
        corpus=corpus, root=root, out=out_dir, profile=profile, seeds=seeds, jobs=jobs,
        models=([m.strip() for m in models.split(",")] if models else list(TABLE_MODELS))
        + (list(BASELINE_MODELS) if baselines else []),
        aggregation=aggregation, threshold_rule=threshold_rule,
        synth={"participants": participants} if participants else {},
        train_overrides={"max_epochs": epochs} if epochs else {},
        warm_start_fusion=not cold_fusion,
        representation={k: v for k, v in {
            "speech_features": speech_features, "text_features": text_features,
            "ssl_layer": ssl_layer, "feature_norm": feature_norm}.items() if v is not None},
    )
    run_reproduce(cfg, progress=not quiet, console=console)
    out.print((out_dir / "table.md").read_text())
    out.print(f"report: {out_dir / 'report.html'}")


# ----------------------------------------------------------------------------- export
@app.command("export")
def export(
    run: Annotated[Path, typer.Argument(help="A finished run folder from `depscreen train`.")],
    out_file: Annotated[Path, typer.Option("--out", help="The bundle file to write (.dsb).")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing file at --out.")
    ] = False,
) -> None:
    """Package a trained run as a portable bundle: safetensors weights, JSON config, vocabulary,
    feature config, dev calibration and thresholds, and a checksum manifest.

    Loading a bundle never unpickles or executes anything from it, and refuses a file whose
    checksums, format version or feature config do not match.
    """
    from depscreen.inference.bundle import export_bundle

    loaded = export_bundle(run, out_file, force=force)
    size = out_file.stat().st_size
    out.print(
        f"{out_file}: {loaded.name} (version {loaded.version}), {size / 1024:.0f} KiB; "
        f"thresholds from dev: participant {loaded.thresholds['participant']:.2f}, "
        f"utterance {loaded.thresholds['utterance']:.2f}",
        highlight=False,
    )


# ----------------------------------------------------------------------------- predict
@app.command()
def predict(
    folder: Annotated[
        Path | None,
        typer.Argument(help="Batch mode: a folder of interviews (audio files, each with an "
                       "optional {ID}_TRANSCRIPT.csv or {stem}.csv beside it)."),
    ] = None,
    model: Annotated[
        Path, typer.Option("--model", help="A run folder from `depscreen train`, or a .dsb "
                           "bundle from `depscreen export`.")
    ] = ...,  # type: ignore[assignment]
    audio: Annotated[
        str | None, typer.Option("--audio", help="The interview recording (WAV; other rates "
                                 "and stereo are converted).")
    ] = None,
    transcript: Annotated[
        Path | None,
        typer.Option("--transcript", help="DAIC-WOZ-style transcript (start_time, stop_time, "
                     "\\[speaker,] value); only Participant lines are scored."),
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="The participant's words, inline.")
    ] = None,
    asr: Annotated[
        bool,
        typer.Option("--asr", help="No transcript: transcribe the audio offline with "
                     "PocketSphinx to get the text channel."),
    ] = False,
    manifest: Annotated[
        Path | None,
        typer.Option("--manifest", help="Batch mode: CSV with columns audio, transcript, text "
                     "(paths relative to it) and optionally session_id."),
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the JSON (batch mode: the CSV) to this file."),
    ] = None,
    include_text: Annotated[
        bool, typer.Option("--include-text", help="Put each utterance's words in the timeline.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Log details, including transcript text.")
    ] = False,
    max_audio_mb: MaxAudioMB = 4096.0,
) -> None:
    """Score new interviews: the calibrated probability of depression, the decision at the
    threshold chosen on dev, per-modality probabilities and a per-utterance timeline (JSON).

    Audio-only or text-only input works with decision-fusion and with single-modal models of
    that modality. Without a transcript the whole recording is scored as the participant's
    speech: separating interviewer from participant in a single-channel recording is out of
    scope, so give a transcript with a speaker column for interviews. Batch mode (a FOLDER or
    --manifest) writes one CSV row per session; sessions that fail get an error column and
    the exit status is 1. A screening research tool, not a diagnostic device.
    """
    import json
    import logging

    from depscreen import CAVEAT
    from depscreen.inference.bundle import load_model
    from depscreen.inference.predict import (
        batch_csv,
        check_inputs,
        find_interviews,
        predict_batch,
        predict_interview,
        read_manifest,
    )
    from depscreen.utils.atomic import atomic_write_text

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    inf_log = logging.getLogger("depscreen.inference")
    inf_log.handlers[:] = [handler]
    inf_log.setLevel(logging.DEBUG if verbose else logging.WARNING)
    inf_log.propagate = False

    batch = folder is not None or manifest is not None
    if folder is not None and manifest is not None:
        raise DepscreenError("give a FOLDER or --manifest, not both")
    if batch and (audio is not None or transcript is not None or text is not None):
        raise DepscreenError("batch mode (FOLDER or --manifest) takes no --audio, --transcript "
                             "or --text")
    if max_audio_mb <= 0:
        raise DepscreenError("--max-audio-mb must be positive")
    max_bytes = int(max_audio_mb * 1024**2)
    if batch:
        items = read_manifest(manifest) if manifest is not None else find_interviews(folder)
    else:
        check_inputs(audio, transcript, text, asr)
    loaded = load_model(model)

    if not batch:
        result = predict_interview(
            loaded, audio=audio, transcript=transcript, text=text, asr=asr,
            max_audio_bytes=max_bytes, include_text=include_text, verbose=verbose,
        )
        payload = json.dumps(result, indent=2, ensure_ascii=False) + "\n"
        if out_file is not None:
            atomic_write_text(out_file, payload)
        for w in result["warnings"]:
            console.print(f"[yellow]warning:[/] {w}", highlight=False, soft_wrap=True)
        print(payload, end="")
        return

    def done(item, row) -> None:
        state = f"error: {row['error']}" if row["error"] else f"{row['probability']:.3f}"
        console.print(f"{item.session_id}: {state}", highlight=False, soft_wrap=True)

    rows = predict_batch(loaded, items, asr=asr, max_audio_bytes=max_bytes, verbose=verbose,
                         on_done=done)
    text_out = batch_csv(rows)
    if out_file is not None:
        atomic_write_text(out_file, text_out)
    else:
        print(text_out, end="")
    failed = sum(1 for r in rows if r["error"])
    console.print(f"{len(rows) - failed} of {len(rows)} sessions scored"
                  + (f" -> {out_file}" if out_file is not None else "") + f". {CAVEAT}",
                  highlight=False, soft_wrap=True)
    if failed:
        console.print(f"[bold red]error:[/] {failed} session(s) could not be scored (see the "
                      "error column)", highlight=False)
        sys.exit(1)


def main() -> None:
    """Entry point: run the app, turning library errors into one-line messages."""
    try:
        app()
    except DepscreenError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        if os.environ.get("DEPSCREEN_DEBUG"):
            raise
        sys.exit(1)
    except KeyboardInterrupt:
        console.print("interrupted; re-run the same command to resume")
        sys.exit(130)


if __name__ == "__main__":
    main()

_ = Path  # re-exported for command modules
