"""Privacy: no network connection anywhere, and no participant content in logs.

* `prepare`, `train`, `export` and `predict` run (in-process, through the command line) with
  every internet socket refused, and the sentence encoder loads and encodes offline (`--asr`
  runs under the same guard in tests/inference/test_asr.py);
* the package imports no network-capable module;
* a transcript's words never reach stderr unless `--verbose` is given, neither in normal
  output nor in error messages, and the JSON holds them only with `--include-text`.
"""

from __future__ import annotations

import json
import logging
import re
import socket
from pathlib import Path

import pytest

import depscreen

PACKAGE = Path(depscreen.__file__).parent
MARKER = "zebracornwhistle"


@pytest.fixture
def no_network(monkeypatch):
    """Refuse internet connections and name lookups (local IPC sockets stay allowed)."""
    attempts: list[str] = []
    real_connect = socket.socket.connect

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(f"connect {address}")
            raise OSError("network disabled by test_privacy")
        return real_connect(self, address)

    def refuse(name):
        def f(*args, **kwargs):
            attempts.append(f"{name} {args[:2]}")
            raise OSError("network disabled by test_privacy")
        return f

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    yield attempts
    assert attempts == [], f"network access attempted: {attempts}"


@pytest.fixture(scope="module")
def corpus(tiny) -> Path:
    # The session's tiny corpus, generated before sockets are disabled (`synth` is not under
    # test here, and its worker pool talks to its fork server over a local socket).
    return tiny.root


@pytest.fixture(scope="module")
def session(tiny) -> tuple[Path, Path]:
    """(audio, transcript) of one session of the tiny corpus."""
    s = tiny.corpus.sessions[0]
    audio = Path(s.audio)
    return audio, audio.with_name(f"{s.session_id}_TRANSCRIPT.csv")


def test_prepare_train_export_predict_without_network(corpus, session, tmp_path, cli,
                                                      no_network):
    prepared, run, bundle = tmp_path / "prepared", tmp_path / "run", tmp_path / "m.dsb"
    code, _, err = cli("prepare", "--corpus", "daic-woz", "--root", corpus, "--out", prepared)
    assert code == 0, err
    code, _, err = cli("train", "--prepared", prepared, "--model", "decision-fusion",
                       "--out", run, "--epochs", "1", "--limit-train-batches", "2", "--quiet")
    assert code == 0, err
    code, _, err = cli("export", run, "--out", bundle)
    assert code == 0, err
    audio, transcript = session
    code, out, err = cli("predict", "--model", bundle, "--audio", audio, "--transcript",
                         transcript)
    assert code == 0, err
    assert 0 <= json.loads(out)["probability"] <= 1
    # --asr offline: tests/inference/test_asr.py (under the same socket guard).


def test_sentence_encoder_works_offline(no_network):
    from depscreen.features.text import SentenceEncoder

    emb = SentenceEncoder().encode(["i feel tired"])
    assert emb.shape == (1, 384)
    import os

    assert os.environ.get("HF_HUB_OFFLINE") == "1"


NETWORK_IMPORTS = re.compile(
    r"^\s*(?:import|from)\s+(?:urllib\.request|urllib3|requests|httpx|aiohttp|http\.client|"
    r"socket|ftplib|smtplib|websocket|huggingface_hub)\b", re.MULTILINE)
DOWNLOAD_CALLS = re.compile(r"\b(?:hf_hub_download|snapshot_download|urlopen|urlretrieve)\s*\(")


def test_package_imports_nothing_network_capable():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        src = path.read_text(encoding="utf-8")
        for rx in (NETWORK_IMPORTS, DOWNLOAD_CALLS):
            offenders += [f"{path.relative_to(PACKAGE)}: {m.group(0).strip()}"
                          for m in rx.finditer(src)]
    assert offenders == []


def test_sentence_encoder_switches_the_hub_offline_before_importing_it():
    src = (PACKAGE / "features" / "text.py").read_text()
    offline = src.index('os.environ["HF_HUB_OFFLINE"] = "1"')
    assert 'os.environ["TRANSFORMERS_OFFLINE"] = "1"' in src
    assert offline < src.index("from sentence_transformers import")


# ----------------------------------------------------------------------------- logs


@pytest.fixture(scope="module")
def small_bundle(trained_run, tmp_path_factory) -> Path:
    from depscreen.inference.bundle import export_bundle

    out = tmp_path_factory.mktemp("privacy-model") / "m.dsb"
    export_bundle(trained_run("decision-fusion"), out)
    return out


def _marked_transcript(path: Path, bad_time: bool = False) -> Path:
    first = f"{MARKER}time" if bad_time else "1.0"
    path.write_text(
        "start_time\tstop_time\tspeaker\tvalue\n"
        "0.1\t0.8\tEllie\thello\n"
        f"{first}\t4.0\tParticipant\ti told nobody about the {MARKER} in my garden\n"
        f"40.0\t44.0\tParticipant\tlater {MARKER} words beyond the audio\n"
        "-1.0\t0.5\tParticipant\tnegative time line\n")
    return path


def test_transcript_words_stay_out_of_logs_unless_verbose(cli, small_bundle, session, tmp_path,
                                                          no_network):
    audio, _ = session
    transcript = _marked_transcript(tmp_path / "t.csv")
    code, out, err = cli("predict", "--model", small_bundle, "--audio", audio,
                         "--transcript", transcript)
    assert code == 0, err
    assert "warning:" in err  # warnings are shown (times beyond the audio, negative times) ...
    assert MARKER not in err  # ... without the words
    assert MARKER not in out
    code, out, err = cli("predict", "--model", small_bundle, "--audio", audio,
                         "--transcript", transcript, "--include-text")
    assert code == 0 and MARKER in out and MARKER not in err
    code, out, err = cli("predict", "--model", small_bundle, "--audio", audio,
                         "--transcript", transcript, "--verbose")
    assert code == 0 and MARKER in err  # the check above can see the marker when it is there


def test_error_messages_do_not_echo_transcript_content(cli, small_bundle, tmp_path):
    transcript = _marked_transcript(tmp_path / "t.csv", bad_time=True)
    code, out, err = cli("predict", "--model", small_bundle, "--transcript", transcript)
    assert code == 1 and "cannot parse transcript line" in err
    assert MARKER not in err and out == ""
    code, _, err = cli("predict", "--model", small_bundle, "--transcript", transcript,
                       "--verbose")
    assert code == 1 and MARKER in err


def test_library_logs_no_text_unless_verbose(small_bundle, session, tmp_path, caplog):
    from depscreen.inference.bundle import load_model
    from depscreen.inference.predict import predict_interview

    loaded = load_model(small_bundle)
    transcript = _marked_transcript(tmp_path / "t.csv")
    audio, _ = session
    logger = logging.getLogger("depscreen")
    logger.addHandler(caplog.handler)
    old = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        predict_interview(loaded, audio=audio, transcript=transcript)
        assert caplog.records and MARKER not in caplog.text
        predict_interview(loaded, audio=audio, transcript=transcript, verbose=True)
        assert MARKER in caplog.text
    finally:
        logger.removeHandler(caplog.handler)
        logger.setLevel(old)
