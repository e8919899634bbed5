"""The local web app behind `depscreen serve`: drop a recording (and optionally a transcript)
and get the same page as `predict --report --embed-audio`.

FastAPI + uvicorn: an ASGI app lets the upload be parsed as a stream (upload.py) so limits
apply before a large body is read, both are small pure-Python dependencies already used by
the tests, and uvicorn's access log can be switched off entirely. The standard library's
http.server would need its own multipart parsing (the `cgi` module is gone in 3.13).

Privacy and robustness:
* each request gets its own temporary folder (under `tmp_parent`), deleted when the request
  ends, whatever happens; files are written under fixed names, never the client's;
* nothing about a request is logged (no access log; inference logs no text);
* a bad file gets the CLI's one-line error (temporary paths replaced by the client's file
  name) on the page, with a 4xx status: 413 too large, 415 not usable audio, 422 an
  unusable transcript or nothing to score, 400 a malformed form;
* one model, one lock: requests are scored one at a time, each in its own folder, so a
  second concurrent request waits instead of interfering.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoints' annotations (Request),
# which are imported inside create_app, at definition time.
import tempfile
import threading
from html import escape
from pathlib import Path

from depscreen.audio import DEFAULT_MAX_BYTES
from depscreen.errors import AudioError, DepscreenError
from depscreen.inference.bundle import LoadedModel
from depscreen.inference.inputs import MAX_TRANSCRIPT_BYTES, default_session_id
from depscreen.inference.predict import predict_interview
from depscreen.view.media import audio_data_uri
from depscreen.view.page import render_page, shell
from depscreen.view.upload import FIELDS, Part, UploadError, receive

_FORM = """<form method="post" action="/predict" enctype="multipart/form-data" id="upload">
<label for="audio">Interview recording (WAV or FLAC)</label>
<input type="file" id="audio" name="audio" accept=".wav,.flac,.ogg,audio/*" required>
<label for="transcript">Transcript (optional; DAIC-WOZ style: start_time, stop_time,
speaker, value)</label>
<input type="file" id="transcript" name="transcript" accept=".csv,.tsv,.txt">
<label><input type="checkbox" name="include_text" value="1"> show each utterance's words on
hover</label>
<button type="submit" id="submit">Screen this interview</button></form>"""


def form_page(model: LoadedModel, error: str | None = None) -> str:
    """The upload form (with the one-line error of a refused upload above it)."""
    err = (f'<div class="error-box" id="error" role="alert">{escape(error)}</div>'
           if error else "")
    body = (f"<h1>depscreen: screen an interview</h1><div class=\"meta\">model "
            f"{escape(model.name)} (version {escape(str(model.version))})</div>{err}"
            f"<div class=\"card\">{_FORM}</div><p class=\"meta\">Files are processed in a "
            "temporary folder on this computer and deleted when the page is made; nothing "
            "is logged or kept. The page embeds the recording so you can listen to each "
            "utterance.</p>")
    from depscreen import CAVEAT

    return shell("depscreen: screen an interview",
                 body + f'<div class="caveat">{escape(CAVEAT)}</div>', script=False)


def status_of(error: DepscreenError) -> int:
    if isinstance(error, UploadError):
        return error.status
    return 415 if isinstance(error, AudioError) else 422


def _redact(text: str, parts: dict[str, Part]) -> str:
    """Messages name the temporary files: show the client's file names instead."""
    for part in parts.values():
        if part.path is not None:
            text = text.replace(str(part.path), part.display)
    return text


def score_upload(loaded: LoadedModel, lock: threading.Lock, parts: dict[str, Part],
                 max_audio_bytes: int, embed_audio: bool) -> str:
    """The page for an upload (DepscreenError, redacted, for an unusable one)."""
    audio, transcript = parts.get("audio"), parts.get("transcript")
    if audio is None or (audio.size == 0 and audio.display == "audio"):
        raise UploadError("no audio file was uploaded")
    if transcript is not None and transcript.size == 0 and transcript.display == "transcript":
        transcript = None  # the optional file input left empty
    include_text = parts.get("include_text", Part("")).value.strip() in (b"1", b"on", b"true")
    try:
        with lock:  # one model, one request at a time
            result = predict_interview(
                loaded, audio=str(audio.path),
                transcript=transcript.path if transcript is not None else None,
                session_id=default_session_id(audio.display, None),
                max_audio_bytes=max_audio_bytes, include_text=include_text)
        uri = audio_data_uri(str(audio.path), max_audio_bytes) if embed_audio else None
    except DepscreenError as e:
        e.args = (_redact(str(e), parts),)
        raise
    result["inputs"]["audio"] = audio.display
    if transcript is not None:
        result["inputs"]["transcript"] = transcript.display
    result["warnings"] = [_redact(w, parts) for w in result["warnings"]]
    return render_page(result, uri, back_link=("/", "← screen another interview"))


def create_app(loaded: LoadedModel, *, max_audio_bytes: int = DEFAULT_MAX_BYTES,
               tmp_parent: str | Path | None = None, embed_audio: bool = True):
    """The FastAPI app: GET / the form, POST /predict the page (or the form with an error).
    `tmp_parent`: where the per-request temporary folders go (default: the system's)."""
    from fastapi import FastAPI, Request
    from fastapi.concurrency import run_in_threadpool
    from fastapi.responses import HTMLResponse

    app = FastAPI(title="depscreen", docs_url=None, redoc_url=None, openapi_url=None)
    lock = threading.Lock()
    limits = {"audio": max_audio_bytes, "transcript": MAX_TRANSCRIPT_BYTES, **FIELDS}
    headers = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
               "Referrer-Policy": "no-referrer"}

    @app.get("/", response_class=HTMLResponse)
    def index() -> HTMLResponse:
        return HTMLResponse(form_page(loaded), headers=headers)

    @app.post("/predict", response_class=HTMLResponse)
    async def predict(request: Request) -> HTMLResponse:
        try:
            with tempfile.TemporaryDirectory(prefix="depscreen-upload-",
                                             dir=tmp_parent) as folder:
                parts = await receive(request, Path(folder), limits)
                page = await run_in_threadpool(score_upload, loaded, lock, parts,
                                               max_audio_bytes, embed_audio)
        except DepscreenError as e:
            message = " ".join(str(e).split())  # one line, whatever the cause
            return HTMLResponse(form_page(loaded, message), status_code=status_of(e),
                                headers={**headers, "Connection": "close"})
        return HTMLResponse(page, headers=headers)

    return app
