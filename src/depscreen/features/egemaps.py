"""openSMILE's eGeMAPSv02 low-level descriptors as a speech representation
(`--speech-features egemaps`). `opensmile` is an optional extra (its licence is not MIT)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from depscreen.errors import FeatureError
from depscreen.features.audio import LogMelConfig
from depscreen.features.representations import SpeechRepresentation, register_speech, sha_key

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
        return sha_key(self.config())

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


@register_speech("egemaps")
def _egemaps(cfg: LogMelConfig, path: str, options: dict) -> SpeechRepresentation:
    return EGeMAPSRepresentation(cfg)
