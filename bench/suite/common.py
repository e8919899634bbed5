"""What every stage shares: machine facts, medians, and a child runner that measures memory.

Every heavy stage runs in a fresh process (`run_command`), so its timings start from a cold
interpreter and its memory figures are its own:

* `peak_rss_mib`: the largest resident set of any single process of the stage (the stage
  process or one of its workers), exact, from the kernel (`os.wait4`'s `ru_maxrss`);
* `peak_pss_mib`: the largest sum of proportional set sizes over the stage's whole process
  tree, sampled every 0.1 s from /proc/PID/smaps_rollup (Linux only). PSS splits pages shared
  between forked workers among them, so the sum is what the stage really occupies.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent
REPO = BENCH.parent

# One thread for every math library a stage may load (set before they are imported).
ONE_THREAD_ENV = {k: "1" for k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                                   "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")}


# ----------------------------------------------------------------------------- machine facts
def _cpuinfo(field: str) -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.split(":", 1)[0].strip() == field:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def _cpu_model() -> str:
    return _cpuinfo("model name") or platform.processor() or platform.machine()


def _ram_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info() -> dict:
    """The machine and software the numbers were measured with."""
    import numpy
    import scipy
    import torch

    versions = {"python": platform.python_version(), "torch": torch.__version__,
                "numpy": numpy.__version__, "scipy": scipy.__version__}
    for name in ("librosa", "lightning", "soundfile", "soxr"):
        try:
            versions[name] = __import__(name).__version__
        except Exception:  # noqa: BLE001 - a version is nice to have, never required
            versions[name] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {
        "cpu": _cpu_model(),
        "cpu_mhz": _cpuinfo("cpu MHz"),
        "cpu_cache": _cpuinfo("cache size"),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "ram_gib": _ram_gib(),
        "gpu": "none used (CPU only)",
        "os": f"{platform.system()} {platform.release()}",
        "versions": versions,
        "torch_default_threads": torch.get_num_threads(),
        "git_commit": _git("rev-parse", "HEAD"),
        "git_dirty": bool(status) if status is not None else None,
        "date_utc": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "load_average_at_start": load_average(),
    }


# ----------------------------------------------------------------------------- statistics
def median(values: list[float]) -> float:
    return float(statistics.median(values))


def rounded(x: float | None, digits: int = 4) -> float | None:
    if x is None:
        return None
    return float(f"{x:.{digits}g}")


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ----------------------------------------------------------------------------- one core
def pin_to_one_core() -> int | None:
    """Restrict this process to one CPU (the last usable one); returns it, or None."""
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[-1]})
        return cpus[-1]
    except (AttributeError, OSError):
        return None


# ----------------------------------------------------------------------------- child processes
def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # comm may hold spaces and parentheses: the ppid is the 2nd field after the last ')'.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        kids.setdefault(ppid, []).append(int(entry.name))
    return kids


def _tree(pid: int) -> list[int]:
    kids = _children_map()
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def _pss_kib(pid: int) -> tuple[int, int]:
    """(Pss, Rss) of one process in KiB, (0, 0) if it is gone."""
    pss = rss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return pss, rss


class _TreeSampler(threading.Thread):
    """Polls the process tree under `pid` and keeps the peak summed PSS (and RSS)."""

    def __init__(self, pid: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.peak_pss_kib = 0
        self.peak_rss_kib = 0
        self.max_procs = 0
        self.stop = threading.Event()
        self.available = Path("/proc/self/smaps_rollup").exists()

    def run(self) -> None:
        if not self.available:
            return
        while not self.stop.is_set():
            pids = _tree(self.pid)
            sums = [_pss_kib(p) for p in pids]
            self.peak_pss_kib = max(self.peak_pss_kib, sum(s[0] for s in sums))
            self.peak_rss_kib = max(self.peak_rss_kib, sum(s[1] for s in sums))
            self.max_procs = max(self.max_procs, sum(1 for s in sums if s[1]))
            self.stop.wait(self.interval)


def run_command(cmd: list[str], env: dict | None = None, timeout: float | None = None,
                log: Path | None = None, cwd: Path | None = None) -> dict:
    """Run `cmd` in a fresh session; its wall time, exit code and peak memory (see the module).

    stdout and stderr go to `log` (or are inherited). On timeout or Ctrl-C the whole process
    group is killed.
    """
    full_env = {**os.environ, **(env or {})}
    out = open(log, "w") if log else None  # noqa: SIM115 - closed below
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=full_env, cwd=cwd or REPO, stdout=out,
                            stderr=subprocess.STDOUT if out else None, start_new_session=True)
    sampler = _TreeSampler(proc.pid)
    sampler.start()
    timer = None
    timed_out = threading.Event()
    if timeout:
        def kill() -> None:
            timed_out.set()
            _kill_group(proc.pid)

        timer = threading.Timer(timeout, kill)
        timer.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    except KeyboardInterrupt:
        _kill_group(proc.pid)
        raise
    finally:
        wall = time.perf_counter() - t0
        sampler.stop.set()
        if timer:
            timer.cancel()
        if out:
            out.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    sampler.join(timeout=5)
    # ru_maxrss is KiB on Linux, bytes on macOS.
    maxrss = usage.ru_maxrss / (1024**2 if sys.platform == "darwin" else 1024)
    return {
        "returncode": proc.returncode,
        "timed_out": timed_out.is_set(),
        "wall_s": round(wall, 3),
        "peak_rss_mib": round(maxrss, 1),
        "peak_pss_mib": round(sampler.peak_pss_kib / 1024, 1) if sampler.available else None,
        "peak_tree_rss_mib": round(sampler.peak_rss_kib / 1024, 1) if sampler.available else None,
        "max_processes": sampler.max_procs or None,
        "cpu_user_s": round(usage.ru_utime, 2),
        "cpu_system_s": round(usage.ru_stime, 2),
    }


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


class StageFailed(RuntimeError):
    pass


def run_stage(name: str, params: dict, work: Path, one_core: bool = False,
              timeout: float | None = None) -> tuple[dict, dict]:
    """Run stage `name` of `suite.stages` in a fresh Python process.

    Returns (the stage's own JSON result, what `run_command` measured). `one_core` pins the
    child to one CPU and gives every math library one thread.
    """
    stage_dir = work / "logs"
    stage_dir.mkdir(parents=True, exist_ok=True)
    tag = params.get("tag", name)
    params_file = stage_dir / f"{tag}.params.json"
    result_file = stage_dir / f"{tag}.result.json"
    log = stage_dir / f"{tag}.log"
    params_file.write_text(json.dumps({**params, "one_core": one_core}, default=str))
    result_file.unlink(missing_ok=True)
    cmd = [sys.executable, str(BENCH / "run.py"), "--child", name, "--params", str(params_file),
           "--result", str(result_file)]
    env = dict(ONE_THREAD_ENV) if one_core else {}
    env["PYTHONUNBUFFERED"] = "1"
    measured = run_command(cmd, env=env, timeout=timeout, log=log)
    if measured["returncode"] != 0 or not result_file.is_file():
        tail = log.read_text(errors="replace").splitlines()[-25:] if log.is_file() else []
        why = "timed out" if measured["timed_out"] else f"exit code {measured['returncode']}"
        raise StageFailed(f"stage {tag} failed ({why}); last lines of {log}:\n" + "\n".join(tail))
    return json.loads(result_file.read_text()), measured
