"""The `depscreen` app: the Typer object, the consoles, and `main`, the entry point.

Library code raises `DepscreenError`; here it becomes a one-line message (no traceback for a
user's mistake) and the error's exit code: 1, or 2 for an output path the policy refuses
(`OutputError`). With DEPSCREEN_DEBUG=1 the traceback follows the message.
`Interrupted` (and Ctrl-C) exit with status 130 and a hint to resume.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Annotated

import typer
from rich.console import Console

from depscreen import __version__
from depscreen.errors import DepscreenError, Interrupted

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
# No emoji codes: ":x:" in a user's file name or field must print as itself.
console = Console(stderr=True, emoji=False)
out = Console(emoji=False)

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def plain(value: object) -> str:
    """Text from a user's files or names, safe to print: rich markup escaped (a file named
    `[/x].wav` prints as itself instead of breaking or restyling the line) and control
    characters (terminal escape sequences) shown as `\\xNN`. Every printed path, session
    ID, warning and error goes through here."""
    from rich.markup import escape

    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))
    return escape(text)


def line(value: object) -> str:
    """`plain`, and a line break shown as `\\x0a`: an error, a warning or a session's line is
    printed as one line whatever file names or fields it carries."""
    return plain(str(value).replace("\n", "\\x0a"))


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


def main() -> None:
    """Entry point: run the app, turning library errors into one-line messages."""
    try:
        app()
    except Interrupted:
        console.print("interrupted; re-run the same command to resume")
        sys.exit(130)
    except DepscreenError as e:
        console.print(f"[bold red]error:[/] {line(e)}", highlight=False, soft_wrap=True)
        if os.environ.get("DEPSCREEN_DEBUG"):
            raise
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        console.print("interrupted; re-run the same command to resume")
        sys.exit(130)

