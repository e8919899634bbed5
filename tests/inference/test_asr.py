"""Speech segments by energy, and offline recognition with PocketSphinx (--asr)."""

from __future__ import annotations

import json
import socket

import numpy as np
import pytest
import soundfile as sf

from depscreen.inference.asr import Recognizer, speech_segments
from depscreen.inference.predict import predict_interview

SR = 16000


def _bursts(spans: list[tuple[float, float]], total: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = 0.001 * rng.standard_normal(int(total * SR))
    for a, b in spans:
        t = np.arange(int(a * SR), int(b * SR))
        x[t] += 0.3 * np.sin(2 * np.pi * 200 * t / SR)
    return x.astype(np.float32)


def test_segments_follow_the_speech():
    spans = [(1.0, 3.0), (4.5, 6.0), (8.0, 8.1), (9.0, 11.5)]  # 8.0-8.1: a click, too short
    segs = speech_segments(_bursts(spans, 13.0), SR)
    assert len(segs) == 3
    for (a, b), (s, e) in zip([spans[0], spans[1], spans[3]], segs, strict=True):
        assert abs(s - a) < 0.25 and abs(e - b) < 0.25


def test_short_pauses_are_bridged():
    segs = speech_segments(_bursts([(1.0, 2.0), (2.3, 3.5)], 5.0), SR)
    assert len(segs) == 1


def test_silence_and_steady_sound():
    assert speech_segments(np.zeros(SR * 3, np.float32), SR) == []
    steady = 0.2 * np.sin(2 * np.pi * 220 * np.arange(SR * 3) / SR).astype(np.float32)
    assert speech_segments(steady, SR) == [(0.0, 3.0)]
    assert speech_segments(np.zeros(10, np.float32), SR) == []


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    """A short eSpeak NG utterance, with a pause, as a 16 kHz WAV."""
    from depscreen.corpora.tts import get_engine

    eng = get_engine()
    a = eng.synthesize("i have been feeling tired and sad", rate=150)
    b = eng.synthesize("i cannot sleep at night", rate=150)
    x = np.concatenate([np.zeros(SR // 2), a, np.zeros(SR), b, np.zeros(SR // 2)])
    path = tmp_path_factory.mktemp("asr") / "spoken.wav"
    sf.write(path, x.astype(np.float32), SR, subtype="PCM_16")
    return path


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*_a, **_k):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def test_asr_transcribes_offline(loaded, spoken, no_network):
    res = predict_interview(loaded, audio=spoken, asr=True, include_text=True)
    assert res["inputs"]["text_source"] == "asr"
    assert any("offline ASR" in w for w in res["warnings"])
    assert len(res["timeline"]) == 2  # two phrases, two segments
    words = " ".join(e["words"] for e in res["timeline"])
    assert len(words.split()) >= 3  # PocketSphinx recognises eSpeak speech, roughly
    assert res["modalities"]["text"] is not None and res["modalities"]["speech"] is not None
    json.dumps(res)


def test_recognizer_on_empty_input():
    assert Recognizer().transcribe(np.zeros(0, np.float32), SR) == ""


def test_cli_asr_flags_the_text_source(cli, bundle_path, spoken):
    code, stdout, stderr = cli("predict", "--model", bundle_path, "--audio", spoken, "--asr")
    assert code == 0, stderr
    res = json.loads(stdout)
    assert res["inputs"]["text_source"] == "asr"
    assert "words" not in res["timeline"][0]
    assert "offline ASR" in stderr and "does not separate interviewer" in stderr
