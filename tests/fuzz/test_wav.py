"""Hostile WAV headers through `predict --audio` with a speech model."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import examples
from .harness import OUT_DIR, fresh_dir, run_checked
from .strategies import wavs


@settings(max_examples=examples(60))
@given(data=wavs(), with_out=st.booleans(), limit=st.sampled_from([None, "1"]))
def test_predict_audio(data, with_out, limit, speech_model, scratch):
    ex = fresh_dir(scratch)
    wav = ex / "a.wav"
    wav.write_bytes(data)
    out = ex / OUT_DIR / "r.json" if with_out else None
    args = ["predict", "--model", speech_model, "--audio", wav]
    if limit is not None:
        args += ["--max-audio-mb", limit]
    run_checked(args, ex, speech_model, [wav], out=out)
