"""Receiving the app's upload: a multipart form streamed straight into a temporary folder,
under size limits, with the client's file names never used as paths.

Starlette's own form parsing would spool every file part (of any size) to the system's
temporary folder before the endpoint could look at it. Here the body is parsed as it arrives
(python-multipart's streaming parser, the one Starlette uses): a declared Content-Length
above the limits is refused before reading anything, and each part is counted as it is
written, so an oversized upload is refused (413) as soon as it crosses its limit. Parts are
written under fixed names (`audio`, `transcript.csv`) inside the request's own folder; the
client's file name is kept only as a display name (its last component, control characters
removed) for the page and the error messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from depscreen.errors import DepscreenError

FILES = {"audio": "audio", "transcript": "transcript.csv"}  # form field -> fixed file name
FIELDS = {"include_text": 16}  # small form fields -> their size limit
OVERHEAD = 64 * 1024  # multipart boundaries and part headers
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class UploadError(DepscreenError):
    """An upload the app refuses; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


@dataclass
class Part:
    name: str
    display: str = ""  # the client's file name, reduced to a safe display name
    path: Path | None = None  # where a file part was written
    size: int = 0
    value: bytes = b""  # a small field's value


def display_name(filename: str, default: str) -> str:
    """The last component of a client's file name, printable, at most 100 characters (for
    display only; never a path). `../../etc/passwd` -> `passwd`."""
    name = re.split(r"[\\/]", filename)[-1]
    name = _CONTROL.sub("", name).replace("::", "_").strip().lstrip(".")
    return name[:100] or default


def _mib(n: int) -> str:
    return f"{n / 1024**2:.0f} MiB" if n >= 1024**2 else f"{n / 1024:.0f} KiB"


class _Collector:
    """python-multipart callbacks: headers -> a Part, data -> its file (counted)."""

    def __init__(self, folder: Path, limits: dict[str, int]):
        self.folder, self.limits = folder, limits
        self.parts: dict[str, Part] = {}
        self._headers: dict[bytes, bytes] = {}
        self._field, self._value = b"", b""
        self._part: Part | None = None
        self._file: IO[bytes] | None = None

    def callbacks(self) -> dict:
        return {"on_part_begin": self.begin, "on_part_data": self.data,
                "on_part_end": self.end, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_done}

    def begin(self) -> None:
        self._headers, self._part = {}, None

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def headers_done(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, opts = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = opts.get(b"name", b"").decode("utf-8", "replace")
        if name not in self.limits:
            raise UploadError(f"unexpected form field {display_name(name, '?')!r}; the form "
                              f"takes {', '.join(sorted(self.limits))}")
        if name in self.parts:
            raise UploadError(f"form field {name!r} was sent twice")
        filename = opts.get(b"filename", b"").decode("utf-8", "replace")
        part = Part(name, display_name(filename, name))
        if name in FILES:
            part.path = self.folder / FILES[name]
            self._file = open(part.path, "wb")  # noqa: SIM115 - closed in end()
        self.parts[name] = self._part = part

    def data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        if part is None:
            return
        part.size += end - start
        if part.size > self.limits[part.name]:
            what = f"{part.display}: " if part.name in FILES else ""
            raise UploadError(f"{what}{part.name} is larger than the limit of "
                              f"{_mib(self.limits[part.name])}", 413)
        if self._file is not None:
            self._file.write(data[start:end])
        else:
            part.value += data[start:end]

    def end(self) -> None:
        self.close()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


async def receive(request, folder: Path, limits: dict[str, int]) -> dict[str, Part]:
    """The form's parts, files written into `folder`; UploadError (4xx) for what is refused.
    `limits`: form field -> its size limit in bytes (FILES' and FIELDS' names)."""
    from python_multipart.multipart import MultipartParser, parse_options_header

    ctype, opts = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not opts.get(b"boundary"):
        raise UploadError("send the form as multipart/form-data (an audio file, optionally "
                          "a transcript)", 415)
    total = sum(limits.values()) + OVERHEAD
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > total:
        raise UploadError(f"upload is {_mib(int(declared))}, above the limit of "
                          f"{_mib(total)}", 413)
    collector = _Collector(folder, limits)
    parser = MultipartParser(opts[b"boundary"], collector.callbacks())
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > total:
                raise UploadError(f"upload is above the limit of {_mib(total)}", 413)
            parser.write(chunk)
        parser.finalize()
    except UploadError:
        raise
    except Exception as e:  # the parser's errors: a malformed body
        raise UploadError(f"malformed multipart form ({type(e).__name__})") from None
    finally:
        collector.close()
    return collector.parts
