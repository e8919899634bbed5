"""One hidden layer of a frozen speech encoder, loaded from a local folder only.

`SSLSpeechRepresentation` turns mono audio into one hidden layer of a self-supervised speech
encoder (wav2vec 2.0, HuBERT, WavLM, data2vec-audio, UniSpeech(-SAT), wav2vec2-conformer)
or of Whisper's encoder: (T, dim) float32 frames, one per 20 ms. Folders, the offline
switch and weight loading are shared with the text encoder (`features/pretrained.py`).

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

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from depscreen.errors import ConfigError, FeatureError
from depscreen.features.audio import LogMelConfig
from depscreen.features.pretrained import (
    auto_model,
    files_sha256,
    first_line,
    positive_int,
    read_json,
    resolve_model_folder,
    torch_device,
    weights_sha256,
)
from depscreen.features.representations import register_speech

# Bump when the frames computed from the same model and settings change.
FEATURE_VERSION = 1
SSL_MODEL_TYPES = ("wav2vec2", "wav2vec2-conformer", "hubert", "wavlm", "data2vec-audio",
                   "unispeech", "unispeech-sat", "whisper")
# Encoders whose frames are the same padded (with an attention mask) as alone, when their
# conv features are layer-normalised: the positional conv sees zeros past the end either way.
# data2vec-audio's stacked positional convs and the conformer's convolution modules spread
# padding into the last frames, so those (and group-norm encoders) batch equal lengths only.
_PADDABLE = ("wav2vec2", "hubert", "wavlm", "unispeech", "unispeech-sat")
_NORM_EPS = 1e-7  # Wav2Vec2FeatureExtractor.zero_mean_unit_var_norm


class SSLSpeechRepresentation:
    """One hidden layer of a frozen speech encoder: (T, dim) float32 frames every 20 ms."""

    kind = "ssl"
    parallel = False  # torch models stay in this process (no forked workers)

    def __init__(self, path: str | Path, layer: int | None = None, window_seconds: float = 20.0,
                 overlap_seconds: float = 2.0, batch_size: int = 8, device: str = "cpu"):
        self._given = str(path)
        self.path = resolve_model_folder(path, "speech encoder")
        cfg, pre = self._read_configs()
        self._read_geometry(cfg, pre)
        self.hop_seconds = self._hop / self.sample_rate
        self.layer = self._choose_layer(layer)
        self._set_windows(window_seconds, overlap_seconds)
        self.batch_size = positive_int("ssl batch_size", batch_size)
        self.device = torch_device(device)
        self._model = None
        self._extractor = None
        self._sha: str | None = None

    def _read_configs(self) -> tuple[dict, dict]:
        """config.json and preprocessor_config.json of the folder, checked for a speech model."""
        config_file = self.path / "config.json"
        if not config_file.is_file():
            raise FeatureError("no config.json: not a Hugging Face model folder", self.path)
        cfg = read_json(config_file)
        self.model_type = str(cfg.get("model_type"))
        if self.model_type not in SSL_MODEL_TYPES:
            raise FeatureError(f"config.json has model_type {cfg.get('model_type')!r}, not a "
                               f"supported speech encoder ({', '.join(SSL_MODEL_TYPES)})",
                               config_file)
        pre_file = self.path / "preprocessor_config.json"
        if not pre_file.is_file():
            raise FeatureError("no preprocessor_config.json (save the feature extractor with the "
                               "model: feature_extractor.save_pretrained(folder))", self.path)
        pre = read_json(pre_file)
        self._config_files = (config_file, pre_file)
        self.whisper = self.model_type == "whisper"
        return cfg, pre

    def _read_geometry(self, cfg: dict, pre: dict) -> None:
        """Width, depth, frame hop and input handling, from the configs."""
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
                               "encoder", self._config_files[0]) from e

    def _choose_layer(self, layer: int | None) -> int:
        """`layer` as an index from 0 to num_layers (None: the middle layer)."""
        if layer is None:
            layer = self.num_layers // 2
        if not isinstance(layer, int) or isinstance(layer, bool) or not (
                -(self.num_layers + 1) <= layer <= self.num_layers):
            raise ConfigError(f"ssl layer must be an integer from 0 to {self.num_layers} (or "
                              f"negative from the end) for {self._given}, got {layer!r}")
        return layer % (self.num_layers + 1)

    def _set_windows(self, window_seconds: float, overlap_seconds: float) -> None:
        """Window and overlap lengths in samples, on the frame grid."""
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
            "config_sha256": files_sha256(*self._config_files),
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
        model = auto_model(self.path, "speech encoder")
        if self.whisper:
            from transformers import WhisperFeatureExtractor

            model = model.get_encoder()
            try:
                self._extractor = WhisperFeatureExtractor.from_pretrained(
                    str(self.path), local_files_only=True)
            except (OSError, ValueError) as e:
                raise FeatureError(f"cannot load Whisper's feature extractor "
                                   f"({first_line(e)})", self.path) from e
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


@register_speech("ssl", takes_path=True)
def _ssl(cfg: LogMelConfig, arg: str, options: dict) -> SSLSpeechRepresentation:
    rep = SSLSpeechRepresentation(arg, layer=options.get("ssl_layer"),
                                  device=options.get("device", "cpu"))
    if rep.sample_rate != cfg.sample_rate:
        raise ConfigError(f"the encoder at {arg} expects {rep.sample_rate} Hz audio; the audio "
                          f"config decodes at {cfg.sample_rate} Hz")
    return rep
