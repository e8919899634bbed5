"""Reading a user's small input file whole, with a size limit and one-line errors."""

from __future__ import annotations

import zipfile
from pathlib import Path

from depscreen.errors import DepscreenError
from depscreen.utils.limits import ZIP_READ_ERRORS, check_regular, read_member

__all__ = ["ZIP_READ_ERRORS", "read_limited"]


def read_limited(path: Path, max_bytes: int, what: str, error: type[DepscreenError],
                 empty_message: str = "empty file (0 bytes)", member: str | None = None) -> bytes:
    """The bytes of `path`; `error` naming the file when it is missing, empty or too large.

    With `member`, `path` is a zip archive and that member is read in place (errors name it
    `path::member`, the form `depscreen.audio.zip_ref` writes). The size is checked before
    anything is read, so an enormous file costs no memory; a FIFO or device is refused
    without being opened.
    """
    if member is not None:
        return _read_zip_member(Path(path), member, max_bytes, what, error, empty_message)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise error("file not found", path) from None
    except OSError as e:
        raise error(f"cannot read the {what} ({e.strerror})", path) from None
    except ValueError:  # a NUL byte in the name: no file can have it
        raise error("file not found (the name holds a NUL byte)", path) from None
    check_regular(path, error)
    _check_size(size, max_bytes, what, error, empty_message, path)
    try:
        return path.read_bytes()
    except OSError as e:
        raise error(f"cannot read the {what} ({e.strerror})", path) from None


def _read_zip_member(archive: Path, member: str, max_bytes: int, what: str,
                     error: type[DepscreenError], empty_message: str) -> bytes:
    where = f"{archive}::{member}"
    try:
        with zipfile.ZipFile(archive) as z:
            try:
                size = z.getinfo(member).file_size
            except KeyError:
                raise error("the zip archive has no such member", where) from None
            if size == 0:
                raise error(empty_message, where)
            return read_member(z, member, max_bytes, what, error, where)
    except FileNotFoundError:
        raise error("file not found", archive) from None
    except ZIP_READ_ERRORS as e:
        raise error(f"cannot read the zip archive ({e})", where) from None


def _check_size(size: int, max_bytes: int, what: str, error: type[DepscreenError],
                empty_message: str, where) -> None:
    if size == 0:
        raise error(empty_message, where)
    if size > max_bytes:
        raise error(f"{what} is {size / 1024**2:.0f} MiB, above the limit of "
                    f"{max_bytes / 1024**2:.0f} MiB", where)
