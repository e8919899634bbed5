"""Atomic writes: write to a temporary name in the same folder, fsync, then rename.

An interrupted run never leaves a half-written file that looks complete, and a folder output
(`atomic_folder`) is built beside its final place and swapped in whole. A write that fails
(read-only folder, disk full) is a `WriteError` naming the output and the system's reason.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO

from depscreen.errors import WriteError

# Errors of the writing itself, turned into WriteError even when raised in the caller's block
# (which writes to the file); other OSErrors there are the caller's own and pass unchanged.
_WRITE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


@contextlib.contextmanager
def output_errors(path: Path, body: bool = False) -> Iterator[None]:
    """OSError -> WriteError naming `path` (with `body`: only errors of writing)."""
    try:
        yield
    except OSError as e:
        if body and e.errno not in _WRITE_ERRNOS:
            raise
        reason = e.strerror or str(e)
        if isinstance(e, FileExistsError | NotADirectoryError):  # from mkdir(exist_ok=True)
            reason = "a folder on its path is a file"
        raise WriteError(f"cannot write ({reason})", path) from e


@cache
def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _file_mode() -> int:
    # mkstemp creates 0600 files; give outputs the permissions a plain open() would (umask).
    return 0o666 & ~_umask()


def _mkstemp(path: Path, suffix: str) -> str:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    os.chmod(tmp, _file_mode())
    return tmp


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", **kwargs) -> Iterator[IO]:
    """Open a temporary file beside `path`; on success rename it over `path`."""
    path = Path(path)
    with output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _mkstemp(path, ".tmp")
    try:
        with output_errors(path, body=True), open(tmp, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        with output_errors(path):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path for writers that take a filename (soundfile, safetensors, savefig)."""
    path = Path(path)
    with output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _mkstemp(path, path.suffix or ".tmp")
    try:
        with output_errors(path, body=True):
            yield Path(tmp)
        with output_errors(path):
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_folder(path: str | Path, keep: tuple[str, ...] = ()) -> Iterator[Path]:
    """Yield a temporary sibling folder to fill; on success it replaces `path` whole (an old
    folder there is removed only then), so a failure leaves the old folder intact, or nothing
    at all, and never a mix of old and new files.

    `keep`: entries of the old folder carried over into the new one (moved, not copied, just
    before the swap), e.g. a prepared corpus's feature cache, which stays valid."""
    path = Path(path)
    with output_errors(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp makes 0700; a plain mkdir would not
    try:
        yield tmp  # the caller's work: its own errors are its to report (evaluate does)
        with output_errors(path):
            _swap(tmp, path, keep)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _swap(tmp: Path, path: Path, keep: tuple[str, ...]) -> None:
    # lexists: a kept entry may be a symlink (a shared feature cache), moved as the link.
    moved = [name for name in keep
             if os.path.lexists(path / name) and not os.path.lexists(tmp / name)]
    old = None
    try:
        for name in moved:
            os.replace(path / name, tmp / name)
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
            os.rmdir(old)
            os.replace(path, old)
        os.replace(tmp, path)
    except BaseException:  # put the old folder back as it was
        if old is not None and old.exists() and not path.exists():
            os.replace(old, path)
        for name in moved:
            if os.path.lexists(tmp / name) and path.is_dir():
                os.replace(tmp / name, path / name)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
