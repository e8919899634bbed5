"""`depscreen export` and `depscreen predict`: bundles and scoring new interviews."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from depscreen.cli.app import app, console, line, out, plain
from depscreen.cli.data import MaxAudioMB, audio_limit
from depscreen.errors import DepscreenError


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
    if loaded.has_binary_head:
        decision = (f"thresholds from dev: participant {loaded.thresholds['participant']:.2f}, "
                    f"utterance {loaded.thresholds['utterance']:.2f}")
    else:
        decision = f"screen at PHQ-8 >= {loaded.thresholds['score']:g} (the cutoff, not tuned)"
    summary = f"{out_file}: {loaded.name} (version {loaded.version}), {size / 1024:.0f} KiB; "
    if loaded.task != "binary":
        summary += f"task {loaded.task}; "
    summary += decision
    if loaded.regression is not None:
        reg = loaded.regression
        lo, hi = reg["interval"]
        summary += (f"; score: {reg['aggregation']} of the sample estimates (chosen on dev), "
                 f"{reg['interval_level']:.0%} interval offsets [{lo:+.2f}, {hi:+.2f}] "
                 f"({reg['interval_from']}), dev RMSE {reg['dev_rmse']:.2f}")
    out.print(plain(summary), highlight=False)


# ----------------------------------------------------------------------------- predict
def _score_line(score: dict) -> str:
    """One line on the estimated PHQ-8 score of a model with a score head."""
    lo, hi = score["interval"]
    return (f"estimated PHQ-8 {score['estimate']:.2f} ({score['interval_level']:.0%} interval "
            f"{lo:.2f}-{hi:.2f}; {score['interval_from']}): {score['band']}; "
            f"{'screen positive' if score['screen_at_10'] else 'screen negative'} at 10")


def _out_target(out_file: Path | None, force: bool, inputs: list) -> Path | None:
    """Where predict writes --out (a symlink's target), checked by the output policy before
    any work: never one of its inputs, a device or a folder; an existing file only with
    --force."""
    from depscreen.utils.outputs import check_output_file

    if out_file is None:
        return None
    return check_output_file(out_file, force=force, inputs=inputs)


def _report_pages(report: Path | None, embed_audio: bool, max_bytes: int, force: bool,
                  inputs: list, items) -> tuple[Path | None, object]:
    """Check --report before any work (the output policy, with --out as one more input):
    the single page's path, and a batch's `BatchReport` (None otherwise)."""
    from depscreen.view.report import BatchReport, check_target

    if report is None:
        if embed_audio:
            raise DepscreenError("--embed-audio needs --report")
        return None, None
    if items is None:
        return check_target(report, inputs, force), None
    return report, BatchReport(report, inputs, embed_audio, max_bytes, force)


def _write_report(report: Path | None, result: dict, audio: str | None, max_bytes: int) -> None:
    """One interview's --report page (nothing without --report)."""
    from depscreen.view.report import write_page

    if report is not None:
        write_page(report, result, audio, max_bytes)
        console.print(f"report -> {plain(report)}", highlight=False, soft_wrap=True)


def _finish_report(pages, rows: list[dict], model: str) -> None:
    """A batch's index page, after its sessions' pages (nothing without --report)."""
    if pages is not None:
        pages.finish(rows, model)
        console.print(f"report -> {plain(pages.index)} (+ {len(pages.pages)} session pages)",
                      highlight=False, soft_wrap=True)


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
        typer.Option("--out", help="Also write the JSON (batch mode: the CSV) to this file "
                     "(never one of the inputs; a symlink is written through)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing file at --out (and existing "
                           "--report pages).")
    ] = False,
    include_text: Annotated[
        bool, typer.Option("--include-text", help="Put each utterance's words in the timeline.")
    ] = False,
    verbose: Annotated[
        bool, typer.Option("--verbose", help="Log details, including transcript text.")
    ] = False,
    max_audio_mb: MaxAudioMB = 4096.0,
    report: Annotated[
        Path | None,
        typer.Option("--report", help="Also write a self-contained HTML page (batch mode: an "
                     "index ranking the sessions, their pages beside it). Words only with "
                     "--include-text."),
    ] = None,
    embed_audio: Annotated[
        bool, typer.Option("--embed-audio", help="Embed the recording in the --report page; "
                           "clicking an utterance plays it.")
    ] = False,
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
    import logging

    from depscreen.inference.batch import (
        find_interviews,
        predict_inputs,
        read_manifest,
    )
    from depscreen.inference.bundle import load_model
    from depscreen.inference.inputs import check_inputs
    from depscreen.inference.predict import predict_interview
    from depscreen.utils.atomic import atomic_write_text
    from depscreen.utils.unicode import json_text

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
    max_bytes = audio_limit(max_audio_mb)
    if batch:
        items = read_manifest(manifest) if manifest is not None else find_interviews(folder)
    else:
        check_inputs(audio, transcript, text, asr)
    inputs = predict_inputs(model, audio, transcript, manifest, folder, items if batch else ())
    target = _out_target(out_file, force, inputs)
    report, pages = _report_pages(report, embed_audio, max_bytes, force,
                                  [*inputs, ("the --out file", out_file)],
                                  items if batch else None)
    loaded = load_model(model)

    if not batch:
        result = predict_interview(
            loaded, audio=audio, transcript=transcript, text=text, asr=asr,
            max_audio_bytes=max_bytes, include_text=include_text, verbose=verbose,
        )
        payload = json_text(result) + "\n"  # a name or --text that is not UTF-8 still writes
        if target is not None:
            atomic_write_text(target, payload)
        for w in result["warnings"]:
            console.print(f"[yellow]warning:[/] {line(w)}", highlight=False, soft_wrap=True)
        if "score" in result:
            console.print(_score_line(result["score"]), highlight=False, soft_wrap=True)
        print(payload, end="")
        _write_report(report, result, audio if embed_audio else None, max_bytes)
        return

    _score_batch(loaded, items, asr, max_bytes, verbose, include_text, pages, target, out_file)


def _batch_line(row: dict) -> str:
    """A scored session's line: its probability and/or estimated score, or its error."""
    if row["error"]:
        return f"error: {row['error']}"
    score = (f"PHQ-8 {row['score']} [{row['score_low']}, {row['score_high']}] {row['band']}"
             if row["score"] != "" else "")
    if row["probability"] == "":  # a score model without a binary head
        return score
    return f"{row['probability']:.3f}" + (f", {score}" if score else "")


def _score_batch(loaded, items, asr: bool, max_bytes: int, verbose: bool, include_text: bool,
                 pages, target: Path | None, out_file: Path | None) -> None:
    """Batch mode: one CSV row per session (to --out or stdout), pages as each is scored."""
    from depscreen import CAVEAT
    from depscreen.inference.batch import batch_csv, predict_batch
    from depscreen.utils.atomic import atomic_write_text

    def done(item, row) -> None:
        console.print(f"{line(item.session_id)}: {line(_batch_line(row))}", highlight=False,
                      soft_wrap=True)

    rows = predict_batch(loaded, items, asr=asr, max_audio_bytes=max_bytes, verbose=verbose,
                         on_done=done, include_text=include_text and pages is not None,
                         on_result=pages.add if pages is not None else None)
    _finish_report(pages, rows, loaded.name)
    text_out = batch_csv(rows)
    if target is not None:
        atomic_write_text(target, text_out)
    else:
        print(text_out, end="")
    failed = sum(1 for r in rows if r["error"])
    console.print(f"{len(rows) - failed} of {len(rows)} sessions scored"
                  + (f" -> {plain(out_file)}" if out_file is not None else "") + f". {CAVEAT}",
                  highlight=False, soft_wrap=True)
    if failed:
        console.print(f"[bold red]error:[/] {failed} session(s) could not be scored (see the "
                      "error column)", highlight=False)
        sys.exit(1)
