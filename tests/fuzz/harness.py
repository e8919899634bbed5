"""Running the CLI on one hostile example and checking the contract of #13:

- the exit status is 0, 1 or 2 (2: an output the policy refuses);
- no traceback, ever;
- a refusal is one line, `error: ...`, naming the offending file;
- no file outside --out changes (the example's folder and the model's are hashed before and
  after), and nothing but the --out file appears in --out's folder;
- the run takes bounded time (and, in test_process.py, bounded memory).

The CLI runs in-process through `depscreen.cli.main` (a subprocess per example would spend
seconds importing torch); test_process.py runs a sample of the same examples as real
processes to check exit status, output and peak memory.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

OUT_DIR = "outdir"  # each example's --out lives under this folder of its own
MAX_SECONDS = 60.0  # one example's command, on a shared 2-core machine
# Lines a successful or failing command may print on stderr besides its one error line.
_INFO = ("warning:", "  warning:", "estimated PHQ-8", "report ->", "note:", "interrupted")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    seconds: float


def run_cli(args: list, cwd: Path) -> Result:
    """`depscreen ARGS...` in-process, in `cwd` (so a relative path can only land there)."""
    from depscreen import cli

    stdout, stderr = io.StringIO(), io.StringIO()
    old_argv, old_cwd = sys.argv, os.getcwd()
    sys.argv = ["depscreen", *(os.fsdecode(a) if isinstance(a, bytes) else str(a) for a in args)]
    start = time.monotonic()
    code = 0
    try:
        os.chdir(cwd)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            cli.main()
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        os.chdir(old_cwd)
        sys.argv = old_argv
    return Result(code, stdout.getvalue(), stderr.getvalue(), time.monotonic() - start)


def tree_state(*roots: Path, skip: Path | None = None) -> dict[str, tuple]:
    """Every entry under `roots`: files with size, mtime and SHA-256, folders and others
    (FIFOs, links) by kind and mtime. Never opens anything but regular files."""
    state: dict[str, tuple] = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            here = Path(dirpath)
            if skip is not None and (here == skip or skip in here.parents):
                dirnames[:] = []
                continue
            for name in dirnames + filenames:
                p = here / name
                if skip is not None and p == skip:
                    continue
                st = p.lstat()
                if p.is_symlink():
                    state[str(p)] = ("link", os.readlink(p))
                elif p.is_file():
                    state[str(p)] = ("file", st.st_size, st.st_mtime_ns,
                                     hashlib.sha256(p.read_bytes()).hexdigest())
                else:
                    state[str(p)] = ("other", st.st_mode, st.st_mtime_ns)
    return state


def fresh_dir(scratch: Path) -> Path:
    return Path(tempfile.mkdtemp(prefix="ex-", dir=scratch))


def shown(path: object) -> str:
    """A path as the CLI prints it (`plain`): control characters as \\xNN."""
    import re

    text = os.fsdecode(path) if isinstance(path, bytes) else str(path)
    return re.sub(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]", lambda m: f"\\x{ord(m.group()):02x}", text)


def check(res: Result, names: list, *, batch: bool = False) -> None:
    """The contract on one run's result. `names`: the files a refusal may name (any one)."""
    both = res.stdout + res.stderr
    assert res.code in (0, 1, 2), (res.code, both[-2000:])
    assert "Traceback" not in both, both[-4000:]
    assert res.seconds < MAX_SECONDS, f"took {res.seconds:.0f} s"
    if res.code == 0:
        return
    lines = res.stderr.splitlines()
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1, res.stderr[-4000:]
    if batch and "session(s) could not be scored" in errors[0]:
        return  # per-session lines start with the session ID; the CSV holds the errors
    if not batch:
        stray = [ln for ln in lines if not ln.startswith(("error:", *_INFO))]
        assert not stray, f"stray stderr lines: {stray!r}"
    line = errors[0]
    wanted = {shown(n) for n in names} | {shown(Path(str(n)).name) for n in names}
    assert any(w and w in line for w in wanted), f"{line!r} names none of {sorted(wanted)}"


def check_unchanged(before: dict, after: dict) -> None:
    changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
    assert not changed, f"changed outside --out: {changed}"


def check_out(out_dir: Path, out: Path | None, res: Result, batch: bool) -> None:
    """Only the --out file (or folder) may appear under OUT_DIR, and only on success (or a
    batch whose failed sessions are rows of its CSV)."""
    left = sorted(p.name for p in out_dir.iterdir())
    written = res.code == 0 or (batch and "session(s) could not be scored" in res.stderr)
    if out is None or not written:
        assert left == [], f"left in --out's folder after status {res.code}: {left}"
    else:
        assert left == [out.name], left


def run_checked(args: list, ex: Path, model_dir: Path | None, names: list, *,
                out: Path | None = None, batch: bool = False) -> Result:
    """Hash, run, check: the whole harness for one example in folder `ex`."""
    out_dir = ex / OUT_DIR
    out_dir.mkdir(exist_ok=True)
    roots = [ex] + ([model_dir] if model_dir is not None else [])
    before = tree_state(*roots, skip=out_dir)
    res = run_cli([*args, *(["--out", out] if out is not None else [])], ex)
    from hypothesis import event

    event(f"{args[0]}: exit {res.code}")
    if os.environ.get("DEPSCREEN_FUZZ_EVENTS"):  # what the refusals were (with --hypothesis-show-statistics)
        first = next((ln for ln in res.stderr.splitlines() if ln.startswith("error:")), "")
        event(f"{args[0]}: {first.replace(str(ex), 'EX')[:90]}")
    check(res, names, batch=batch)
    check_unchanged(before, tree_state(*roots, skip=out_dir))
    check_out(out_dir, out, res, batch)
    return res
