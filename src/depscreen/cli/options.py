"""Options the recipes share (`reproduce`, `audit`), declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from depscreen.errors import DepscreenError

Root = Annotated[
    Path | None,
    typer.Option("--root", help="Corpus folder (default for synthetic: data/synthetic)."),
]
Seeds = Annotated[int, typer.Option("--seeds", help="Seeds per model (mean ± std).")]
Jobs = Annotated[
    int | None, typer.Option("--jobs", help="Training runs in parallel (default: CPUs).")
]
Participants = Annotated[
    int | None, typer.Option("--participants", help="Synthetic corpus size when it is generated.")
]
Epochs = Annotated[
    int | None, typer.Option("--epochs", help="Override the profile's maximum epochs.")
]


def corpus_root(corpus: str, root: Path | None) -> Path:
    """--root, or the embedded corpus's folder; other corpora must name theirs."""
    if root is not None:
        return root
    if corpus != "synthetic":
        raise DepscreenError(f"--root is required for --corpus {corpus}")
    return Path("data/synthetic")
