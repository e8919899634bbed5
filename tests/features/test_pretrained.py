"""Frozen pretrained encoders (features/pretrained.py) on tiny random models built in code.

Every model is written by `pretrained_fixtures` into a temporary folder; the hubs are offline
and any socket connection made during a test fails the test.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest

from depscreen.errors import ConfigError, FeatureError
from depscreen.features.hf_text import HFTextEncoder
from depscreen.features.pretrained import weights_sha256
from depscreen.features.ssl_speech import SSL_MODEL_TYPES, SSLSpeechRepresentation

from .pretrained_fixtures import make_tiny_ssl, make_tiny_text_encoder

SR = 16000
LAYERS = 4


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch):
    """Hubs offline, and any connection attempt is recorded and fails the test."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    attempts: list[object] = []

    def refuse(self, address, *args, **kwargs):
        attempts.append(address)
        raise OSError("network disabled in tests")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield
    assert not attempts, f"tried to connect to {attempts}"


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory):
    """`models(model_type, seed=0)`: a tiny 4-layer encoder folder (built once per args)."""
    base = tmp_path_factory.mktemp("ssl")
    made: dict[tuple[str, int], Path] = {}

    def get(model_type: str, seed: int = 0) -> Path:
        if (model_type, seed) not in made:
            made[model_type, seed] = make_tiny_ssl(base / f"{model_type}-{seed}", model_type,
                                                   seed=seed, layers=LAYERS)
        return made[model_type, seed]

    return get


@pytest.fixture(scope="module")
def speech() -> np.ndarray:
    """7 s of noise with a tone (float32, 16 kHz)."""
    rng = np.random.default_rng(0)
    t = np.arange(7 * SR) / SR
    return (0.1 * rng.standard_normal(t.size) + 0.3 * np.sin(2 * np.pi * 220 * t)).astype(
        np.float32)


def reference_layers(folder: Path, wave: np.ndarray) -> list[np.ndarray]:
    """All hidden states of the untouched model over the whole (standardised) wave."""
    import torch
    from transformers import AutoModel, WhisperFeatureExtractor

    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    with torch.inference_mode():
        if model.config.model_type == "whisper":
            fe = WhisperFeatureExtractor.from_pretrained(str(folder), local_files_only=True)
            x = fe(wave, sampling_rate=SR, return_tensors="pt")["input_features"]
            hidden = model.encoder(x, output_hidden_states=True).hidden_states
        else:
            w = wave.astype(np.float64)
            w = ((w - w.mean()) / np.sqrt(w.var() + 1e-7)).astype(np.float32)
            hidden = model(torch.from_numpy(w)[None], output_hidden_states=True).hidden_states
    return [h[0].numpy() for h in hidden]


# -- speech: attributes, shapes, layers ----------------------------------------------------


@pytest.mark.parametrize("model_type", SSL_MODEL_TYPES)
def test_ssl_attributes_and_shapes(models, speech, model_type):
    folder = models(model_type)
    rep = SSLSpeechRepresentation(str(folder), window_seconds=3.0, overlap_seconds=1.0)
    assert rep.kind == "ssl" and rep.parallel is False
    assert rep.spec == f"ssl:{folder}"
    assert rep.dim == 32 and rep.sample_rate == SR and rep.hop_seconds == pytest.approx(0.02)
    assert rep.layer == LAYERS // 2 and rep._model is None  # nothing loaded yet
    cfg = rep.config()
    assert json.loads(json.dumps(cfg)) == cfg
    assert cfg["model_type"] == model_type and cfg["path"] == str(folder.resolve())
    assert len(rep.key()) == 16 and int(rep.key(), 16) >= 0

    out = rep.frames(speech)  # 7 s through 3-s windows: 4 windows stitched
    assert out.dtype == np.float32 and out.shape == (rep.n_frames(speech.size), 32)
    assert np.isfinite(out).all()
    if model_type == "whisper":
        assert out.shape[0] == 350  # one frame per started 20 ms
    else:
        import torch

        model = rep._load()
        assert out.shape[0] == int(model._get_feat_extract_output_lengths(
            torch.tensor(speech.size))) == 349


@pytest.mark.parametrize("model_type", ["wavlm", "wav2vec2", "whisper"])
def test_layer_selection_matches_full_model(models, speech, model_type):
    folder = models(model_type)
    wave = speech[: 3 * SR]
    ref = reference_layers(folder, wave)
    assert len(ref) == LAYERS + 1
    outs = []
    for layer in range(LAYERS + 1):
        rep = SSLSpeechRepresentation(folder, layer=layer, window_seconds=10.0)
        out = rep.frames(wave)
        np.testing.assert_allclose(out, ref[layer][: len(out)], atol=1e-4)
        outs.append(out)
    for a, b in zip(outs, outs[1:], strict=False):
        assert np.abs(a - b).max() > 1e-2  # layers really differ
    last = SSLSpeechRepresentation(folder, layer=-1, window_seconds=10.0)
    assert last.layer == LAYERS
    np.testing.assert_array_equal(last.frames(wave), outs[-1])


@pytest.mark.parametrize("layer", [LAYERS + 1, -(LAYERS + 2), 1.5, True, "2"])
def test_layer_out_of_range(models, layer):
    with pytest.raises(ConfigError, match="layer must be an integer from 0 to 4"):
        SSLSpeechRepresentation(models("wavlm"), layer=layer)


def test_deterministic(models, speech):
    a = SSLSpeechRepresentation(models("wavlm"), window_seconds=3.0)
    b = SSLSpeechRepresentation(models("wavlm"), window_seconds=3.0)
    first = a.frames(speech)
    np.testing.assert_array_equal(first, a.frames(speech))
    np.testing.assert_array_equal(first, b.frames(speech))


def test_key_follows_weights_layer_and_windows(models, tmp_path):
    folder = models("wavlm")
    base = SSLSpeechRepresentation(folder)
    assert base.key() == SSLSpeechRepresentation(folder, layer=LAYERS // 2).key()
    assert SSLSpeechRepresentation(folder, layer=-1).key() == \
        SSLSpeechRepresentation(folder, layer=LAYERS).key()
    others = [
        SSLSpeechRepresentation(folder, layer=1),
        SSLSpeechRepresentation(folder, window_seconds=10.0),
        SSLSpeechRepresentation(folder, overlap_seconds=1.0),
        SSLSpeechRepresentation(models("wavlm", seed=1)),  # other weights, same config
    ]
    keys = {base.key(), *(r.key() for r in others)}
    assert len(keys) == 1 + len(others)
    # batch size and device do not change frames, so not the key either
    assert SSLSpeechRepresentation(folder, batch_size=1).key() == base.key()
    # a copied (moved) folder keeps its key: the hashes identify the model
    copy = shutil.copytree(folder, tmp_path / "moved")
    moved = SSLSpeechRepresentation(copy)
    assert moved.config()["path"] != base.config()["path"] and moved.key() == base.key()
    # rewriting the weights changes it
    make_tiny_ssl(copy, "wavlm", seed=2, layers=LAYERS)
    assert SSLSpeechRepresentation(copy).key() != base.key()


def test_weights_sha256(models, tmp_path):
    folder = shutil.copytree(models("wav2vec2"), tmp_path / "m")
    first = weights_sha256(folder)
    assert len(first) == 64 and weights_sha256(folder) == first
    assert weights_sha256(models("wav2vec2")) == first  # same bytes elsewhere
    with open(folder / "model.safetensors", "ab") as f:
        f.write(b"\0")
    assert weights_sha256(folder) != first
    (folder / "model.safetensors").unlink()
    with pytest.raises(FeatureError, match="no weight files"):
        weights_sha256(folder)


# -- speech: windows, batches, short inputs ---------------------------------------------------


@pytest.mark.parametrize("model_type", ["wavlm", "hubert", "whisper"])
def test_windows_match_one_pass(models, speech, model_type):
    """3-s windows (1 s overlap) vs one pass: same frame count, frames close everywhere and
    very close away from the window boundaries (7 s: 3 windows of 3 s at 0, 2, 4 s)."""
    folder = models(model_type)
    windowed = SSLSpeechRepresentation(folder, window_seconds=3.0, overlap_seconds=1.0)
    whole = SSLSpeechRepresentation(folder, window_seconds=25.0 if model_type == "whisper"
                                    else 60.0)
    a, b = windowed.frames(speech), whole.frames(speech)
    assert a.shape == b.shape == (windowed.n_frames(speech.size), 32)
    interior = np.r_[25:75]  # 0.5-1.5 s: >= 0.5 s from every window edge
    assert np.abs(a[interior] - b[interior]).max() < 5e-3
    if model_type == "whisper":
        # Whisper's absolute position embeddings restart in every window, so only the first
        # window can match a longer pass; the frame count still does.
        return
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.999
    assert np.abs(a - b).max() < 0.05


def test_overlap_covers_the_positional_convolution(models):
    # The tiny models' positional conv spans 16 frames (8 each side): windows overlap by at
    # least 2 * 8 + 2 frames, whatever overlap_seconds says; data2vec-audio stacks 5 convs.
    assert SSLSpeechRepresentation(models("wavlm"), overlap_seconds=0.0).config()[
        "overlap_frames"] == 18
    assert SSLSpeechRepresentation(models("wavlm"), overlap_seconds=1.0).config()[
        "overlap_frames"] == 50
    assert SSLSpeechRepresentation(models("data2vec-audio"), overlap_seconds=0.0).config()[
        "overlap_frames"] == 2 * 5 * 2 + 2
    assert SSLSpeechRepresentation(models("whisper"), overlap_seconds=0.0).config()[
        "overlap_frames"] == 2


def test_group_norm_windows_keep_the_frame_grid(models, speech):
    # wav2vec2-base-like: group norm over each window's time, so values move more, but the
    # frame count and the frames' alignment stay those of one pass.
    folder = models("wav2vec2")
    a = SSLSpeechRepresentation(folder, window_seconds=3.0, overlap_seconds=1.0).frames(speech)
    b = SSLSpeechRepresentation(folder, window_seconds=60.0).frames(speech)
    assert a.shape == b.shape
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.95


@pytest.mark.parametrize("model_type", ["wavlm", "whisper"])
def test_stitching_is_exact_on_the_frame_grid(models, monkeypatch, model_type):
    """With a fake encoder whose frame i of a window is the window's sample at i * hop, the
    stitched output must be exactly 0, hop, 2 hop, ... for every signal length."""
    rep = SSLSpeechRepresentation(models(model_type), window_seconds=1.0, overlap_seconds=0.3)
    hop = round(rep.hop_seconds * SR)
    monkeypatch.setattr(rep, "_prepare", lambda w: np.asarray(w, np.float32))
    monkeypatch.setattr(rep, "_forward", lambda chunks: [
        c[::hop][: rep.n_frames(c.size)].reshape(-1, 1) for c in chunks])
    lengths = [400, 16000, 16001, 16320, 16321, 26000, 26399, 26400, 26401, 31999, 57777,
               200000]
    waves = [np.arange(n, dtype=np.float32) for n in lengths]
    for n, out in zip(lengths, rep.frames_many(waves), strict=True):
        expected = np.arange(rep.n_frames(n), dtype=np.float32) * hop
        np.testing.assert_array_equal(out[:, 0], expected, err_msg=f"{n} samples")
    for n in lengths:  # windows: on the frame grid, <= 1 s, one length, overlapping, covering
        starts, chunks = rep._chunks(np.zeros(n, np.float32))
        sizes = [c.size for c in chunks]
        assert all(a % hop == 0 for a in starts) and starts == sorted(set(starts))
        assert max(sizes) <= rep._window and starts[0] == 0 and starts[-1] + sizes[-1] == n
        assert len(set(sizes[:-1])) <= 1 and sizes[0] - hop < sizes[-1] <= sizes[0]
        for a, b, size in zip(starts, starts[1:], sizes, strict=False):
            assert a + size - b >= rep._overlap
        if n > rep._window:  # as few windows as the window length allows (in whole frames)
            span = -(-n // hop) * hop
            assert len(starts) == -(-(span - rep._overlap) // (rep._window - rep._overlap))


@pytest.mark.parametrize("model_type", ["wavlm", "wav2vec2", "data2vec-audio", "whisper"])
def test_batched_equals_one_at_a_time(models, speech, model_type):
    rep = SSLSpeechRepresentation(models(model_type), window_seconds=3.0, overlap_seconds=1.0,
                                  batch_size=3)
    waves = [speech[: 2 * SR], speech[SR: SR + 12345], speech[:300], speech,
             speech[5000: 3 * SR], speech[: 2 * SR]]
    many = rep.frames_many(waves)
    assert [m.shape[0] for m in many] == [rep.n_frames(w.size) for w in waves]
    for wave, got in zip(waves, many, strict=True):
        np.testing.assert_allclose(got, rep.frames(wave), atol=1e-4)
    assert rep.frames_many([]) == []


@pytest.mark.parametrize("n", [0, 1, 100, 399, 400, 719, 720])
def test_short_inputs(models, n):
    rep = SSLSpeechRepresentation(models("wavlm"))
    out = rep.frames(np.full(n, 0.1, np.float32))
    assert out.shape == (2 if n >= 720 else 1, 32) and np.isfinite(out).all()


def test_input_must_be_mono(models):
    with pytest.raises(FeatureError, match="mono"):
        SSLSpeechRepresentation(models("wavlm")).frames(np.zeros((2, 16000), np.float32))


# -- speech: bad folders and options --------------------------------------------------------


def test_bad_speech_folders(models, tmp_path):
    with pytest.raises(FeatureError, match="no such speech encoder folder") as e:
        SSLSpeechRepresentation(tmp_path / "missing")
    assert e.value.path == str(tmp_path / "missing")
    (tmp_path / "file").write_text("x")
    with pytest.raises(FeatureError, match="must be a folder"):
        SSLSpeechRepresentation(tmp_path / "file")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FeatureError, match="no config.json"):
        SSLSpeechRepresentation(empty)
    (empty / "config.json").write_text("{not json")
    with pytest.raises(FeatureError, match="not valid JSON"):
        SSLSpeechRepresentation(empty)
    text = make_tiny_text_encoder(tmp_path / "bert")
    with pytest.raises(FeatureError, match="'bert', not a supported speech encoder"):
        SSLSpeechRepresentation(text)
    no_pre = shutil.copytree(models("wavlm"), tmp_path / "no_pre")
    (no_pre / "preprocessor_config.json").unlink()
    with pytest.raises(FeatureError, match="no preprocessor_config.json"):
        SSLSpeechRepresentation(no_pre)


def test_weights_that_do_not_fit_the_config(models, tmp_path):
    mixed = shutil.copytree(models("wavlm"), tmp_path / "mixed")
    shutil.copy(models("wav2vec2") / "model.safetensors", mixed / "model.safetensors")
    rep = SSLSpeechRepresentation(mixed)
    with pytest.raises(FeatureError, match="speech encoder") as e:
        rep.frames(np.zeros(16000, np.float32))
    assert e.value.path == str(mixed.resolve())
    no_weights = shutil.copytree(models("wavlm"), tmp_path / "no_weights")
    (no_weights / "model.safetensors").unlink()
    with pytest.raises(FeatureError, match="no weight files"):
        SSLSpeechRepresentation(no_weights).key()


@pytest.mark.parametrize("kwargs, match", [
    ({"window_seconds": 2.0, "overlap_seconds": 2.0}, r"window_seconds \(2.0\) must exceed"),
    ({"overlap_seconds": -1.0}, "overlap_seconds >= 0"),
    ({"window_seconds": 0.5, "overlap_seconds": 0.0}, "window_seconds >= 1"),
    ({"window_seconds": float("inf")}, "window_seconds >= 1"),
    ({"overlap_seconds": "two"}, "overlap_seconds >= 0"),
    ({"batch_size": 0}, "batch_size"),
    ({"device": "tpu"}, "device"),
])
def test_bad_options(models, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        SSLSpeechRepresentation(models("wavlm"), **kwargs)


def test_whisper_windows_at_most_30s(models):
    with pytest.raises(ConfigError, match="at most 30 s"):
        SSLSpeechRepresentation(models("whisper"), window_seconds=40.0)


def test_gpu_without_cuda_is_a_config_error(models):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA GPU")
    with pytest.raises(ConfigError, match="no CUDA"):
        SSLSpeechRepresentation(models("wavlm"), device="gpu")


def test_model_id_from_the_local_hf_cache(models, tmp_path, monkeypatch, speech):
    """A model id resolves to its snapshot in the local cache; an uncached id is an error
    (and no connection is tried: the autouse fixture fails the test otherwise)."""
    cache = tmp_path / "hub"
    snapshot = cache / "models--tiny-org--tiny-wavlm" / "snapshots" / ("a" * 40)
    shutil.copytree(models("wavlm"), snapshot)
    (cache / "models--tiny-org--tiny-wavlm" / "refs").mkdir()
    (cache / "models--tiny-org--tiny-wavlm" / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    rep = SSLSpeechRepresentation("tiny-org/tiny-wavlm", window_seconds=3.0)
    assert rep.path == snapshot.resolve() and rep.spec == "ssl:tiny-org/tiny-wavlm"
    local = SSLSpeechRepresentation(models("wavlm"), window_seconds=3.0)
    assert rep.key() == local.key()
    np.testing.assert_array_equal(rep.frames(speech[:SR]), local.frames(speech[:SR]))
    with pytest.raises(FeatureError, match="nor a model id in the local Hugging Face cache"):
        SSLSpeechRepresentation("tiny-org/not-cached")


# -- text ------------------------------------------------------------------------------------

TEXTS = ["I feel tired all the time", "", "yes", "work " * 300, "ok good day", "é ☃ 123"]


@pytest.fixture(scope="module")
def text_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("text")
    return {"hf": make_tiny_text_encoder(base / "hf"),
            "st": make_tiny_text_encoder(base / "st", sentence_transformers=True),
            "other": make_tiny_text_encoder(base / "other", seed=1)}


def reference_mean_pool(folder: Path, texts: list[str], max_length: int) -> np.ndarray:
    import torch
    from transformers import AutoModel, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
    model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()
    rows = []
    with torch.inference_mode():
        for t in texts:
            enc = tok([t], truncation=True, max_length=max_length, return_tensors="pt")
            h = model(**enc).last_hidden_state[0].mean(0)
            rows.append((h / h.norm()).numpy())
    return np.stack(rows)


@pytest.mark.parametrize("kind", ["hf", "st"])
def test_text_encoder(text_models, kind):
    folder = text_models[kind]
    enc = HFTextEncoder(folder, batch_size=2)
    assert enc.kind == "hf" and enc.dim == 32
    assert enc.name.startswith(f"hf:{folder.resolve()}#") and len(enc.name.split("#")[1]) == 16
    emb = enc.encode(TEXTS)
    assert emb.shape == (len(TEXTS), 32) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    # batching / sorting by length never changes an embedding or the order
    np.testing.assert_allclose(HFTextEncoder(folder, batch_size=64).encode(TEXTS), emb,
                               atol=1e-5)
    np.testing.assert_allclose(np.stack([enc.encode([t])[0] for t in TEXTS]), emb, atol=1e-5)
    np.testing.assert_array_equal(enc.encode(TEXTS), emb)
    assert enc.encode([]).shape == (0, 32)
    if kind == "hf":
        np.testing.assert_allclose(emb, reference_mean_pool(folder, TEXTS, 128), atol=1e-5)


def test_text_encoder_name_and_max_length(text_models):
    hf = HFTextEncoder(text_models["hf"])
    assert HFTextEncoder(text_models["other"]).name.split("#")[1] != hf.name.split("#")[1]
    short = HFTextEncoder(text_models["hf"], max_length=4)
    assert short.name != hf.name
    long_text = ["i feel tired all the time and sleep is hard"]
    assert np.abs(short.encode(long_text) - hf.encode(long_text)).max() > 1e-3
    np.testing.assert_allclose(short.encode(long_text),
                               reference_mean_pool(text_models["hf"], long_text, 4), atol=1e-5)


def test_bad_text_folders(tmp_path, models):
    with pytest.raises(FeatureError, match="no such text encoder folder"):
        HFTextEncoder(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FeatureError, match="no modules.json or config.json"):
        HFTextEncoder(empty)
    no_tok = shutil.copytree(models("wavlm"), tmp_path / "speech")  # no tokenizer in there
    with pytest.raises(FeatureError, match="cannot load the text encoder"):
        HFTextEncoder(no_tok).encode(["hello"])
    (empty / "config.json").write_text(json.dumps({"model_type": "t5",
                                                   "is_encoder_decoder": True}))
    with pytest.raises(FeatureError, match="encoder-decoder"):
        HFTextEncoder(empty)
    for kwargs in ({"batch_size": 0}, {"max_length": 0}):
        with pytest.raises(ConfigError):
            HFTextEncoder(make_tiny_text_encoder(tmp_path / "ok"), **kwargs)
