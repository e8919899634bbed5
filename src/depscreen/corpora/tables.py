"""CSV label tables and the label values in them, shared by every corpus reader.

`read_table` reads a comma-separated label file (a DAIC-WOZ or E-DAIC split file, or a
manifest) into a `Table`; the ``parse_*`` functions check one cell each (participant ID, 0/1
label, PHQ-8 total and items, gender); `read_label_rows` turns a split file into `LabelRow`s.
Problems raise `CorpusError` naming the file and line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

from depscreen.corpora.records import PHQ8_CUTOFF, PHQ8_ITEMS
from depscreen.errors import CorpusError, WarningCollector
from depscreen.utils.files import read_limited
from depscreen.utils.limits import MAX_TEXT_BYTES, csv_records


@dataclass(frozen=True)
class Table:
    """A CSV label file: lower-cased header and non-blank rows with their line numbers.

    `names` maps each lower-cased column to its spelling in the file, for messages.
    """

    path: Path
    header: list[str]
    rows: list[tuple[int, dict[str, str]]]
    n_blank: int
    names: dict[str, str]

    def found(self) -> str:
        """The header's columns for a message, each cut at a line break and to 40 characters:
        a quote left open in the header would otherwise carry the rows it swallowed into the
        message."""
        def cut(name: str) -> str:
            short = name.split("\n")[0].split("\r")[0][:39]
            return short if short == name else short + "…"

        return ", ".join(cut(n) for n in self.names.values())


@dataclass(frozen=True)
class LabelRow:
    """One participant's row in a split file, with where it came from (for messages)."""

    session_id: str
    split: str
    path: Path
    line: int
    label: int | None = None
    score: float | None = None
    gender: str | None = None
    items: dict[str, int | None] | None = None


def read_table(path: Path, what: str = "label file") -> Table:
    """Read a comma-separated label file (or manifest: `what` names it in messages).

    Raises CorpusError when it cannot be read at all. Rows where every field is blank
    (``,,,`` in some copies of full_test_split.csv) are skipped and counted; short rows are
    padded (trailing empty fields dropped by editors).
    """
    data = read_limited(path, MAX_TEXT_BYTES, what, CorpusError,
                        empty_message=f"{what} is empty (no header)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{what} is not UTF-8 text (byte {e.start})", path) from e
    raw = [(last, row) for _first, last, row in csv_records(text, path, CorpusError)]
    header_at = next((i for i, (_, row) in enumerate(raw) if any(f.strip() for f in row)), None)
    if header_at is None:
        raise CorpusError(f"{what} is empty (no header)", path)
    spelled = [c.strip().lstrip("\ufeff") for c in raw[header_at][1]]
    header = [c.lower() for c in spelled]
    repeated = sorted({c for c in header if header.count(c) > 1})
    if repeated:
        raise CorpusError(
            f"bad header: column(s) {', '.join(repeated)} appear twice", path, raw[header_at][0]
        )
    rows, n_blank = [], 0
    for line, row in raw[header_at + 1 :]:
        if not any(f.strip() for f in row):
            n_blank += 1
            continue
        if len(row) > len(header):
            raise CorpusError(
                f"row has {len(row)} fields, the header has {len(header)}", path, line
            )
        row = row + [""] * (len(header) - len(row))
        rows.append((line, {c: v.strip() for c, v in zip(header, row, strict=True)}))
    return Table(path, header, rows, n_blank, dict(zip(header, spelled, strict=True)))


def find_column(table: Table, *names: str, required: bool = True) -> str | None:
    """The first of `names` (lower-case) in the table's header; CorpusError if required and absent."""
    for name in names:
        if name in table.header:
            return name
    if required:
        raise CorpusError(
            f"bad header: no column {' or '.join(names)} (found: {table.found()})",
            table.path,
            1,
        )
    return None


def parse_participant_id(value: str, path: Path, line: int) -> str:
    """A numeric participant ID as a canonical string ("300", also from "300.0")."""
    number = _number(value)
    if number is None or number != int(number) or number < 0:
        raise CorpusError(f"participant ID {value!r} is not a whole number", path, line)
    return str(int(number))


def parse_binary(value: str, column: str, path: Path, line: int) -> int:
    """A 0/1 label."""
    number = _number(value)
    if number not in (0, 1):
        raise CorpusError(f"{column} must be 0 or 1, found {value!r}", path, line)
    return int(number)  # type: ignore[arg-type]


def parse_score(value: str, column: str, path: Path, line: int) -> float:
    """A PHQ-8 total, 0-24."""
    number = _number(value)
    if number is None or not 0 <= number <= 24:
        raise CorpusError(f"{column} must be a number from 0 to 24, found {value!r}", path, line)
    return float(number)


def parse_item(value: str, column: str, path: Path, line: int) -> int | None:
    """A PHQ-8 item score 0-3; empty means not recorded (None)."""
    if value == "":
        return None
    number = _number(value)
    if number is None or number not in (0, 1, 2, 3):
        raise CorpusError(f"{column} must be 0, 1, 2, 3 or empty, found {value!r}", path, line)
    return int(number)


# DAIC-WOZ codes gender 1 = male, 0 = female; E-DAIC and manifests use words.
_GENDERS = {
    "1": "male",
    "0": "female",
    "male": "male",
    "female": "female",
    "m": "male",
    "f": "female",
}


def parse_gender(value: str, path: Path, line: int) -> str | None:
    """ "male", "female" or None (empty)."""
    key = value.strip().lower()
    if key.endswith(".0"):
        key = key[:-2]
    if key == "":
        return None
    if key not in _GENDERS:
        raise CorpusError(f"unknown gender {value!r} (expected male/female, or 1/0)", path, line)
    return _GENDERS[key]


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def read_label_rows(
    table: Table,
    split: str,
    labels_required: bool,
    item_columns: dict[str, str] | None = None,
) -> list[LabelRow]:
    """Rows of a split file. Labels (binary + score) are read when the columns exist and
    must exist when `labels_required`; `item_columns` maps PHQ8_ITEMS to columns."""
    id_col = find_column(table, "participant_id")
    assert id_col is not None
    bin_col = find_column(table, "phq8_binary", "phq_binary", required=labels_required)
    score_col = find_column(table, "phq8_score", "phq_score", required=labels_required)
    if (bin_col is None) != (score_col is None):
        missing = "PHQ8_Score" if score_col is None else "PHQ8_Binary"
        raise CorpusError(f"bad header: {missing} column missing", table.path, 1)
    gender_col = find_column(table, "gender", required=False)
    rows = []
    for line, values in table.rows:
        sid = parse_participant_id(values[id_col], table.path, line)
        row = LabelRow(sid, split, table.path, line)
        if bin_col is not None and score_col is not None:
            row = replace(
                row,
                label=parse_binary(values[bin_col], table.names[bin_col], table.path, line),
                score=parse_score(values[score_col], table.names[score_col], table.path, line),
            )
        if gender_col is not None:
            row = replace(row, gender=parse_gender(values[gender_col], table.path, line))
        if item_columns:
            items = {
                item: parse_item(values[col], table.names[col], table.path, line) if col else None
                for item, col in ((i, item_columns.get(i)) for i in PHQ8_ITEMS)
            }
            row = replace(row, items=items)
        rows.append(row)
    return rows


def check_unique(rows: list[LabelRow]) -> None:
    """CorpusError for a participant listed twice (in one split file or across them)."""
    seen: dict[str, LabelRow] = {}
    for row in rows:
        first = seen.setdefault(row.session_id, row)
        if first is not row:
            raise CorpusError(
                f"duplicate participant {row.session_id} (also at {first.path.name}:{first.line})",
                row.path,
                row.line,
            )


def reconcile_binary(
    row: LabelRow, warnings: WarningCollector, notes: list[str], fix: bool
) -> LabelRow:
    """Check binary == (score >= 10). With `fix` (a known label error) correct it and note it;
    otherwise warn and keep the label as given."""
    if row.label is None or row.score is None:
        return row
    expected = int(row.score >= PHQ8_CUTOFF)
    if row.label == expected:
        return row
    if fix:
        notes.append(
            f"session {row.session_id}: PHQ8_Binary {row.label} -> {expected} "
            f"(PHQ8_Score {row.score:g}; known label error, daic-woz-format.md)"
        )
        return replace(row, label=expected)
    warnings.warn(
        f"session {row.session_id}: PHQ8_Binary {row.label} disagrees with PHQ8_Score "
        f"{row.score:g} (cut-off {PHQ8_CUTOFF}); label kept as given",
        row.path,
        row.line,
        row.session_id,
    )
    return row
