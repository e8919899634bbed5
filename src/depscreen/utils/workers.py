"""Worker processes that do not outlive the command that started them.

A process pool's workers keep running when their parent is killed by a signal it does not
handle (SIGTERM from a job scheduler, SIGKILL): a killed `depscreen reproduce` left its
training workers writing into the run folder. Ctrl-C reaches the whole process group, so
it was never the problem. Each pool's initializer calls `exit_with_parent`; the work itself
is resumable (atomic outputs, checkpoints), so a worker may stop at any point.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent_pid: int, poll_seconds: float = 0.5) -> None:
    """In a worker: exit as soon as `parent_pid` (the command's process) is gone.

    Polls from a daemon thread: the worker's parent changes when its parent dies (it is
    re-parented), and `parent_pid` may be a grandparent (a forkserver sits in between), so
    both are checked.
    """
    first_parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(poll_seconds)
            if os.getppid() != first_parent or not _alive(parent_pid):
                os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
