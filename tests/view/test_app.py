"""The web app without a browser (FastAPI's TestClient): a good upload gets the page, hostile
uploads get a 4xx with a one-line message, nothing is left in the temporary folder, and two
concurrent requests each get their own result. Plus `depscreen serve`'s address check."""

from __future__ import annotations

import re
import threading

import pytest

from depscreen.inference.predict import predict_interview
from tests.view.conftest import MARKER, make_interview


@pytest.fixture
def tmp_parent(tmp_path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    return folder


@pytest.fixture
def client(view_loaded, tmp_parent):
    from fastapi.testclient import TestClient

    from depscreen.view.app import create_app

    app = create_app(view_loaded, max_audio_bytes=4 * 1024**2, tmp_parent=tmp_parent)
    with TestClient(app) as c:
        yield c


def _post(client, audio: tuple | None = None, transcript: tuple | None = None, **data):
    files = {}
    if audio is not None:
        files["audio"] = audio
    if transcript is not None:
        files["transcript"] = transcript
    return client.post("/predict", files=files, data=data)


def _error(resp) -> str:
    m = re.search(r'<div class="error-box" id="error" role="alert">(.*?)</div>', resp.text, re.S)
    assert m, resp.text[:500]
    assert "\n" not in m.group(1)
    return m.group(1)


def test_form_page(client):
    resp = client.get("/")
    assert resp.status_code == 200 and 'name="audio"' in resp.text
    assert "default-src 'none'" in resp.text


def test_upload_gives_the_page(client, view_loaded, short_interview, tmp_parent):
    resp = _post(client, ("300_AUDIO.wav", short_interview.audio.read_bytes(), "audio/wav"),
                 ("300_TRANSCRIPT.csv", short_interview.transcript.read_bytes(), "text/csv"))
    assert resp.status_code == 200, resp.text[-3000:]
    expected = predict_interview(view_loaded, audio=str(short_interview.audio),
                                 transcript=short_interview.transcript)
    assert expected["decision"]["label"] in resp.text
    assert resp.text.count('class="utt"') == short_interview.utterances
    assert 'src="data:audio/flac;base64,' in resp.text
    assert '<span id="session">300</span>' in resp.text
    assert MARKER not in resp.text and str(tmp_parent) not in resp.text
    assert list(tmp_parent.iterdir()) == []
    with_text = _post(client, ("a.wav", short_interview.audio.read_bytes()),
                      ("t.csv", short_interview.transcript.read_bytes()), include_text="1")
    assert with_text.status_code == 200 and MARKER in with_text.text


@pytest.mark.parametrize("name, body, status, says", [
    ("notes.wav", b"this is not audio, just text" * 10, 415, "not a readable audio file"),
    ("empty.wav", b"", 415, "empty file"),
    ("../../etc/passwd", b"root:x:0:0:root:/root:/bin/bash\n", 415, "passwd: not a readable"),
    ("a/b.wav", b"\x00" * 1000, 415, "b.wav: not a readable"),
    ("big.wav", b"\x00" * (4 * 1024**2 + 1), 413, "larger than the limit"),
])
def test_hostile_uploads(client, tmp_parent, name, body, status, says):
    resp = _post(client, (name, body, "audio/wav"))
    assert resp.status_code == status
    message = _error(resp)
    assert says in message and str(tmp_parent) not in message
    assert list(tmp_parent.iterdir()) == []
    assert not (tmp_parent.parent / "etc").exists()


def test_malformed_requests(client, tmp_parent, short_interview):
    assert client.post("/predict", content=b"x", headers={
        "content-type": "text/plain"}).status_code == 415
    resp = _post(client, transcript=("t.csv", short_interview.transcript.read_bytes()))
    assert resp.status_code == 400 and "no audio file" in _error(resp)
    resp = client.post("/predict", files={"other": ("x", b"1")})
    assert resp.status_code == 400 and "unexpected form field" in _error(resp)
    resp = client.post("/predict", content=b"--xx\r\nbroken", headers={
        "content-type": "multipart/form-data; boundary=xx"})
    assert 400 <= resp.status_code < 500
    bad_transcript = _post(client, ("a.wav", short_interview.audio.read_bytes()),
                           ("t.csv", b"\xff\xfe garbage \x00\x01"))
    assert bad_transcript.status_code == 422 and "t.csv" in _error(bad_transcript)
    big = client.post("/predict", content=b"", headers={
        "content-type": "multipart/form-data; boundary=xx", "content-length": str(2**40)})
    assert big.status_code == 413
    assert list(tmp_parent.iterdir()) == []


def test_concurrent_requests_get_their_own_results(client, view_loaded, tmp_path, tmp_parent):
    ivs = [make_interview(tmp_path / f"c{i}", 20.0 + 16 * i, seed=i, name=f"c{i}")
           for i in range(2)]
    expected = [predict_interview(view_loaded, audio=str(iv.audio), transcript=iv.transcript)
                for iv in ivs]
    got: dict[int, str] = {}

    def post(i: int) -> None:
        iv = ivs[i]
        resp = _post(client, (f"c{i}.wav", iv.audio.read_bytes()),
                     (f"c{i}.csv", iv.transcript.read_bytes()))
        assert resp.status_code == 200
        got[i] = resp.text

    threads = [threading.Thread(target=post, args=(i,)) for i in range(2) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i, iv in enumerate(ivs):
        assert f'<span id="session">c{i}</span>' in got[i]
        assert got[i].count('class="utt"') == iv.utterances
        assert f'id="probability">{expected[i]["probability"]:.2f}<' in got[i]
    assert list(tmp_parent.iterdir()) == []


def test_serve_refuses_a_non_loopback_host(cli, view_bundle):
    code, _, err = cli("serve", "--model", view_bundle, "--host", "0.0.0.0")
    assert code == 1 and "--allow-remote" in err and len(err.strip().splitlines()) == 1
    from depscreen.cli.serve import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.4")


def test_only_serve_and_the_app_touch_the_web_stack():
    """The package stays offline (tests/test_privacy.py); the web server is confined to the
    `serve` command and the app module, imported only when serving."""
    from pathlib import Path

    import depscreen

    root = Path(depscreen.__file__).parent
    users = sorted(str(p.relative_to(root)) for p in root.rglob("*.py")
                   if re.search(r"^\s*(?:import|from)\s+(?:uvicorn|fastapi|starlette)\b",
                                p.read_text(encoding="utf-8"), re.M))
    assert users == ["cli/serve.py", "view/app.py"]
