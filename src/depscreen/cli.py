"""The `depscreen` command line: thin — parses, calls library functions, prints.

Library code raises `DepscreenError`; here it becomes a one-line message and exit code 1
(no traceback for a user's mistake). `--verbose`/DEPSCREEN_DEBUG=1 shows tracebacks.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from depscreen import __version__
from depscreen.errors import DepscreenError

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
# (filled in below by the corpora/synthetic module's command)

# ----------------------------------------------------------------------------- prepare
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
    max_audio_mb: Annotated[
        float, typer.Option("--max-audio-mb", help="Refuse audio files larger than this (MiB).")
    ] = 4096.0,
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
    for col in ("split", "sessions", "depressed", "not depressed", "unlabelled", "utterances",
                "speech h", "words"):
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
