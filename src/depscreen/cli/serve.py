"""`depscreen serve`: the screening page as a local web app (view/app.py).

Binds to loopback (127.0.0.1) by default and refuses any other address unless
--allow-remote is given: the app has no authentication, and recordings of interviews are
health data. Uvicorn runs with its access log off and logs only its own warnings.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated

import typer

from depscreen.cli.app import app, out, plain
from depscreen.cli.data import MaxAudioMB, audio_limit
from depscreen.errors import DepscreenError


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    model: Annotated[
        Path, typer.Option("--model", help="A .dsb bundle from `depscreen export` (or a run "
                           "folder).")
    ] = ...,  # type: ignore[assignment]
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; only loopback unless "
                          "--allow-remote.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8765,
    allow_remote: Annotated[
        bool, typer.Option("--allow-remote", help="Allow a non-loopback --host (anyone who "
                           "can reach it can upload; there is no authentication).")
    ] = False,
    max_audio_mb: MaxAudioMB = 4096.0,
) -> None:
    """A small local web app: drop an interview recording (and optionally its transcript)
    and get its screening page. Uploads are processed in a temporary folder that is deleted
    afterwards and are never logged. A screening research tool, not a diagnostic device."""
    try:
        import fastapi  # noqa: F401
        import uvicorn
    except ImportError:
        raise DepscreenError("depscreen serve needs FastAPI and uvicorn: pip install "
                             "'depscreen[app]'") from None

    from depscreen.inference.bundle import load_model
    from depscreen.view.app import create_app

    if not is_loopback(host) and not allow_remote:
        raise DepscreenError(f"--host {host} is not a loopback address; the app has no "
                             "authentication, so give --allow-remote to serve it to others")
    if not 0 < port < 65536:
        raise DepscreenError(f"--port must be 1-65535, got {port}")
    loaded = load_model(model)
    web = create_app(loaded, max_audio_bytes=audio_limit(max_audio_mb))
    where = "loopback only" if is_loopback(host) else "REACHABLE FROM OTHER MACHINES"
    shown = f"[{host}]" if ":" in host else host
    out.print(plain(f"Serving on http://{shown}:{port} ({where}); model {loaded.name} "
                    f"(version {loaded.version}). Uploads are processed in a temporary "
                    "folder, deleted afterwards, never logged. Ctrl-C to stop."),
              highlight=False, soft_wrap=True)
    try:
        uvicorn.run(web, host=host, port=port, access_log=False, log_level="warning",
                    server_header=False)
    except OSError as e:
        raise DepscreenError(f"cannot listen on {host}:{port} ({e.strerror or e})") from None
