"""A sample of the hostile inputs through the real `depscreen` process: exit status, one
error line, no traceback, and bounded wall time and peak memory (the child's maximum RSS,
from wait4)."""

from __future__ import annotations

import os
import signal
import sys
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from .conftest import examples
from .harness import OUT_DIR, Result, check, check_out, check_unchanged, fresh_dir, tree_state
from .strategies import bundle_bytes, manifests, transcripts, wavs

MAX_RSS_MB = 1536  # importing torch and the model is ~400-600 MB
MAX_WALL_S = 120.0


def _run_process(args: list, cwd, env) -> tuple[Result, float]:
    """Run `depscreen ARGS`; (result, the child's peak RSS in MiB). Killed past MAX_WALL_S."""
    out, err = cwd / ".stdout", cwd / ".stderr"
    with open(out, "wb") as fo, open(err, "wb") as fe:
        import subprocess

        start = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "depscreen.cli", *map(str, args)],
                                cwd=cwd, env=env, stdout=fo, stderr=fe)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > MAX_WALL_S:
                proc.send_signal(signal.SIGKILL)
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped: Popen must not wait
    seconds = time.monotonic() - start
    res = Result(proc.returncode, out.read_bytes().decode("utf-8", "replace"),
                 err.read_bytes().decode("utf-8", "replace"), seconds)
    out.unlink()
    err.unlink()
    return res, usage.ru_maxrss / 1024


@st.composite
def hostile(draw, text_model, speech_model, bundles, ex):
    """One hostile input of any target: (argv, names a refusal may name)."""
    kind = draw(st.sampled_from(["transcript", "manifest", "wav", "bundle"]))
    if kind == "transcript":
        path = ex / "t.csv"
        path.write_bytes(draw(transcripts()))
        return ["predict", "--model", text_model, "--transcript", path], [path]
    if kind == "manifest":
        path = ex / "m.csv"
        path.write_bytes(draw(manifests()))
        return ["prepare", "--corpus", "manifest", "--root", path], [path, ex]
    if kind == "wav":
        path = ex / "a.wav"
        path.write_bytes(draw(wavs()))
        return ["predict", "--model", speech_model, "--audio", path], [path]
    path = ex / "m.dsb"
    path.write_bytes(draw(bundle_bytes(bundles["lstm-cnn-text"].read_bytes())))
    return ["predict", "--model", path, "--text", "i feel low"], [path]


@settings(max_examples=examples(6))
@given(data=st.data())
def test_real_process(data, text_model, speech_model, bundles, scratch, cli_env):
    ex = fresh_dir(scratch)
    args, names = data.draw(hostile(text_model, speech_model, bundles, ex))
    out_dir = ex / OUT_DIR
    out_dir.mkdir()
    out = out_dir / ("prep" if args[0] == "prepare" else "r.json")
    roots = [ex, text_model, speech_model]
    before = tree_state(*roots, skip=out_dir)
    res, rss_mb = _run_process([*args, "--out", out], ex, cli_env)
    assert res.code >= 0, f"killed by signal {-res.code} (memory or time limit?)"
    check(res, names)
    assert rss_mb < MAX_RSS_MB, f"peak RSS {rss_mb:.0f} MiB"
    check_unchanged(before, tree_state(*roots, skip=out_dir))
    check_out(out_dir, out, res, False)
