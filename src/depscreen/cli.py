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
# (filled in below by the corpora/prepare module's command)


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
