"""depscreen runs of the benchmark: `prepare` per fold, `train` + `evaluate` per config.

Every command runs as a subprocess of the venv's `depscreen`, its output in a log file next
to what it writes. Runs are resumable: an evaluation whose metrics.json exists is reused, a
finished run (done.json) is only evaluated, and an interrupted one continues (`--resume`).
A run folder's name holds a hash of the training options, so changing a config's flags, the
epochs or the seed starts a new folder instead of resuming a different run.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from depscreen.training.run_folder import RunFolder

ERROR_HINT = re.compile(r"(error|exception|no such option|invalid value|unknown|not found|"
                        r"traceback|must be|cannot|failed)", re.I)
BOX_CHARS = "│╭╮╰╯─┃━┏┓┗┛ "


@dataclass(frozen=True)
class Config:
    """One benchmark row of depscreen: a model and its CLI flags, for some tasks."""

    name: str
    tasks: tuple[str, ...]
    model: str
    flags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Job:
    task: str
    fold: int
    config: Config
    prepared: Path
    runs_dir: Path  # WORK/TASK/foldK/runs
    epochs: int | None
    seed: int
    profile: str

    @property
    def options(self) -> list[str]:
        """The training options that define the run (hashed into its folder name)."""
        opts = ["--model", self.config.model, *self.config.flags, "--seed", str(self.seed)]
        if "--profile" not in self.config.flags:  # a config may name its own profile
            opts += ["--profile", self.profile]
        if self.epochs is not None:
            opts += ["--epochs", str(self.epochs)]
        return opts

    @property
    def run_dir(self) -> Path:
        key = hashlib.sha256(json.dumps(self.options).encode()).hexdigest()[:8]
        return self.runs_dir / self.config.name.replace("/", "__") / key

    @property
    def eval_dir(self) -> Path:
        return self.run_dir / "eval-test"


def depscreen_command() -> list[str]:
    """The venv's `depscreen` (next to this Python), else `python -m depscreen.cli`."""
    exe = Path(sys.executable).parent / "depscreen"
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "depscreen.cli"]


def child_env(threads: int) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DEPSCREEN_DEBUG", None)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                "NUMEXPR_NUM_THREADS"):
        env[var] = str(threads)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def error_line(log: Path, limit: int = 240) -> str:
    """The most telling line of a failed command's log (rich boxes stripped)."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return f"no log ({log})"
    lines = [ln.strip(BOX_CHARS) for ln in lines]
    lines = [ln for ln in lines if ln and not ln.startswith("$ ")]
    if not lines:
        return "failed without output"
    # A rich error box: a title line "Error" followed by the message.
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].lower() == "error" and i + 1 < len(lines):
            return " ".join(lines[i + 1:i + 3])[:limit]
    hits = [ln for ln in lines if ERROR_HINT.search(ln)]
    return (hits[-1] if hits else lines[-1])[:limit]


def run_logged(argv: list[str], log: Path, env: dict[str, str], append: bool = False) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a" if append else "w", encoding="utf-8") as fh:
        fh.write("$ " + " ".join(argv) + "\n")
        fh.flush()
        return subprocess.run(argv, stdout=fh, stderr=subprocess.STDOUT, env=env,
                              stdin=subprocess.DEVNULL).returncode


def prepare_fold(depscreen: list[str], manifest: Path, prepared: Path, shared_cache: Path | None,
                 env: dict[str, str]) -> str | None:
    """`depscreen prepare` of one fold's manifest; the error line, or None when it worked.

    With `shared_cache`, PREPARED/features is a link to it, so the folds of a task share
    their feature cache (its entries are keyed by audio, times and configuration, never by
    split) and train and evaluate both find it.
    """
    log = prepared.parent / "prepare.log"
    rc = run_logged([*depscreen, "prepare", "--corpus", "manifest", "--root", str(manifest),
                     "--out", str(prepared)], log, env)
    if rc != 0:
        return f"prepare failed (rc {rc}): {error_line(log)}"
    if shared_cache is not None:
        link = prepared / "features"
        shared_cache.mkdir(parents=True, exist_ok=True)
        if not link.exists() and not link.is_symlink():
            link.symlink_to(os.path.relpath(shared_cache, prepared))
    return None


def read_metrics(eval_dir: Path, run: Path) -> dict[str, float]:
    """Test UA / F1 at participant level, and the dev UA the run was selected by (done.json),
    which the report uses to choose a configuration per fold without looking at test."""
    m = json.loads((eval_dir / "metrics.json").read_text())["participant"]
    dev = RunFolder(run).done()["dev_metrics"]
    return {"ua": float(m["ua"]), "f1_macro": float(m["f1_macro"]), "n_test": int(m["n"]),
            "dev_ua": float(dev["dev_participant_ua"])}


def run_job(job: Job, depscreen: list[str], env: dict[str, str]) -> dict:
    """Train (or resume) and evaluate one job: {ua, f1_macro, ...} or {error}; never raises."""
    start = time.monotonic()
    run, ev = job.run_dir, job.eval_dir
    result: dict = {"run": str(run)}
    try:
        if (ev / "metrics.json").is_file():
            return {**result, **read_metrics(ev, run), "reused": True, "seconds": 0.0}
        run.mkdir(parents=True, exist_ok=True)
        log = run.parent / f"{run.name}.train.log"
        if not RunFolder(run).is_finished():
            argv = [*depscreen, "train", "--prepared", str(job.prepared), *job.options,
                    "--out", str(run), "--resume", "--quiet"]
            rc = run_logged(argv, log, env, append=True)
            if rc != 0:
                return {**result, "error": f"train failed (rc {rc}): {error_line(log)}",
                        "log": str(log), "seconds": time.monotonic() - start}
        log = run.parent / f"{run.name}.evaluate.log"
        rc = run_logged([*depscreen, "evaluate", str(run), "--split", "test", "--out", str(ev)],
                        log, env)
        if rc != 0 or not (ev / "metrics.json").is_file():
            return {**result, "error": f"evaluate failed (rc {rc}): {error_line(log)}",
                    "log": str(log), "seconds": time.monotonic() - start}
        return {**result, **read_metrics(ev, run), "reused": False,
                "seconds": time.monotonic() - start}
    except Exception as e:  # one run's failure must not stop the benchmark
        return {**result, "error": f"{type(e).__name__}: {e}", "seconds": time.monotonic() - start}
