"""CSV cells that a spreadsheet will not run as formulas (CSV injection).

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a formula to Excel,
LibreOffice and Google Sheets (`=HYPERLINK(...)` in a session ID). `protect` prefixes such a
cell with `'` (what the spreadsheets themselves show for literal text); `unprotect` undoes it
when depscreen reads its own files back, so values round-trip. Numbers are left alone.
"""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def protect(value: object) -> object:
    """`value`, with a leading `'` when it is text a spreadsheet would run."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS + ("'",)):
        return "'" + value
    return value


def unprotect(value: object) -> object:
    """The original of a `protect`ed cell."""
    if isinstance(value, str) and value.startswith("'") and value[1:].startswith(
            FORMULA_STARTS + ("'",)):
        return value[1:]
    return value
