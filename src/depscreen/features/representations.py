"""The registry of representations: what a speech window or an utterance's text becomes.

Speech (`--speech-features`), each turning a window of mono audio into frames (T, dim):

    logmel     the paper's log-Mel spectrogram (`features/audio.py`), the default; here
    egemaps    openSMILE's eGeMAPSv02 low-level descriptors (`features/egemaps.py`)
    ssl:PATH   a frozen self-supervised encoder's hidden layer (`features/ssl_speech.py`)

Text (`--text-features`):

    tokens     word ids from the training vocabulary (learned embeddings), the default; here
    minilm     the bundled all-MiniLM-L6-v2 sentence embedding (`features/text.py`)
    hf:PATH    any local sentence-transformers / Hugging Face encoder (`features/hf_text.py`)

Every speech representation answers the same questions (`kind`, `dim`, `config()`, `key()`,
`frames_many()`, `parallel`), so the feature cache, the sample builder and `predict` never
ask which one they hold. Adding one is a new module with a builder decorated
`@register_speech("name")` (or `@register_text`), plus its import in `features/__init__.py`
(README, "Design"). A run folder records the spec (`FeatureChoice`); `speech_representation`
rebuilds the same representation from it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from depscreen.errors import ConfigError
from depscreen.features.audio import LogMelConfig, logmel

# How frames are standardised before a model sees them (see features/dataset.py):
# session: per session (the paper set-up); speaker: pooled over a speaker's sessions;
# none: raw values (models that standardise themselves, e.g. the classical baselines).
FEATURE_NORMS = ("session", "speaker", "none")


def sha_key(payload: object) -> str:
    """A short stable hash of a JSON-able payload (cache keys)."""
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


@dataclass(frozen=True)
class _Entry:
    builder: Callable[..., Any]
    takes_path: bool  # spelled "name:PATH"


# name -> entry, in registration order (the order `--help` lists them in).
_SPEECH: dict[str, _Entry] = {}
_TEXT: dict[str, _Entry] = {}


def _register(table: dict[str, _Entry], name: str, takes_path: bool) -> Callable:
    def decorate(builder: Callable) -> Callable:
        if name in table and table[name].builder is not builder:
            raise ValueError(f"representation '{name}' is already registered")
        table[name] = _Entry(builder, takes_path)
        return builder

    return decorate


def register_speech(name: str, takes_path: bool = False) -> Callable:
    """Registers `builder(audio_cfg: LogMelConfig, path: str, options: dict) ->
    SpeechRepresentation` as `--speech-features name` (or `name:PATH` with `takes_path`).
    `options` may hold `ssl_layer` and `device`."""
    return _register(_SPEECH, name, takes_path)


def register_text(name: str, takes_path: bool = False) -> Callable:
    """Registers `builder(path: str, batch_size: int, device: str) -> TextEncoder | None` as
    `--text-features name` (None: token ids, no encoder)."""
    return _register(_TEXT, name, takes_path)


def _names(table: dict[str, _Entry]) -> tuple[str, ...]:
    return tuple(f"{n}:PATH" if e.takes_path else n for n, e in table.items())


def speech_feature_names() -> tuple[str, ...]:
    """("logmel", "egemaps", "ssl:PATH", ...): what `--speech-features` accepts."""
    return _names(_SPEECH)


def text_feature_names() -> tuple[str, ...]:
    return _names(_TEXT)


@register_speech("logmel")
def _logmel(cfg: LogMelConfig, path: str, options: dict) -> SpeechRepresentation:
    return LogMelRepresentation(cfg)


@register_text("tokens")
def _tokens(path: str, batch_size: int, device: str) -> None:
    return None


def split_spec(spec: str, known: dict[str, _Entry], flag: str) -> tuple[str, str]:
    """"ssl:/models/wavlm" -> ("ssl", "/models/wavlm"); a ConfigError for an unknown name."""
    name, _, arg = str(spec).partition(":")
    if name not in known:
        raise ConfigError(f"{flag} {spec!r} is unknown; choose one of "
                          f"{', '.join(_names(known))}")
    if known[name].takes_path and not arg:
        raise ConfigError(f"{flag} {name} needs a folder: {name}:PATH")
    if not known[name].takes_path and arg:
        raise ConfigError(f"{flag} {name} takes no argument, got {spec!r}")
    return name, arg


def check_speech_spec(spec: str) -> None:
    split_spec(spec, _SPEECH, "--speech-features")


def check_text_spec(spec: str) -> None:
    split_spec(spec, _TEXT, "--text-features")


def speech_representation(spec: str, cfg: LogMelConfig, **options: Any) -> SpeechRepresentation:
    """The representation named by `spec` ("logmel", "egemaps", "ssl:PATH")."""
    name, arg = split_spec(spec, _SPEECH, "--speech-features")
    return _SPEECH[name].builder(cfg, arg, options)


def cache_folder_name(rep: SpeechRepresentation, cfg: LogMelConfig) -> str:
    """`<kind>-<key>`: the key covers the representation and how utterances are windowed.

    log-Mel keeps its historical name (`logmel-<LogMelConfig.key()>`, which already covers
    the windowing), so existing caches stay valid.
    """
    if isinstance(rep, LogMelRepresentation):
        return f"logmel-{cfg.key()}"
    windowing = {k: getattr(cfg, k) for k in ("sample_rate", "max_seconds", "min_seconds")}
    return f"{rep.kind}-{sha_key([rep.key(), windowing])}"


def text_input_for(text_features: str) -> str:
    """What the text models read: token ids, or one embedding per utterance."""
    return "tokens" if text_features == "tokens" else "embedding"


def text_encoder(text_features: str, batch_size: int = 64, device: str = "cpu"):
    """The sentence encoder for `text_features` (None for "tokens")."""
    name, arg = split_spec(text_features, _TEXT, "--text-features")
    return _TEXT[name].builder(arg, batch_size, device)


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
