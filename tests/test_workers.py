"""A pool worker exits when the command that started it is killed without a chance to clean up."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

PARENT = textwrap.dedent("""
    import multiprocessing as mp, os, sys, time
    from concurrent.futures import ProcessPoolExecutor
    from depscreen.utils.workers import exit_with_parent

    def work(path):
        with open(path, "w") as f:
            f.write(str(os.getpid()))
        time.sleep(60)

    if __name__ == "__main__":
        ctx = mp.get_context(sys.argv[2])
        with ProcessPoolExecutor(1, mp_context=ctx, initializer=exit_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            pool.submit(work, sys.argv[1]).result()
""")


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # A zombie (exited, not yet reaped by init) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


# depscreen's pools use spawn (training), fork (features, Linux) and forkserver (synthesis).
METHODS = [m for m in ("spawn", "fork", "forkserver") if m in mp.get_all_start_methods()]


@pytest.mark.parametrize("method", METHODS)
def test_worker_exits_when_its_parent_is_killed(tmp_path: Path, method: str) -> None:
    script = tmp_path / "parent.py"
    script.write_text(PARENT)
    pid_file = tmp_path / "worker.pid"
    parent = subprocess.Popen([sys.executable, str(script), str(pid_file), method])
    try:
        deadline = time.monotonic() + 60
        while not (pid_file.is_file() and pid_file.read_text()):
            assert time.monotonic() < deadline, "the worker never started"
            assert parent.poll() is None, "the parent died early"
            time.sleep(0.05)
        worker = int(pid_file.read_text())
        assert not _gone(worker)
        parent.send_signal(signal.SIGKILL)  # no handler, no cleanup: the worst case
        parent.wait(10)
        deadline = time.monotonic() + 10
        while not _gone(worker):
            assert time.monotonic() < deadline, "the worker outlived its parent"
            time.sleep(0.1)
    finally:
        if parent.poll() is None:
            parent.kill()
