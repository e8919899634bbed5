"""`load_audio` decodes 16-bit PCM itself (int16 read, scaled by 1/32768): bit for bit what
libsndfile's float conversion gives, for every sample value, stereo, slices, zips, resampling."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from depscreen.audio import audio_info, load_audio, resample, zip_ref


def _libsndfile(path: Path, sr: int = 16000, start=None, end=None) -> np.ndarray:
    """The previous route: libsndfile's float32 conversion, mono mix-down, resampling."""
    info = sf.info(str(path))
    first = 0 if start is None else int(round(start * info.samplerate))
    last = info.frames if end is None else int(round(end * info.samplerate))
    data, file_sr = sf.read(str(path), start=first, stop=last, dtype="float32", always_2d=True)
    y = data.mean(axis=1, dtype=np.float32) if data.shape[1] > 1 else data[:, 0]
    return resample(y, file_sr, sr) if file_sr != sr else y


@pytest.mark.parametrize("channels", [1, 2])
def test_every_int16_value_exact(tmp_path: Path, channels: int) -> None:
    values = np.arange(-32768, 32768, dtype=np.int16)
    data = np.stack([values, values[::-1]], axis=1)[:, :channels]
    path = tmp_path / "all.wav"
    sf.write(path, data, 16000, subtype="PCM_16")
    assert audio_info(str(path)).subtype == "PCM_16"
    ours, notes = load_audio(str(path))
    assert ours.dtype == np.float32 and ours.flags.c_contiguous
    np.testing.assert_array_equal(ours, _libsndfile(path))
    assert ("channels mixed down" in " ".join(notes)) == (channels == 2)


def test_slice_zip_and_resample_exact(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    y = (0.3 * rng.standard_normal(22050 * 3)).clip(-1, 1).astype(np.float32)
    path = tmp_path / "a.wav"
    sf.write(path, y, 22050, subtype="PCM_16")
    np.testing.assert_array_equal(load_audio(str(path), start=0.5, end=2.0)[0],
                                  _libsndfile(path, start=0.5, end=2.0))
    np.testing.assert_array_equal(load_audio(str(path))[0], _libsndfile(path))
    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(path, "x/a.wav")
    np.testing.assert_array_equal(load_audio(zip_ref(archive, "x/a.wav"))[0], _libsndfile(path))


def test_float_wav_still_checked(tmp_path: Path) -> None:
    y = np.zeros(16000, dtype=np.float32)
    y[10] = np.nan
    path = tmp_path / "f.wav"
    sf.write(path, y, 16000, subtype="FLOAT")
    from depscreen.errors import AudioError

    with pytest.raises(AudioError, match="non-finite"):
        load_audio(str(path))
    y[10] = 0.25
    sf.write(path, y, 16000, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(str(path))[0], y)
