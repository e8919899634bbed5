"""The recording, re-encoded for embedding in a page as a data: URI.

A page must play offline from one file, so the audio goes inside it. The recording is decoded
as inference decodes it (`load_audio`: any libsndfile format, zip members too, other rates and
stereo converted) and written as 16 kHz mono 16-bit FLAC: lossless, about two thirds of the
PCM size for speech (a 16-minute interview: ~20 MB instead of 31 MB), encoded in ~0.2 s, and
played by Chromium, Firefox and Safari. Times in the page are in the audio's time base, which
re-encoding does not change.
"""

from __future__ import annotations

import base64
import io

from depscreen.audio import DEFAULT_MAX_BYTES, TARGET_SR, load_audio
from depscreen.errors import AudioError

MAX_EMBED_SECONDS = 3 * 3600.0  # ~230 MB of base64: beyond this a page gets unwieldy


def audio_data_uri(ref: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """`ref` (a path or `archive.zip::member`) as `data:audio/flac;base64,...`."""
    import numpy as np
    import soundfile as sf

    y, _ = load_audio(str(ref), sr=TARGET_SR, max_bytes=max_bytes)
    if y.size / TARGET_SR > MAX_EMBED_SECONDS:
        raise AudioError(f"recording lasts {y.size / TARGET_SR / 3600:.1f} h; a page embeds "
                         f"at most {MAX_EMBED_SECONDS / 3600:g} h (leave out --embed-audio)",
                         ref)
    pcm = np.clip(np.round(y * 32767.0), -32768, 32767).astype(np.int16)
    buf = io.BytesIO()
    sf.write(buf, pcm, TARGET_SR, format="FLAC", subtype="PCM_16")
    return "data:audio/flac;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
