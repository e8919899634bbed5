"""The registry of representations: what a speech window or an utterance's text becomes.

Speech (`--speech-features`), each turning a window of mono audio into frames (T, dim):

    logmel     the paper's log-Mel spectrogram (`features/audio.py`), the default
    egemaps    openSMILE's eGeMAPSv02 low-level descriptors (25 per 10 ms frame)
    ssl:PATH   a frozen self-supervised encoder's hidden layer (`features/pretrained.py`)

Text (`--text-features`):

    tokens     word ids from the training vocabulary (learned embeddings), the default
    minilm     the bundled all-MiniLM-L6-v2 sentence embedding of each utterance
    hf:PATH    any local sentence-transformers / Hugging Face encoder, mean-pooled

Every speech representation answers the same questions (`kind`, `dim`, `config()`, `key()`,
`frames_many()`, `parallel`), so the feature cache, the sample builder and `predict` never
ask which one they hold; adding a fourth is one class here plus one line in `_SPEECH`.
A run folder records `speech_spec(...)` / the text spec; `speech_representation` rebuilds
the same representation from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from depscreen.errors import ConfigError, FeatureError
from depscreen.features.audio import LogMelConfig, logmel

SPEECH_FEATURES = ("logmel", "egemaps", "ssl:PATH")
TEXT_FEATURES = ("tokens", "minilm", "hf:PATH")
# How frames are standardised before a model sees them (see features/dataset.py):
# session: per session (the paper set-up); speaker: pooled over a speaker's sessions;
# none: raw values (models that standardise themselves, e.g. the classical baselines).
FEATURE_NORMS = ("session", "speaker", "none")


def _sha(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:16]


class SpeechRepresentation(Protocol):
    """What the cache, the sample builder and `predict` need from a speech representation."""

    kind: str  # the first part of the cache folder name
    dim: int  # features per frame
    parallel: bool  # may be computed in forked worker processes (else in this process)

    def config(self) -> dict: ...

    def key(self) -> str: ...

    def frames_many(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]: ...


class TextEncoder(Protocol):
    """What the embedding cache needs from a sentence encoder (`SentenceEncoder`, `HFTextEncoder`)."""

    name: str  # identifies the encoder (and its weights) in cache keys
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class LogMelRepresentation:
    """The paper's log-Mel frames; its cache key is the LogMelConfig's (unchanged layout)."""

    kind = "logmel"
    parallel = True

    def __init__(self, cfg: LogMelConfig):
        self.cfg = cfg
        self.dim = cfg.n_mels

    def config(self) -> dict:
        return {"kind": self.kind}

    def key(self) -> str:
        return self.cfg.key()

    def frames_many(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [logmel(w, self.cfg) for w in waves]


# openSMILE's eGeMAPSv02 LLDs: 25 descriptors every 10 ms (F0, jitter, shimmer, loudness,
# formants, spectral slopes, MFCC 1-4 ...). Bump when the stored meaning changes.
EGEMAPS_VERSION = 1
EGEMAPS_DIM = 25


class EGeMAPSRepresentation:
    """openSMILE eGeMAPSv02 low-level descriptors, (T, 25) float32 at a 10 ms hop.

    The `opensmile` wheel bundles SMILExtract; the Smile object is made lazily, once per
    process, so forked cache workers each build their own.
    """

    kind = "egemaps"
    parallel = True
    dim = EGEMAPS_DIM

    def __init__(self, cfg: LogMelConfig):
        self.sample_rate = cfg.sample_rate
        self._smile = None

    def __getstate__(self) -> dict:  # cache workers build their own Smile
        return {**self.__dict__, "_smile": None}

    def config(self) -> dict:
        return {"kind": self.kind, "feature_set": "eGeMAPSv02", "level": "lld",
                "opensmile": _opensmile_version(), "version": EGEMAPS_VERSION,
                "sample_rate": self.sample_rate}

    def key(self) -> str:
        return _sha(self.config())

    def smile(self):
        if self._smile is None:
            try:
                import opensmile
            except ImportError as e:  # an optional extra (its licence is not MIT)
                raise FeatureError("--speech-features egemaps needs the opensmile package: "
                                   "pip install 'depscreen[egemaps]'") from e
            self._smile = opensmile.Smile(
                feature_set=opensmile.FeatureSet.eGeMAPSv02,
                feature_level=opensmile.FeatureLevel.LowLevelDescriptors,
            )
        return self._smile

    def frames(self, wave: np.ndarray) -> np.ndarray:
        smile = self.smile()
        x = np.ascontiguousarray(wave, dtype=np.float32)
        if x.size < self.sample_rate // 10:  # openSMILE gives no frame below its 60 ms window
            x = np.pad(x, (0, self.sample_rate // 10 - x.size))
        out = smile.process_signal(x, self.sample_rate).to_numpy(dtype=np.float32)
        if out.ndim != 2 or out.shape[1] != self.dim:
            raise FeatureError(f"openSMILE returned shape {out.shape}, expected (T, {self.dim})")
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)

    def frames_many(self, waves: Sequence[np.ndarray]) -> list[np.ndarray]:
        return [self.frames(w) for w in waves]


def _opensmile_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("opensmile")
    except PackageNotFoundError:
        return "missing"


def _ssl(cfg: LogMelConfig, arg: str, options: dict) -> SpeechRepresentation:
    from depscreen.features.ssl_speech import SSLSpeechRepresentation

    rep = SSLSpeechRepresentation(arg, layer=options.get("ssl_layer"),
                                  device=options.get("device", "cpu"))
    if rep.sample_rate != cfg.sample_rate:
        raise ConfigError(f"the encoder at {arg} expects {rep.sample_rate} Hz audio; the audio "
                          f"config decodes at {cfg.sample_rate} Hz")
    return rep


# name -> builder(audio config, argument after "name:", options); one line per representation.
_SPEECH: dict[str, Callable[[LogMelConfig, str, dict], SpeechRepresentation]] = {
    "logmel": lambda cfg, arg, opts: LogMelRepresentation(cfg),
    "egemaps": lambda cfg, arg, opts: EGeMAPSRepresentation(cfg),
    "ssl": _ssl,
}
_TEXT = ("tokens", "minilm", "hf")
_NEEDS_ARG = {"ssl", "hf"}  # the rest take no argument


def split_spec(spec: str, known: dict | tuple, flag: str) -> tuple[str, str]:
    """"ssl:/models/wavlm" -> ("ssl", "/models/wavlm"); a ConfigError for an unknown name."""
    name, _, arg = str(spec).partition(":")
    if name not in known:
        choices = ", ".join(SPEECH_FEATURES if flag == "--speech-features" else TEXT_FEATURES)
        raise ConfigError(f"{flag} {spec!r} is unknown; choose one of {choices}")
    if name in _NEEDS_ARG and not arg:
        raise ConfigError(f"{flag} {name} needs a folder: {name}:PATH")
    if name not in _NEEDS_ARG and arg:
        raise ConfigError(f"{flag} {name} takes no argument, got {spec!r}")
    return name, arg


def check_speech_spec(spec: str) -> None:
    split_spec(spec, _SPEECH, "--speech-features")


def check_text_spec(spec: str) -> None:
    split_spec(spec, _TEXT, "--text-features")


def speech_representation(spec: str, cfg: LogMelConfig, **options: Any) -> SpeechRepresentation:
    """The representation named by `spec` ("logmel", "egemaps", "ssl:PATH")."""
    name, arg = split_spec(spec, _SPEECH, "--speech-features")
    return _SPEECH[name](cfg, arg, options)


def cache_folder_name(rep: SpeechRepresentation, cfg: LogMelConfig) -> str:
    """`<kind>-<key>`: the key covers the representation and how utterances are windowed.

    log-Mel keeps its historical name (`logmel-<LogMelConfig.key()>`, which already covers
    the windowing), so existing caches stay valid.
    """
    if isinstance(rep, LogMelRepresentation):
        return f"logmel-{cfg.key()}"
    windowing = {k: getattr(cfg, k) for k in ("sample_rate", "max_seconds", "min_seconds")}
    return f"{rep.kind}-{_sha([rep.key(), windowing])}"


def text_input_for(text_features: str) -> str:
    """What the text models read: token ids, or one embedding per utterance."""
    return "tokens" if text_features == "tokens" else "embedding"


def text_encoder(text_features: str, batch_size: int = 64, device: str = "cpu"):
    """The sentence encoder for `text_features` (None for "tokens")."""
    name, arg = split_spec(text_features, _TEXT, "--text-features")
    if name == "tokens":
        return None
    if name == "minilm":
        from depscreen.features.text import SentenceEncoder

        return SentenceEncoder(batch_size=batch_size, device=device)
    from depscreen.features.hf_text import HFTextEncoder

    return HFTextEncoder(arg, batch_size=batch_size, device=device)


@dataclass(frozen=True)
class FeatureChoice:
    """Which representations a run reads; stored in its config and bundle, read by `predict`.

    Missing keys (run folders and bundles made before representations existed) mean the
    paper's set-up: log-Mel, tokens, per-session normalisation.
    """

    speech: str = "logmel"
    text: str = "tokens"
    norm: str = "session"
    ssl_layer: int | None = None

    def __post_init__(self) -> None:
        check_speech_spec(self.speech)
        check_text_spec(self.text)
        if self.norm not in FEATURE_NORMS:
            raise ConfigError(f"feature normalisation {self.norm!r} is not one of "
                              f"{', '.join(FEATURE_NORMS)}")

    @classmethod
    def from_dict(cls, d: dict | None) -> FeatureChoice:
        d = d or {}
        return cls(**{k: d[k] for k in ("speech", "text", "norm", "ssl_layer") if k in d})

    @classmethod
    def recorded(cls, features: dict, text_input: str = "tokens") -> FeatureChoice:
        """What a run's or bundle's feature config records. One made before representations
        existed has none: log-Mel and tokens, or MiniLM when its text input was "embedding"."""
        rec = features.get("representations")
        if rec is None:
            rec = {"text": "minilm" if text_input == "embedding" else "tokens"}
        if not isinstance(rec, dict):
            raise ConfigError("the recorded representations are not a JSON object")
        return cls.from_dict(rec)

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def text_input(self) -> str:
        return text_input_for(self.text)

    def speech_rep(self, audio_cfg: LogMelConfig, device: str = "cpu") -> SpeechRepresentation:
        return speech_representation(self.speech, audio_cfg, ssl_layer=self.ssl_layer,
                                     device=device)

    def text_encoder(self, batch_size: int = 64, device: str = "cpu"):
        return text_encoder(self.text, batch_size=batch_size, device=device)

    def inputs(self, audio_cfg: LogMelConfig, modalities: frozenset[str] | set[str],
               encoder_batch_size: int = 64, device: str = "cpu"
               ) -> tuple[TextEncoder | None, SpeechRepresentation | None]:
        """The sentence encoder and speech representation that samples of `modalities` read
        (None for one they do not read: token ids need no encoder, text needs no frames).
        Building them reads configs only; weights load on first use."""
        encoder = (self.text_encoder(encoder_batch_size, device)
                   if "text" in modalities and self.text_input == "embedding" else None)
        rep = self.speech_rep(audio_cfg, device) if "speech" in modalities else None
        return encoder, rep
