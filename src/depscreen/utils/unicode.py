"""Text that can always be written as UTF-8.

A file name with bytes that are not UTF-8 (b"\\xff.wav") reaches Python as a lone surrogate
("\\udcff.wav"), and so does such a byte in a command-line argument (`--text`). Encoding it
as UTF-8 raises UnicodeEncodeError, so one odd name used to lose a whole batch's scores.
"""

from __future__ import annotations

import json
import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """`text` with lone surrogates shown as their original bytes (`\\xff`), else as `\\udXXX`:
    what the user sees for a name they cannot type either."""
    if not _SURROGATE.search(text):
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def json_text(value: object, indent: int | None = 2) -> str:
    """JSON with non-ASCII text kept readable, and lone surrogates written as `\\udXXX`
    escapes (valid JSON that reads back to the same string) instead of failing to encode."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
