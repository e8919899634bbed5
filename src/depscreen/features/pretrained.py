"""Frozen pretrained encoders for the feature cache, loaded from local folders only.

`SSLSpeechRepresentation` turns mono audio into one hidden layer of a self-supervised speech
encoder (wav2vec 2.0, HuBERT, WavLM, data2vec-audio, UniSpeech(-SAT), wav2vec2-conformer)
or of Whisper's encoder: (T, dim) float32 frames, one per 20 ms. `HFTextEncoder` embeds
sentences with any local sentence-transformers folder or plain Hugging Face encoder (mean
pooling over the attention mask, then unit length).

A model is named by a folder in `save_pretrained` layout or by a model id already in the
local Hugging Face cache. Nothing is ever downloaded: the hubs are switched offline before
transformers is imported and every load passes `local_files_only=True`. Weights load on
first use; the constructors only read the JSON configs, so a bad folder fails early with a
`FeatureError` and a bad option with a `ConfigError`.

Speech details:

* Input is standardised per recording (zero mean, unit variance, as the model's feature
  extractor does when its `do_normalize` is set) once, before it is cut into windows.
* Long recordings are encoded in the fewest windows of at most `window_seconds` that
  overlap by at least `overlap_seconds`, all of one length; every window starts on the
  20 ms frame grid, and each inner boundary keeps half the overlap from either side, so
  the frame count is exactly that of one forward pass over the whole recording and memory
  stays bounded. The overlap is raised to twice the reach of the model's positional
  convolution when it is shorter (2.6 s for wav2vec2/HuBERT/WavLM, whose kernel spans
  128 frames), so no kept frame sees a window edge through it; frames still differ
  slightly from a whole-recording pass (self-attention sees a shorter context).
* Inputs shorter than the conv front end's receptive field (400 samples) are zero-padded
  to it and give one frame.
* Batches: for wav2vec2 / HuBERT / WavLM / UniSpeech encoders whose conv features are
  normalised per frame (layer norm, the "large" models) inputs are padded to the longest in
  the batch with an attention mask, which gives the same frames as one at a time.
  Group-norm encoders (wav2vec2-base, HuBERT-base, WavLM-base) normalise over time, and
  data2vec-audio's and the conformer's convolutions spread padding into the last frames,
  so these are batched only with inputs of equal length (every inner window of a long
  recording has the same length). Whisper windows are all padded to 30 s anyway.
* Only the layers up to the chosen one (plus one) run; `layer=None` is the middle layer.
  Layer 0 is the input of the first transformer block; layer k its k-th block's output
  (the last layer's value follows the installed transformers' `hidden_states[-1]`).
* Whisper windows are at most 30 s and padded to 30 s (the encoder takes nothing else);
  its absolute position embeddings restart in every window, so only the frame count and
  alignment (not the values) match what a longer pass would give.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from depscreen.errors import ConfigError, FeatureError

# Bump when the frames or embeddings computed from the same model and settings change.
FEATURE_VERSION = 1
SSL_MODEL_TYPES = ("wav2vec2", "wav2vec2-conformer", "hubert", "wavlm", "data2vec-audio",
                   "unispeech", "unispeech-sat", "whisper")
# Encoders whose frames are the same padded (with an attention mask) as alone, when their
# conv features are layer-normalised: the positional conv sees zeros past the end either way.
# data2vec-audio's stacked positional convs and the conformer's convolution modules spread
# padding into the last frames, so those (and group-norm encoders) batch equal lengths only.
_PADDABLE = ("wav2vec2", "hubert", "wavlm", "unispeech", "unispeech-sat")
WEIGHT_SUFFIXES = (".safetensors", ".bin")
_NORM_EPS = 1e-7  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
# Parameters a base model may lack in a checkpoint saved from another head without harm.
_OPTIONAL_WEIGHTS = ("masked_spec_embed", "pooler.", "decoder.")


def _offline() -> None:
    """Must run before transformers / huggingface_hub are imported: never download."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _hf_cache_dir() -> Path:
    """The local Hugging Face hub cache, where huggingface_hub would keep downloaded models."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def _from_hf_cache(name: str) -> Path | None:
    """The snapshot folder of model id `name` if it is in the local Hugging Face cache.

    Read from the cache's layout on disk (models--ORG--NAME/refs/main names the snapshot),
    so no hub client is imported and nothing can reach the network.
    """
    if not _REPO_ID.match(name):
        return None
    repo = _hf_cache_dir() / ("models--" + name.replace("/", "--"))
    try:
        commit = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        snapshots = sorted((repo / "snapshots").glob("*")) if (repo / "snapshots").is_dir() else []
        return snapshots[-1] if len(snapshots) == 1 else None
    folder = repo / "snapshots" / commit
    return folder if folder.is_dir() else None


def resolve_model_folder(path: str | Path, what: str = "model") -> Path:
    """`path` as an absolute folder: a local folder, or a model id in the local HF cache."""
    text = str(path)
    if not text:
        raise FeatureError(f"no {what} folder given")
    folder = Path(text).expanduser()
    if folder.is_dir():
        return folder.resolve()
    if folder.exists():
        raise FeatureError(f"the {what} must be a folder, not a file", folder)
    cached = _from_hf_cache(text)
    if cached is not None:
        return cached
    raise FeatureError(f"no such {what} folder (nor a model id in the local Hugging Face "
                       "cache; nothing is downloaded)", folder)


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise FeatureError(f"cannot read {path.name} ({e.strerror})", path) from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FeatureError(f"{path.name} is not valid JSON ({e})", path) from e
    if not isinstance(data, dict):
        raise FeatureError(f"{path.name} is not a JSON object", path)
    return data


_SHA_CACHE: dict[tuple, str] = {}


def _weight_files(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted((p for p in found if p.suffix in WEIGHT_SUFFIXES and p.is_file()),
                  key=lambda p: p.relative_to(folder).as_posix())


def weights_sha256(folder: str | Path, recursive: bool = False) -> str:
    """sha256 over the weight files (*.safetensors, *.bin) of `folder`, sorted by name.

    Each file contributes its relative name, size and bytes. Results are remembered per
    (file, size, mtime, inode), so a multi-GB model is hashed once per process.
    """
    folder = Path(folder)
    try:
        files = _weight_files(folder, recursive)
        stamps = tuple((p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns, st.st_ino)
                       for p in files for st in [p.stat()])
    except OSError as e:
        raise FeatureError(f"cannot list the model's weight files ({e.strerror})", folder) from e
    if not files:
        raise FeatureError("no weight files (*.safetensors or *.bin) in the model folder", folder)
    memo = (str(folder.resolve()), stamps)
    if memo in _SHA_CACHE:
        return _SHA_CACHE[memo]
    digest = hashlib.sha256()
    for p, (name, size, _, _) in zip(files, stamps, strict=True):
        digest.update(f"{name}\0{size}\0".encode())
        try:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 22):
                    digest.update(chunk)
        except OSError as e:
            raise FeatureError(f"cannot read weight file ({e.strerror})", p) from e
    _SHA_CACHE[memo] = digest.hexdigest()
    return _SHA_CACHE[memo]


def _files_sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.name.encode() + b"\0")
        if p.is_file():
            digest.update(p.read_bytes())
    return digest.hexdigest()


def torch_device(device: str) -> str:
    """"gpu" -> "cuda"; a ConfigError when a CUDA device is asked for but torch has none."""
    device = str(device).strip().lower() or "cpu"
    if device == "gpu":
        device = "cuda"
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested, but torch sees no CUDA GPU")
    elif device not in ("cpu", "mps"):
        raise ConfigError(f"device must be cpu, gpu or cuda[:N], got {device!r}")
    return device


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """No transformers progress bars while loading (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    was_disabled = hf_logging.is_progress_bar_enabled() is False
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if not was_disabled:
            hf_logging.enable_progress_bar()


# What transformers raises for a folder it cannot load (bad files, wrong shapes, bad config).
_LOAD_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError)


def _auto_model(folder: Path, what: str):
    """`AutoModel` from `folder`, offline, quietly; a FeatureError naming the folder when it
    cannot be loaded or its weights do not cover the model."""
    _offline()
    from transformers import AutoModel

    try:
        with quiet_loading():
            model, info = AutoModel.from_pretrained(str(folder), local_files_only=True,
                                                    output_loading_info=True)
    except _LOAD_ERRORS as e:
        raise FeatureError(f"cannot load the {what} ({_first_line(e)})", folder) from e
    _check_loading_info(info, folder, what)
    return model


def _check_loading_info(info: dict, folder: Path, what: str) -> None:
    missing = [k for k in info.get("missing_keys", ())
               if not any(s in k for s in _OPTIONAL_WEIGHTS)]
    if missing:
        raise FeatureError(f"the {what}'s weights do not match its config.json: {len(missing)} "
                           f"parameters missing (e.g. {missing[0]})", folder)


def _positive_int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value


class SSLSpeechRepresentation:
    """One hidden layer of a frozen speech encoder: (T, dim) float32 frames every 20 ms."""

    kind = "ssl"
    parallel = False  # torch models stay in this process (no forked workers)

    def __init__(self, path: str | Path, layer: int | None = None, window_seconds: float = 20.0,
                 overlap_seconds: float = 2.0, batch_size: int = 8, device: str = "cpu"):
        self._given = str(path)
        self.path = resolve_model_folder(path, "speech encoder")
        config_file = self.path / "config.json"
        if not config_file.is_file():
            raise FeatureError("no config.json: not a Hugging Face model folder", self.path)
        cfg = _read_json(config_file)
        self.model_type = str(cfg.get("model_type"))
        if self.model_type not in SSL_MODEL_TYPES:
            raise FeatureError(f"config.json has model_type {cfg.get('model_type')!r}, not a "
                               f"supported speech encoder ({', '.join(SSL_MODEL_TYPES)})",
                               config_file)
        pre_file = self.path / "preprocessor_config.json"
        if not pre_file.is_file():
            raise FeatureError("no preprocessor_config.json (save the feature extractor with the "
                               "model: feature_extractor.save_pretrained(folder))", self.path)
        pre = _read_json(pre_file)
        self._config_files = (config_file, pre_file)
        self.whisper = self.model_type == "whisper"
        try:
            self.sample_rate = int(pre.get("sampling_rate", 16000))
            if self.whisper:
                self.dim = int(cfg["d_model"])
                self.num_layers = int(cfg["encoder_layers"])
                self._hop = 2 * int(pre.get("hop_length", 160))  # mel hop x conv2 stride
                self._receptive = 1
                self._max_window = int(pre.get("n_samples", 30 * self.sample_rate))
                self._do_normalize = False
                self._masked = False
                self._reach = 0
            else:
                self.dim = int(cfg["hidden_size"])
                self.num_layers = int(cfg["num_hidden_layers"])
                self._kernels = [int(k) for k in cfg["conv_kernel"]]
                self._strides = [int(s) for s in cfg["conv_stride"]]
                self._hop = math.prod(self._strides)
                self._receptive = 1 + sum((k - 1) * math.prod(self._strides[:i])
                                          for i, k in enumerate(self._kernels))
                self._max_window = None
                self._do_normalize = bool(pre.get("do_normalize", False))
                # Frames the positional convolution sees on either side: windows overlap by at
                # least twice that, so every kept frame's layer-0 value is the one-pass value.
                pos = int(cfg.get("num_conv_pos_embeddings") or 0)
                if self.model_type == "data2vec-audio":
                    self._reach = pos * (int(cfg.get("conv_pos_kernel_size") or 0) // 2)
                else:
                    self._reach = pos // 2
                # Group norm over time mixes padding into every frame; layer norm does not.
                self._masked = (self.model_type in _PADDABLE
                                and cfg.get("feat_extract_norm") == "layer")
        except (KeyError, TypeError, ValueError) as e:
            raise FeatureError(f"config.json lacks a usable {e} for a {self.model_type} "
                               "encoder", config_file) from e
        self.hop_seconds = self._hop / self.sample_rate

        if layer is None:
            layer = self.num_layers // 2
        if not isinstance(layer, int) or isinstance(layer, bool) or not (
                -(self.num_layers + 1) <= layer <= self.num_layers):
            raise ConfigError(f"ssl layer must be an integer from 0 to {self.num_layers} (or "
                              f"negative from the end) for {self._given}, got {layer!r}")
        self.layer = layer % (self.num_layers + 1)

        try:
            self.window_seconds = float(window_seconds)
            self.overlap_seconds = float(overlap_seconds)
        except (TypeError, ValueError):
            self.window_seconds = self.overlap_seconds = math.nan
        if not (1.0 <= self.window_seconds < math.inf and 0 <= self.overlap_seconds < math.inf):
            raise ConfigError("ssl windows: need window_seconds >= 1 and overlap_seconds >= 0, "
                              f"got {window_seconds!r} and {overlap_seconds!r}")
        hop = self._hop
        self._window = int(self.window_seconds * self.sample_rate) // hop * hop
        self._overlap = max(round(self.overlap_seconds * self.sample_rate / hop),
                            2 * self._reach + 2) * hop
        if self._window - self._overlap < hop:
            raise ConfigError(f"ssl windows: window_seconds ({window_seconds!r}) must exceed the "
                              f"overlap ({self._overlap / self.sample_rate:g} s: overlap_seconds, "
                              "but at least twice the reach of the model's positional "
                              "convolution)")
        if self._max_window is not None and self._window > self._max_window:
            raise ConfigError(f"ssl windows: Whisper encodes at most "
                              f"{self._max_window / self.sample_rate:g} s at once, got "
                              f"window_seconds={window_seconds!r}")
        self.batch_size = _positive_int("ssl batch_size", batch_size)
        self.device = torch_device(device)
        self._model = None
        self._extractor = None
        self._sha: str | None = None

    # -- identity ----------------------------------------------------------------------------

    @property
    def spec(self) -> str:
        return f"ssl:{self._given}"

    @property
    def weights_sha256(self) -> str:
        if self._sha is None:
            self._sha = weights_sha256(self.path)
        return self._sha

    def config(self) -> dict:
        """Everything the frames depend on (JSON-serialisable)."""
        return {
            "kind": self.kind,
            "path": str(self.path),
            "model_type": self.model_type,
            "layer": self.layer,
            "num_layers": self.num_layers,
            "dim": self.dim,
            "sample_rate": self.sample_rate,
            "hop_seconds": self.hop_seconds,
            "window_seconds": self.window_seconds,
            "overlap_seconds": self.overlap_seconds,
            "overlap_frames": self._overlap // self._hop,  # after the model's minimum
            "do_normalize": self._do_normalize,
            "config_sha256": _files_sha256(*self._config_files),
            "weights_sha256": self.weights_sha256,
            "feature_version": FEATURE_VERSION,
        }

    def key(self) -> str:
        """16 hex chars naming the frames: the config without the folder's location (the
        weights' and configs' hashes identify the model, so a moved folder keeps its cache)."""
        payload = {k: v for k, v in self.config().items() if k != "path"}
        text = json.dumps(payload, sort_keys=True)  # carries FEATURE_VERSION
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def __repr__(self) -> str:
        return f"SSLSpeechRepresentation({self._given!r}, layer={self.layer})"

    # -- model -------------------------------------------------------------------------------

    def _load(self):
        if self._model is not None:
            return self._model
        model = _auto_model(self.path, "speech encoder")
        if self.whisper:
            from transformers import WhisperFeatureExtractor

            model = model.get_encoder()
            try:
                self._extractor = WhisperFeatureExtractor.from_pretrained(
                    str(self.path), local_files_only=True)
            except (OSError, ValueError) as e:
                raise FeatureError(f"cannot load Whisper's feature extractor "
                                   f"({_first_line(e)})", self.path) from e
        layers = model.encoder.layers if hasattr(model, "encoder") else model.layers
        if self.layer < self.num_layers:
            # hidden_states[k] is the input of block k: blocks after it are never needed.
            del layers[self.layer + 1:]
        model.requires_grad_(False)
        self._model = model.eval().to(self.device)
        return self._model

    def n_frames(self, n_samples: int) -> int:
        """Frames a forward pass over `n_samples` samples gives (at least 1)."""
        if self.whisper:
            return max(1, -(-n_samples // self._hop))
        n = max(n_samples, self._receptive)
        for k, s in zip(self._kernels, self._strides, strict=True):
            n = (n - k) // s + 1
        return n

    def _prepare(self, wave: np.ndarray) -> np.ndarray:
        x = np.asarray(wave)
        if x.ndim != 1:
            raise FeatureError(f"the speech encoder needs mono audio (a 1-D array), got shape "
                               f"{x.shape}")
        x = x.astype(np.float32, copy=False)
        if self._do_normalize and x.size:
            x64 = x.astype(np.float64)
            x = ((x64 - x64.mean()) / np.sqrt(x64.var() + _NORM_EPS)).astype(np.float32)
        if x.size < self._receptive:
            x = np.concatenate([x, np.zeros(self._receptive - x.size, np.float32)])
        return x

    def _starts(self, n: int) -> list[int]:
        """Window starts (samples, on the frame grid) for `n` samples: as few windows as
        `window_seconds` allows, all of one length (the last up to a hop shorter, ending at
        `n`), each overlapping the next by at least `overlap_seconds`."""
        if n <= self._window:
            return [0]
        hop = self._hop
        frames, win, over = -(-n // hop), self._window // hop, self._overlap // hop
        k = -(-(frames - over) // (win - over))
        length = -(-(frames + (k - 1) * over) // k)  # <= win
        return sorted({i * (frames - length) // (k - 1) * hop for i in range(k)})

    def _chunks(self, x: np.ndarray) -> tuple[list[int], list[np.ndarray]]:
        starts = self._starts(x.size)
        if len(starts) == 1:
            return starts, [x]
        length = x.size - starts[-1] + (-x.size) % self._hop  # the windows' common length
        return starts, [x[a:a + length] for a in starts]

    def _forward(self, chunks: list[np.ndarray]) -> list[np.ndarray]:
        """Layer frames of each chunk (same order), each cropped to its own length."""
        import torch

        model = self._load()
        lengths = [c.size for c in chunks]
        if self.whisper:
            feats = self._extractor(chunks, sampling_rate=self.sample_rate, return_tensors="np")
            inputs = {"input_features": torch.from_numpy(feats["input_features"])}
        else:
            batch = np.zeros((len(chunks), max(lengths)), np.float32)
            for i, c in enumerate(chunks):
                batch[i, :c.size] = c
            inputs = {"input_values": torch.from_numpy(batch)}
            if self._masked and min(lengths) < batch.shape[1]:
                mask = np.arange(batch.shape[1])[None, :] < np.array(lengths)[:, None]
                inputs["attention_mask"] = torch.from_numpy(mask.astype(np.int64))
        inputs = {k: v.to(self.device) for k, v in inputs.items()}
        with warnings.catch_warnings():  # WavLM's attention mask types, harmless
            warnings.filterwarnings("ignore", message=".*mismatched key_padding_mask")
            out = model(**inputs, output_hidden_states=True)
        hidden = out.hidden_states[self.layer].float().cpu().numpy()
        return [np.ascontiguousarray(hidden[i, :self.n_frames(n)]) for i, n in enumerate(lengths)]

    def _batches(self, lengths: list[int]) -> list[list[int]]:
        """Chunk indices per forward pass: longest first; equal lengths only if unmasked."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        if self._masked or self.whisper:
            groups = [order]
        else:
            groups, last = [], None
            for i in order:
                if lengths[i] != last:
                    groups.append([])
                    last = lengths[i]
                groups[-1].append(i)
        return [g[j:j + self.batch_size] for g in groups for j in range(0, len(g), self.batch_size)]

    def frames_many(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        """`frames` of each wave, computed in batches of `batch_size` windows."""
        import torch

        plans, chunks = [], []
        for wave in waves:
            starts, pieces = self._chunks(self._prepare(wave))
            plans.append(starts)
            chunks.extend(pieces)
        outs: list[np.ndarray | None] = [None] * len(chunks)
        with torch.inference_mode():
            for idx in self._batches([c.size for c in chunks]):
                for i, o in zip(idx, self._forward([chunks[i] for i in idx]), strict=True):
                    outs[i] = o
        result, pos = [], 0
        for starts in plans:
            result.append(self._stitch(starts, outs[pos:pos + len(starts)]))
            pos += len(starts)
        return result

    def _stitch(self, starts: list[int], outs: list[np.ndarray]) -> np.ndarray:
        if len(outs) == 1:
            return outs[0]
        pieces, lo = [], 0
        for k, (a, out) in enumerate(zip(starts, outs, strict=True)):
            first = a // self._hop
            hi = first + len(out)
            if k + 1 < len(starts):  # mid-point of this window's overlap with the next
                hi = (starts[k + 1] // self._hop + hi) // 2
            pieces.append(out[lo - first:hi - first])
            lo = hi
        return np.concatenate(pieces)

    def frames(self, wave: np.ndarray) -> np.ndarray:
        """(T, dim) float32 frames of one mono recording at `sample_rate`."""
        return self.frames_many([wave])[0]


class HFTextEncoder:
    """Sentence embeddings from a local sentence-transformers or Hugging Face encoder folder.

    A folder with modules.json runs through sentence-transformers as its author configured
    it (pooling, normalisation, its own max_seq_length); any other folder runs AutoTokenizer
    + AutoModel, mean-pools the last hidden state over the attention mask and scales each
    embedding to unit length (texts are cut at `max_length` tokens).
    """

    kind = "hf"

    def __init__(self, path: str | Path, batch_size: int = 64, device: str = "cpu",
                 max_length: int = 256):
        self._given = str(path)
        self.path = resolve_model_folder(path, "text encoder")
        self.sentence_transformers = (self.path / "modules.json").is_file()
        if not self.sentence_transformers and not (self.path / "config.json").is_file():
            raise FeatureError("no modules.json or config.json: not a sentence-transformers "
                               "or Hugging Face model folder", self.path)
        self._cfg = {} if self.sentence_transformers else _read_json(self.path / "config.json")
        if self._cfg.get("is_encoder_decoder"):
            raise FeatureError(f"config.json describes an encoder-decoder model "
                               f"({self._cfg.get('model_type')}); give an encoder", self.path)
        self.batch_size = _positive_int("text encoder batch_size", batch_size)
        self.max_length = _positive_int("text encoder max_length", max_length)
        self.device = torch_device(device)
        self._model = None
        self._tokenizer = None
        self._dim: int | None = None
        self._sha: str | None = None

    @property
    def weights_sha256(self) -> str:
        if self._sha is None:
            self._sha = weights_sha256(self.path, recursive=self.sentence_transformers)
        return self._sha

    @property
    def name(self) -> str:
        """Identifies the encoder in cache keys: folder + weights hash (+ a non-default cut)."""
        name = f"hf:{self.path}#{self.weights_sha256[:16]}"
        if not self.sentence_transformers and self.max_length != 256:
            name += f"#max_length={self.max_length}"
        return name

    @property
    def dim(self) -> int:
        if self._dim is None:
            for k in ("hidden_size", "dim", "d_model"):
                if isinstance(self._cfg.get(k), int):
                    self._dim = self._cfg[k]
                    break
            else:
                model = self._load()
                width = (getattr(model, "get_embedding_dimension", None)
                         or model.get_sentence_embedding_dimension)
                self._dim = int(width())
        return self._dim

    def __repr__(self) -> str:
        return f"HFTextEncoder({self._given!r})"

    def _load(self):
        if self._model is not None:
            return self._model
        _offline()
        try:
            if self.sentence_transformers:
                from sentence_transformers import SentenceTransformer

                with quiet_loading():
                    self._model = SentenceTransformer(str(self.path), device=self.device,
                                                      local_files_only=True)
                return self._model
            from transformers import AutoTokenizer

            with quiet_loading():
                tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        except _LOAD_ERRORS as e:
            raise FeatureError(f"cannot load the text encoder ({_first_line(e)})",
                               self.path) from e
        model = _auto_model(self.path, "text encoder")
        if tokenizer.pad_token is None:  # decoder-style tokenizers; the mask hides padding
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        if tokenizer.pad_token is None:
            raise FeatureError("the text encoder's tokenizer has no padding token", self.path)
        model.requires_grad_(False)
        self._tokenizer = tokenizer
        self._model = model.eval().to(self.device)
        return self._model

    def _max_tokens(self) -> int:
        limit = getattr(self._tokenizer, "model_max_length", None)
        if isinstance(limit, int) and 0 < limit < 1_000_000:
            return min(limit, self.max_length)
        return self.max_length

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of `texts` in order, (len(texts), dim) float32."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        if self.sentence_transformers:
            emb = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                               show_progress_bar=False)
            emb = np.asarray(emb, dtype=np.float32)
        else:
            emb = self._encode_plain(texts)
        if emb.shape != (len(texts), self.dim):
            raise FeatureError(f"text encoder returned shape {emb.shape}, expected "
                               f"({len(texts)}, {self.dim})", self.path)
        return emb

    def _encode_plain(self, texts: list[str]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dim), np.float32)
        max_tokens = self._max_tokens()
        with torch.inference_mode():
            for j in range(0, len(order), self.batch_size):
                idx = order[j:j + self.batch_size]
                enc = self._tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                      max_length=max_tokens, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items()
                       if k in ("input_ids", "attention_mask", "token_type_ids")}
                hidden = self._model(**enc).last_hidden_state.float()
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[idx] = F.normalize(pooled, p=2, dim=1).cpu().numpy()
        return out
