"""The `depscreen` command line: thin — parses, calls library functions, prints.

    app.py        the Typer app, the consoles, `main` (errors -> one-line messages, exit codes)
    data.py       synth, prepare
    training.py   train, evaluate, reproduce
    scoring.py    export, predict
    audit.py      audit (the interviewer-prompt shortcut)
    serve.py      serve (the screening page as a local web app)
    options.py    the options the recipes share

Importing the package registers every command on `app`; the entry point is `main`.
"""

from depscreen.cli.app import app, console, main, out

# Imported for their @app.command side effect (after the app exists).
from depscreen.cli import audit, data, scoring, serve, training  # noqa: E402, F401, I001  isort: skip

__all__ = ["app", "console", "main", "out"]
