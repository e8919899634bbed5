"""Limits on reading untrusted bytes: zip members, CSV fields, file kinds (#13).

Every reader of a user's files (corpora, prediction) goes through here, so a zip bomb, an
endless CSV field, an encrypted archive or a FIFO named as a file gives a one-line error
naming the file instead of exhausting memory, blocking, or ending in a traceback.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path

from depscreen.errors import DepscreenError

# A transcript, label file or manifest larger than this is not one (DAIC-WOZ's longest
# transcript is ~60 KB).
MAX_TEXT_BYTES = 64 * 1024**2
# One CSV field: 1 Mi characters (~170,000 words, a day of speech) is more than any utterance
# or inline `text` cell; Python's default (131,072) was never chosen, only inherited.
CSV_FIELD_LIMIT = 1024**2
# A zip member larger than ZIP_RATIO_FLOOR that inflates more than MAX_ZIP_RATIO times is a
# zip bomb: speech compresses about 1.1-3x, and even a silent WAV of that size is unusable.
MAX_ZIP_RATIO = 100
ZIP_RATIO_FLOOR = 64 * 1024**2

# What reading a damaged or unusual zip archive raises (NotImplementedError: an unsupported
# compression method; RuntimeError: an encrypted member).
ZIP_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, OSError,
                   RuntimeError)

_KINDS = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR,
          "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))


def not_regular(path: str | Path) -> str | None:
    """Why `path` is no regular file ("a FIFO", "a folder", ...), or None when it is one or
    does not exist. Only stats it: opening a FIFO would block."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as e:  # a name too long, a loop of links, no permission: no file to read
        return f"unusable: {e.strerror or e}"
    except ValueError:  # a NUL byte in the name
        return "unusable: the name holds a NUL byte"
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a plain file")


def check_regular(path: str | Path, error: type[DepscreenError]) -> None:
    """`error` naming `path` when it exists but is no regular file (a FIFO, a device, ...)."""
    kind = not_regular(path)
    if kind is not None:
        raise error(f"is not a regular file ({kind})", path)


def check_member(info: zipfile.ZipInfo, max_bytes: int, what: str,
                 error: type[DepscreenError], where: str) -> None:
    """`error` for a member that is encrypted, larger than `max_bytes` or a zip bomb,
    from its header alone (nothing is inflated)."""
    if info.flag_bits & 0x1:
        raise error("the zip member is encrypted (password required); depscreen reads "
                    "unencrypted archives only", where)
    if info.file_size > max_bytes:
        raise error(f"{what} is {info.file_size / 1024**2:.0f} MiB unpacked, above the limit "
                    f"of {max_bytes / 1024**2:.0f} MiB", where)
    if info.file_size > ZIP_RATIO_FLOOR and info.file_size > MAX_ZIP_RATIO * max(
            info.compress_size, 1):
        raise error(f"{what} inflates {info.file_size / max(info.compress_size, 1):.0f} times "
                    f"(above {MAX_ZIP_RATIO}); refused as a zip bomb", where)


def read_member(z: zipfile.ZipFile, name: str, max_bytes: int, what: str,
                error: type[DepscreenError], where: str) -> bytes:
    """A zip member's bytes, checked first (`check_member`) and read with a bounded read:
    a header that understates the size still stops at `max_bytes`."""
    info = z.getinfo(name)
    check_member(info, max_bytes, what, error, where)
    with z.open(info) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise error(f"{what} is larger than the limit of {max_bytes / 1024**2:.0f} MiB", where)
    return data


def csv_records(text: str, path: str | Path, error: type[DepscreenError],
                delimiter: str = ",") -> Iterator[tuple[int, int, list[str]]]:
    """(first line, last line, fields) of each CSV record in `text`. A field longer than
    `CSV_FIELD_LIMIT` or malformed CSV is `error` naming `path` and the line."""
    if csv.field_size_limit() != CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    first = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            reason = str(e)
            if "field larger than field limit" in reason:
                reason = f"a field is longer than {CSV_FIELD_LIMIT:,} characters"
            raise error(f"cannot parse the CSV ({reason})", path, reader.line_num) from None
        yield first, reader.line_num, row
        first = reader.line_num + 1
