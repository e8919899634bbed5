"""Speech synthesis through eSpeak NG, called in-process via ctypes (no system package, no subprocess).

The shared library and its voice data come from the `espeakng-loader` wheel. eSpeak keeps
global state in the library (one voice, one parameter set, one callback per process) and,
worse for us, carries synthesis state from one call to the next (pitch flutter index, echo
buffer, phase...), so the same text can come out a sample longer or shorter depending on what
was spoken before. Two rules follow:

* one engine per process (`get_engine()`); parallelism is by processes, never threads;
* the library's noise generator (breathy voices) is reseeded before every phrase;
* output is a deterministic function of the *sequence* of calls since the library was loaded,
  so a caller wanting reproducible audio starts every independent unit of work (a session)
  in a fresh process — `synthetic.generate_corpus` does this with a process pool whose
  workers serve one session each.

The C API used (espeak-ng `speak_lib.h`): `espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS=2, ...)`
returns the sample rate (22050 Hz); `espeak_SetSynthCallback` receives int16 chunks;
`espeak_SetVoiceByName("en-us+m3")` picks a language and a voice variant;
`espeak_SetParameter` sets rate (words/min), volume (0-200), pitch (0-100) and pitch range
(0-100, 0 = monotone), word gap (units of 10 ms).
"""

from __future__ import annotations

import ctypes
import os
import threading

import numpy as np

from depscreen.audio import TARGET_SR, resample
from depscreen.errors import DepscreenError

# espeak_AUDIO_OUTPUT: PLAYBACK=0, RETRIEVAL=1, SYNCHRONOUS=2, SYNCH_PLAYBACK=3
AUDIO_OUTPUT_SYNCHRONOUS = 2
# espeak_POSITION_TYPE: POS_CHARACTER=1
POS_CHARACTER = 1
ESPEAK_CHARS_UTF8 = 1
# espeak_PARAMETER
ESPEAK_RATE, ESPEAK_VOLUME, ESPEAK_PITCH, ESPEAK_RANGE, ESPEAK_WORDGAP = 1, 2, 3, 4, 7
EE_OK = 0

_SYNTH_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class TTSError(DepscreenError):
    """eSpeak NG cannot be loaded or refuses a request."""


class ESpeak:
    """A ctypes binding to libespeak-ng in synchronous retrieval mode.

    Create it through `get_engine()`: the library holds one global state per process.
    """

    def __init__(self) -> None:
        try:
            import espeakng_loader

            lib_path = espeakng_loader.get_library_path()
            data_path = espeakng_loader.get_data_path()
            lib = ctypes.CDLL(lib_path)
        except (ImportError, OSError, RuntimeError) as e:
            raise TTSError(
                f"eSpeak NG is unavailable ({e}); reinstall the 'espeakng-loader' package"
            ) from e
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetSynthCallback.argtypes = [_SYNTH_CALLBACK]
        lib.espeak_SetSynthCallback.restype = None
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_SetParameter.restype = ctypes.c_int
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]
        lib.espeak_Synth.restype = ctypes.c_int
        # Breathy voices (f2, f3, f5, ...) add noise from eSpeak's own generator, whose state
        # differs between processes; reseeding before every phrase makes it reproducible.
        self._set_seed = getattr(lib, "espeak_ng_SetRandSeed", None)
        if self._set_seed is not None:
            self._set_seed.argtypes = [ctypes.c_long]
            self._set_seed.restype = None
        # buflength 0 = default 60 ms chunks; path = the espeak-ng-data folder itself.
        rate = lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path.encode(), 0)
        if rate <= 0:
            raise TTSError(f"espeak_Initialize failed (data folder {data_path})")
        self.lib = lib
        self.native_rate = int(rate)
        self.pid = os.getpid()
        self._chunks: list[np.ndarray] = []
        # Keep a reference: ctypes frees the trampoline when the Python object dies.
        self._callback = _SYNTH_CALLBACK(self._collect)
        lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, n: int, _events) -> int:
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0  # 0 = continue

    def synthesize_native(
        self,
        text: str,
        voice: str = "en-us",
        rate: int = 175,
        pitch: int = 50,
        pitch_range: int = 50,
        volume: int = 100,
        word_gap: int = 0,
    ) -> np.ndarray:
        """Speak `text` and return int16 samples at `self.native_rate` (22050 Hz)."""
        if self.lib.espeak_SetVoiceByName(voice.encode()) != EE_OK:
            raise TTSError(f"eSpeak NG has no voice {voice!r}")
        # Setting every parameter on every call keeps a call independent of the previous ones.
        for param, value in (
            (ESPEAK_RATE, rate),
            (ESPEAK_VOLUME, volume),
            (ESPEAK_PITCH, pitch),
            (ESPEAK_RANGE, pitch_range),
            (ESPEAK_WORDGAP, word_gap),
        ):
            self.lib.espeak_SetParameter(param, int(value), 0)
        if self._set_seed is not None:
            self._set_seed(1)
        data = text.encode("utf-8")
        self._chunks = []
        err = self.lib.espeak_Synth(
            data, len(data) + 1, 0, POS_CHARACTER, 0, ESPEAK_CHARS_UTF8, None, None
        )
        if err != EE_OK:
            raise TTSError(f"espeak_Synth failed with code {err} for {text[:40]!r}")
        if not self._chunks:
            return np.zeros(0, dtype=np.int16)
        return np.concatenate(self._chunks).astype(np.int16, copy=False)

    def synthesize(
        self,
        text: str,
        voice: str = "en-us",
        rate: int = 175,
        pitch: int = 50,
        pitch_range: int = 50,
        volume: int = 100,
        word_gap: int = 0,
        sr: int = TARGET_SR,
    ) -> np.ndarray:
        """Speak `text`; float32 mono in [-1, 1] at `sr` (16 kHz by default).

        `rate` is words per minute (80-450), `pitch` and `pitch_range` 0-100 (50 = the voice's
        normal; range 0 = monotone), `volume` 0-200 (100 = normal), `word_gap` in 10 ms units.
        """
        native = self.synthesize_native(text, voice, rate, pitch, pitch_range, volume, word_gap)
        x = native.astype(np.float32) / 32768.0
        return resample(x, self.native_rate, sr) if x.size else x


_ENGINE: ESpeak | None = None
_ENGINE_LOCK = threading.Lock()


def get_engine() -> ESpeak:
    """The process's eSpeak engine, created on first use (and again after a fork)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None or _ENGINE.pid != os.getpid():
            _ENGINE = ESpeak()
        return _ENGINE
