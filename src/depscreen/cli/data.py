"""`depscreen synth` and `depscreen prepare`: the embedded corpus and corpus preparation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from depscreen.cli.app import app, console, line, out, plain
from depscreen.errors import DepscreenError


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
    prompt_leak: Annotated[
        float,
        typer.Option(
            "--prompt-leak",
            help="Chance that the interviewer's reaction to an answer is answer-specific "
            "(sorry to hear that / that's great) rather than neutral (mhm): the "
            "interviewer-prompt shortcut of DAIC-WOZ. Default 0.5; 0 = Ellie never reacts to "
            "the answers (no shortcut), 1 = always.",
        ),
    ] = 0.5,
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
        prompt_leak=prompt_leak,
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
def audio_limit(mb: float) -> int:
    """--max-audio-mb in bytes; a one-line error for a value that is not a positive,
    finite number of MiB (nan, inf, 0, negative)."""
    import math

    if not math.isfinite(mb) or mb <= 0:
        raise DepscreenError(f"--max-audio-mb must be a positive number of MiB, got {mb!r}")
    return int(mb * 1024**2)


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
        Path, typer.Option("--out", help="Output folder for sessions.csv and utterances.jsonl.gz "
                           "(never inside --root; built beside it and swapped in whole).")
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
        max_audio_bytes=audio_limit(max_audio_mb),
    )
    _print_prepare_summary(result, show_warnings)


def _print_prepare_summary(result, show_warnings: int) -> None:
    from rich.table import Table

    from depscreen.corpora.prepare import summary_rows

    if result.generated:
        console.print(f"generated the synthetic corpus in {plain(result.corpus.root)}")
    state = "up to date, nothing to do" if result.cached else "prepared"
    console.print(f"{plain(result.corpus.name)}: {state} -> {plain(result.out)}")
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
        console.print(f"note: {plain(note)}", highlight=False)
    if result.warnings:
        console.print(f"[yellow]{len(result.warnings)} warning(s)[/] (sessions skipped or fixed; "
                      f"all listed in {plain(result.out / 'prepare.json')}):")
        for w in result.warnings[:show_warnings]:
            console.print(f"  warning: {line(w)}", highlight=False, soft_wrap=True)
