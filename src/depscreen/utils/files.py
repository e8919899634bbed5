"""Reading a user's small input file whole, with a size limit and one-line errors."""

from __future__ import annotations

from pathlib import Path

from depscreen.errors import DepscreenError


def read_limited(path: Path, max_bytes: int, what: str, error: type[DepscreenError],
                 empty_message: str = "empty file (0 bytes)") -> bytes:
    """The bytes of `path`; `error` naming the file when it is missing, empty or too large.

    The size is checked before anything is read, so an enormous file costs no memory.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise error("file not found", path) from None
    except OSError as e:
        raise error(f"cannot read the {what} ({e.strerror})", path) from None
    if size == 0:
        raise error(empty_message, path)
    if size > max_bytes:
        raise error(f"{what} is {size / 1024**2:.0f} MiB, above the limit of "
                    f"{max_bytes / 1024**2:.0f} MiB", path)
    try:
        return path.read_bytes()
    except OSError as e:
        raise error(f"cannot read the {what} ({e.strerror})", path) from None
