"""What made a result: library versions, platform and the git commit (speechbrain habit)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from depscreen import __version__

_LIBRARIES = ("torch", "lightning", "numpy", "scipy", "librosa", "soundfile", "scikit-learn",
              "pandas", "safetensors")


def git_commit(path: Path | None = None) -> str | None:
    """The commit of the checkout depscreen runs from (None when not a git checkout)."""
    where = path or Path(__file__).resolve().parent
    try:
        res = subprocess.run(
            ["git", "-C", str(where), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if res.returncode != 0:
        return None
    dirty = subprocess.run(
        ["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True, text=True, timeout=5, check=False,
    ).stdout.strip()
    return res.stdout.strip() + ("-dirty" if dirty else "")


def environment() -> dict:
    versions = {}
    for lib in _LIBRARIES:
        try:
            versions[lib] = metadata.version(lib)
        except metadata.PackageNotFoundError:
            versions[lib] = None
    return {
        "depscreen": __version__,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "machine": platform.machine(),
        "libraries": versions,
        "threads": _threads(),
    }


_THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_DYNAMIC", "MKL_DYNAMIC")


def _threads() -> dict:
    """The CPU thread counts in force: results of multi-threaded reductions depend on them
    (training/config.py `threads`), so they belong to what made a result."""
    torch = sys.modules.get("torch")  # counted only where torch is already in use
    return {
        "torch_intra_op": torch.get_num_threads() if torch is not None else None,
        "cpus": os.cpu_count(),
        **{name: os.environ[name] for name in _THREAD_VARIABLES if name in os.environ},
    }
