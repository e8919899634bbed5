"""Reading audio: plain files or WAVs read in place from a zip archive.

An audio *reference* is a string: a file path, or `archive.zip::member/path.wav` for a member
of a zip file (DAIC-WOZ is distributed as `{ID}_P.zip`; we never unzip it to disk).
Everything returned is float32 mono at the requested rate; other rates and stereo are
converted and the conversion is reported, so the caller can note it.
"""

from __future__ import annotations

import contextlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np
import soundfile as sf

from depscreen.errors import AudioError
from depscreen.utils.limits import check_member, check_regular

ZIP_SEP = "::"
TARGET_SR = 16000
# Refuse absurdly large files up front instead of running out of memory (configurable).
DEFAULT_MAX_BYTES = 4 * 1024**3
# The shortest speech window the features use (LogMelConfig.min_seconds): shorter audio
# gives no speech sample at all.
MIN_SECONDS = 1.0
# Below this peak level (-80 dBFS) a recording is treated as silent.
SILENCE_PEAK = 1e-4
# Float samples are nominally within +-1 (some tools write +-32768); far above that the
# spectrum overflows float32 (1e30 -> inf), so such a file is refused by name.
MAX_SAMPLE = 1e6


def zip_ref(archive: str | Path, member: str) -> str:
    return f"{archive}{ZIP_SEP}{member}"


def split_ref(ref: str) -> tuple[Path, str | None]:
    """`a.zip::m.wav` -> (Path('a.zip'), 'm.wav'); a plain path -> (Path, None)."""
    if ZIP_SEP in ref:
        archive, member = ref.split(ZIP_SEP, 1)
        return Path(archive), member
    return Path(ref), None


@contextlib.contextmanager
def _ref_errors(ref: str) -> Iterator[None]:
    """Missing files, zip members and broken zips as AudioError naming the file."""
    path, member = split_ref(ref)
    try:
        yield
    except FileNotFoundError as e:
        raise AudioError("file not found", ref) from e
    except KeyError as e:
        raise AudioError(f"no member {member!r} in the zip archive", path) from e
    except zipfile.BadZipFile as e:
        raise AudioError("not a valid zip archive", path) from e
    except (RuntimeError, NotImplementedError) as e:  # encrypted; unknown compression method
        raise AudioError(f"cannot read the zip member ({e})", ref) from e


@contextlib.contextmanager
def open_ref(ref: str) -> Iterator[IO[bytes]]:
    """Open an audio reference as a seekable binary file object."""
    path, member = split_ref(ref)
    with _ref_errors(ref):
        if member is None:
            with open(path, "rb") as f:
                yield f
        else:
            with zipfile.ZipFile(path) as z, z.open(member) as f:
                yield f


def ref_size(ref: str) -> int:
    path, member = split_ref(ref)
    with _ref_errors(ref):
        if member is None:
            return path.stat().st_size
        with zipfile.ZipFile(path) as z:
            return z.getinfo(member).file_size


# Sample rates a recording may declare: telephone speech to studio masters.
MIN_RATE, MAX_RATE = 8_000, 192_000


@dataclass(frozen=True)
class AudioInfo:
    samplerate: int
    channels: int
    frames: int
    subtype: str = ""  # libsndfile's sample format, e.g. "PCM_16"

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate if self.samplerate else 0.0


def audio_info(ref: str, max_bytes: int = DEFAULT_MAX_BYTES) -> AudioInfo:
    """Header information without decoding the samples. Raises AudioError for unusable files:
    not a regular file (a FIFO would block), or a zip member that is encrypted or a zip bomb."""
    _check_source(ref, max_bytes)
    size = ref_size(ref)
    if size == 0:
        raise AudioError("empty file (0 bytes)", ref)
    if size > max_bytes:
        raise AudioError(
            f"file is {size / 1024**2:.0f} MiB, above the limit of {max_bytes / 1024**2:.0f} MiB "
            "(raise --max-audio-mb to allow it)",
            ref,
        )
    with open_ref(ref) as f:
        try:
            info = sf.info(f)
        except (sf.LibsndfileError, RuntimeError) as e:
            raise AudioError(f"not a readable audio file ({_short(e)})", ref) from e
    if info.frames <= 0:
        raise AudioError("audio has no samples", ref)
    if not MIN_RATE <= info.samplerate <= MAX_RATE:
        # A forged header (1 Hz) would make a few KB decode into hours of resampled audio.
        raise AudioError(f"sample rate {info.samplerate} Hz is outside {MIN_RATE // 1000}-"
                         f"{MAX_RATE // 1000} kHz; not a recording depscreen can use", ref)
    seconds = info.frames / info.samplerate
    if seconds * TARGET_SR * 4 > 4 * max_bytes:  # float32 at the model's rate
        raise AudioError(f"audio lasts {seconds / 3600:.1f} h, more than the size limit of "
                         f"{max_bytes / 1024**2:.0f} MiB allows (raise --max-audio-mb)", ref)
    return AudioInfo(int(info.samplerate), int(info.channels), int(info.frames),
                     str(info.subtype or ""))


def _check_source(ref: str, max_bytes: int) -> None:
    path, member = split_ref(ref)
    if member is None:
        check_regular(path, AudioError)
        return
    with _ref_errors(ref), zipfile.ZipFile(path) as z:
        check_member(z.getinfo(member), max_bytes, "the audio", AudioError, ref)


def _short(e: Exception) -> str:
    """libsndfile's reason without its file-object repr ("Error opening <...>: reason")."""
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    if text.startswith("Error opening") and ">: " in text:
        text = text.split(">: ", 1)[1]
    return text.rstrip(".")[:120]


def load_audio(
    ref: str,
    sr: int = TARGET_SR,
    start: float | None = None,
    end: float | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> tuple[np.ndarray, list[str]]:
    """Decode `ref` (optionally only [start, end) seconds) to float32 mono at `sr`.

    Returns the samples and a list of notes about conversions made (rate, channels).
    """
    info = audio_info(ref, max_bytes=max_bytes)
    notes: list[str] = []
    first = 0 if start is None else max(0, int(round(start * info.samplerate)))
    last = info.frames if end is None else min(info.frames, int(round(end * info.samplerate)))
    if last <= first:
        return np.zeros(0, dtype=np.float32), notes
    # 16-bit PCM (DAIC-WOZ, E-DAIC, the synthetic corpus) is read as int16 and scaled here:
    # libsndfile's own float conversion is the same x / 32768 (exact: a power of two) but ~3x
    # slower, and integers need no NaN check (a 16-min interview: 42 ms -> 19 ms).
    pcm16 = info.subtype == "PCM_16"
    with open_ref(ref) as f:
        try:
            data, file_sr = sf.read(f, start=first, stop=last,
                                    dtype="int16" if pcm16 else "float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as e:
            raise AudioError(f"cannot decode audio ({_short(e)})", ref) from e
    if pcm16:
        data = np.multiply(data, np.float32(1.0 / 32768.0), dtype=np.float32)
    else:
        _check_samples(data, ref)
    if data.shape[1] > 1:
        notes.append(f"{info.channels} channels mixed down to mono")
        data = data.mean(axis=1, dtype=np.float32)
    else:
        data = data[:, 0]
    if file_sr != sr:
        notes.append(f"resampled from {file_sr} Hz to {sr} Hz")
        data = resample(data, file_sr, sr)
    return np.ascontiguousarray(data, dtype=np.float32), notes


def _check_samples(data: np.ndarray, ref: str) -> None:
    """AudioError naming `ref` for NaN/infinite samples or samples far out of range, checked
    before mixing and resampling (which would turn 1e30 into infinity)."""
    if not np.all(np.isfinite(data)):
        raise AudioError("audio contains non-finite samples (NaN or infinity)", ref)
    peak = float(np.max(np.abs(data))) if data.size else 0.0
    if peak > MAX_SAMPLE:
        raise AudioError(f"audio samples out of range (peak {peak:.3g}; expected about +-1)",
                         ref)


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Band-limited resampling (soxr, via librosa's dependency), deterministic."""
    if orig_sr == target_sr:
        return x
    import soxr

    return soxr.resample(x, orig_sr, target_sr, quality="HQ").astype(np.float32)
