"""`depscreen audit`: the interviewer-prompt audit (the recipe is depscreen/audit.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from depscreen.cli.app import app, out, plain
from depscreen.cli.options import Epochs, Jobs, Participants, Root, Seeds, corpus_root

PromptLeak = Annotated[
    float | None,
    typer.Option("--prompt-leak", help="Embedded corpus only, when it is generated: how often "
                 "the synthetic interviewer's reaction depends on the answer (0 = never, no "
                 "shortcut; default 0.5, see the README)."),
]


def run_audit(corpus: str, root: Path | None, out_dir: Path, seeds: int, profile: str,
              jobs: int | None, prompt_leak: float | None, participants: int | None,
              epochs: int | None, quiet: bool) -> dict:
    """Shared by `audit` and `reproduce --audit`."""
    from depscreen.audit import AuditConfig, audit

    root = corpus_root(corpus, root)
    synth = {k: v for k, v in {"participants": participants, "prompt_leak": prompt_leak}.items()
             if v is not None}
    cfg = AuditConfig(corpus=corpus, root=root, out=out_dir, profile=profile, seeds=seeds,
                      jobs=jobs, synth=synth,
                      train_overrides={"max_epochs": epochs} if epochs else {})
    summary = audit(cfg, progress=not quiet)
    out.print(plain((out_dir / "audit.md").read_text()))
    out.print(f"report: {plain(out_dir / 'report.html')}")
    return summary


@app.command("audit")
def audit_command(
    corpus: Annotated[
        str,
        typer.Option("--corpus", help="synthetic (the embedded corpus), daic-woz or manifest "
                     "(DAIC-style transcripts with a speaker column); E-DAIC has no speaker "
                     "column, so it cannot be audited."),
    ] = "synthetic",
    root: Root = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("runs/audit"),
    seeds: Seeds = 3,
    profile: Annotated[str, typer.Option("--profile", help="fast, paper or small.")] = "fast",
    jobs: Jobs = None,
    prompt_leak: PromptLeak = None,
    participants: Participants = None,
    epochs: Epochs = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
) -> None:
    """Show whether the corpus lets models cheat through the interviewer's prompts.

    Trains the text baseline (tfidf-lr) and lstm-cnn-text on the interviewer's turns only and
    on the participant's (same seeds, dev selection, dev thresholds), scores both on test
    with participant-bootstrap CIs, and gives a verdict from the interviewer-only model with
    the better dev UA: its test UA CI above chance means the interviewer's turns predict the
    label. Also lists the interviewer prompts whose frequency differs most between the
    classes on train (counts; no participant text). Writes audit.json, audit.md and an
    audit section in report.html under --out.
    """
    run_audit(corpus, root, out_dir, seeds, profile, jobs, prompt_leak, participants, epochs,
              quiet)

