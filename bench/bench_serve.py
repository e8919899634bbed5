"""How long `depscreen serve` takes to answer an upload of a 16-minute interview.

    .venv/bin/python bench/run.py --only serve        (or: bash dev.sh bench --only serve)

The app (`depscreen.view.app.create_app`, what `depscreen serve` runs) is started with
uvicorn on 127.0.0.1 and a free port in a thread of the measuring process, around a
randomly initialised default decision-fusion (as the predict stage: timing does not depend
on the weights). Each repeat POSTs the interview's WAV and transcript as a multipart form,
exactly as the browser's form does, and times until the whole page (recording embedded) has
been read: upload, streaming to the temporary folder, scoring, FLAC encoding, rendering and
the transfer back. The target (issue #16) is < 3 s.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from pathlib import Path

BOUNDARY = "depscreen-bench-boundary"


def multipart(audio: Path, transcript: Path) -> bytes:
    """The form body a browser sends for the two file inputs."""
    def part(name: str, filename: str, ctype: str, data: bytes) -> bytes:
        head = (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"; "
                f"filename=\"{filename}\"\r\nContent-Type: {ctype}\r\n\r\n")
        return head.encode() + data + b"\r\n"

    return (part("audio", audio.name, "audio/wav", audio.read_bytes())
            + part("transcript", transcript.name, "text/csv", transcript.read_bytes())
            + f"--{BOUNDARY}--\r\n".encode())


def start_server(app) -> tuple[object, threading.Thread, int]:
    """uvicorn on 127.0.0.1 and a free port, in a daemon thread; (server, thread, port)."""
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           access_log=False, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    if not server.started:
        raise RuntimeError("the app did not start")
    return server, thread, port


def post(port: int, body: bytes) -> tuple[float, int, int]:
    """(seconds until the whole answer was read, HTTP status, answer bytes)."""
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", "/predict", body, {
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
        "Content-Length": str(len(body))})
    resp = conn.getresponse()
    data = resp.read()
    seconds = time.perf_counter() - t0
    conn.close()
    return seconds, resp.status, len(data)
