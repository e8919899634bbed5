"""Interview transcripts: decoding, parsing, cleaning, and turning lines into utterances.

Shared by every recipe. Two layouts are understood (column names case-insensitive, see
/work/shared/daic-woz-format.md):

- DAIC-WOZ: tab-separated ``start_time, stop_time, speaker, value``;
- E-DAIC: comma-separated ``Start_Time, End_Time, Text, Confidence`` (participant only).

`parse_transcript` accepts either set of names (``stop_time``/``end_time``,
``value``/``text``); the speaker column is required only where the caller says so.
`participant_utterances` then keeps the participant's interview speech, applies a corpus's
time offset and cut-out span, and checks times against the audio; `interviewer_utterances`
applies the same rules to the interviewer's lines, kept apart (None without a speaker column).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from depscreen.corpora.records import Utterance
from depscreen.errors import TranscriptError, WarningCollector
from depscreen.utils.limits import csv_records

# Times are rounded so that `transcript time + offset` survives float noise reproducibly.
TIME_DECIMALS = 6
# Slack when comparing an utterance's end with the audio duration (one 16 kHz sample).
_DURATION_SLACK = 1.0 / 16000

INTERVIEWER = "ellie"
PARTICIPANT = "participant"

# Tokens in DAIC-WOZ `value` that are not words (/work/shared/daic-woz-format.md, "Tokens").
_NON_SPEECH = re.compile(
    r"<[^<>]*>"  # <sync>, <synch> and any <...> interruption/aside
    r"|\[(?:sync|synch|laughter)\]"  # [sync], [synch], [laughter]
    r"|\bx{3,4}\b"  # xxx / xxxx: unintelligible
    r"|\bscrubbed_entry\b",  # anonymised words
    re.IGNORECASE,
)

_START = ("start_time",)
_END = ("stop_time", "end_time")
_SPEAKER = ("speaker",)
_VALUE = ("value", "text")


def clean_text(value: str) -> str:
    """Remove non-speech tokens (sync markers, laughter, xxx, <asides>, scrubbed_entry) and
    collapse whitespace. An empty result means the line held no words."""
    return " ".join(_NON_SPEECH.sub(" ", value).split())


def decode_transcript(data: bytes) -> tuple[str, str | None]:
    """Decode transcript bytes: UTF-8 (with or without BOM), else cp1252, else latin-1.

    Returns the text and the fallback encoding used (None when the bytes were UTF-8), so the
    caller can warn about it.
    """
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        # latin-1 maps every byte, so this cannot fail.
        return data.decode("latin-1"), "latin-1"


@dataclass(frozen=True)
class TranscriptLine:
    """One parsed transcript row; `line` is its 1-based line number in the file."""

    line: int
    start: float
    end: float
    speaker: str | None
    value: str


def sniff_delimiter(text: str) -> str:
    """Tab when the header line contains a tab, else comma."""
    header = text.split("\n", 1)[0]
    return "\t" if "\t" in header else ","


def parse_transcript(
    text: str,
    path: str,
    delimiter: str | None = None,
    require_speaker: bool = True,
) -> list[TranscriptLine]:
    """Parse a transcript's text; `delimiter=None` sniffs it from the header.

    Raises TranscriptError (naming `path` and the line) for a missing/bad header or a row
    that cannot be parsed. Blank rows are skipped. Extra fields after a last `value` column
    are joined back into it (a stray delimiter inside the text).
    """
    delimiter = delimiter or sniff_delimiter(text)
    records = csv_records(text, path, TranscriptError, delimiter)
    header: list[str] | None = None
    header_line = 0
    for _first, last, row in records:
        if any(f.strip() for f in row):
            header, header_line = [c.strip().lstrip("\ufeff").lower() for c in row], last
            break
    if header is None:
        raise TranscriptError("empty transcript (no header)", path)
    cols = _transcript_columns(header, path, header_line, require_speaker)
    lines = []
    for first, last, row in records:
        if last > first:  # one record over several lines: an unclosed quote
            raise TranscriptError(
                f"a quote opened on line {first} is not closed on its line, which would join "
                f"lines {first}-{last} into one utterance", path, first)
        if not any(f.strip() for f in row):
            continue
        lines.append(_parse_row(row, header, cols, path, last, delimiter))
    return lines


def _transcript_columns(
    header: list[str], path: str, line: int, require_speaker: bool
) -> dict[str, int | None]:
    def find(names: tuple[str, ...]) -> int | None:
        return next((header.index(n) for n in names if n in header), None)

    cols = {
        "start": find(_START),
        "end": find(_END),
        "speaker": find(_SPEAKER),
        "value": find(_VALUE),
    }
    need = ["start", "end", "value"] + (["speaker"] if require_speaker else [])
    if any(cols[k] is None for k in need):
        expected = "start_time, stop_time, " + ("speaker, " if require_speaker else "") + "value"
        raise TranscriptError(
            f"bad transcript header: expected columns {expected}, found {', '.join(header)}",
            path,
            line,
        )
    return cols


def _parse_row(
    row: list[str],
    header: list[str],
    cols: dict[str, int | None],
    path: str,
    line: int,
    delimiter: str,
) -> TranscriptLine:
    value_col = cols["value"]
    assert value_col is not None
    value_last = value_col == len(header) - 1
    if len(row) > len(header) and value_last:
        row = row[:value_col] + [delimiter.join(row[value_col:])]
    elif len(row) == len(header) - 1 and value_last:
        row = row + [""]  # an empty value whose trailing delimiter was dropped
    if len(row) != len(header):
        raise TranscriptError(
            f"cannot parse transcript line: {len(row)} fields, the header has {len(header)}",
            path,
            line,
        )
    start = _parse_time(row[cols["start"]], "start", path, line)  # type: ignore[index]
    end = _parse_time(row[cols["end"]], "end", path, line)  # type: ignore[index]
    speaker = row[cols["speaker"]].strip() if cols["speaker"] is not None else None
    return TranscriptLine(line, start, end, speaker, row[value_col])


def _parse_time(field: str, what: str, path: str, line: int) -> float:
    try:
        t = float(field)
    except ValueError:
        t = math.nan
    if not math.isfinite(t):
        raise TranscriptError(
            f"cannot parse transcript line: {what} time {field!r} is not a number", path, line
        )
    return t


@dataclass
class TranscriptStats:
    """What `participant_utterances` dropped or found, for the recipe's notes."""

    has_interviewer: bool = False
    n_pre_interview: int = 0
    n_cut: int = 0
    n_empty: int = 0


def participant_utterances(
    session_id: str,
    lines: Sequence[TranscriptLine],
    path: str,
    warnings: WarningCollector,
    *,
    offset: float = 0.0,
    cut: tuple[float, float] | None = None,
    duration: float | None = None,
) -> tuple[list[Utterance], TranscriptStats]:
    """The participant's utterances in audio time, sorted by start.

    - Lines whose speaker is neither the participant nor missing (no speaker column) are
      ignored; speaker names are compared case-insensitively.
    - Participant lines before the interviewer's first line (set-up chatter) are dropped;
      without interviewer lines, all are kept.
    - Lines with negative or reversed times are dropped with a warning each.
    - Text is cleaned (`clean_text`); lines left empty are dropped.
    - `offset` is added to both times (transcript time -> audio time); utterances overlapping
      `cut` (audio time) are dropped; utterances ending after `duration` are dropped with
      one warning for the session.
    - Repeated lines (same times and text) are dropped, and lines overlapping an earlier one
      are merged with it (`_merged_overlaps`), one warning with the counts each.

    An empty list means the session is unusable; a warning saying why has been recorded.
    """
    stats = TranscriptStats()
    first_interviewer = next((i for i, ln in enumerate(lines) if _speaker(ln) == INTERVIEWER), None)
    stats.has_interviewer = first_interviewer is not None
    participant = []
    for i, ln in enumerate(lines):
        if _speaker(ln) not in (None, PARTICIPANT):
            continue
        if first_interviewer is not None and i < first_interviewer:
            stats.n_pre_interview += 1
            continue
        participant.append(ln)
    if not participant:
        where = " after the interviewer's first line" if stats.n_pre_interview else ""
        warnings.warn(
            f"session {session_id} skipped: no participant speech{where}", path, None, session_id
        )
        return [], stats

    utterances: list[Utterance] = []
    too_late: list[TranscriptLine] = []
    for ln in participant:
        timed = _timed_utterance(session_id, ln, offset, cut, duration)
        if isinstance(timed, Utterance):
            utterances.append(timed)
        elif timed == _BAD_TIMES:
            warnings.warn(
                f"session {session_id}: negative or reversed times "
                f"(start {ln.start}, end {ln.end}); utterance dropped",
                path,
                ln.line,
                session_id,
            )
        elif timed == _EMPTY:
            stats.n_empty += 1
        elif timed == _CUT:
            stats.n_cut += 1
        elif timed == _TOO_LATE:
            too_late.append(ln)

    if too_late:
        warnings.warn(
            f"session {session_id}: {len(too_late)} utterance(s) end after the audio ends "
            f"({duration:.3f} s); dropped",
            path,
            too_late[0].line,
            session_id,
        )
    if not utterances:
        why = (
            "no participant speech (only non-speech tokens)"
            if stats.n_empty == len(participant)
            else "no usable participant utterances left"
        )
        warnings.warn(f"session {session_id} skipped: {why}", path, None, session_id)
    utterances.sort(key=lambda u: (u.start, u.end))
    utterances = _without_duplicates(session_id, utterances, path, warnings)
    return _merged_overlaps(session_id, utterances, path, warnings), stats


def _without_duplicates(session_id: str, utterances: list[Utterance], path: str,
                        warnings: WarningCollector) -> list[Utterance]:
    """Drops repeated lines (same times and text), which would be scored twice; one warning."""
    seen: set[tuple[float, float, str]] = set()
    kept = []
    for u in utterances:
        key = (u.start, u.end, u.text)
        if key not in seen:
            seen.add(key)
            kept.append(u)
    if len(kept) < len(utterances):
        warnings.warn(f"session {session_id}: {len(utterances) - len(kept)} duplicated "
                      "transcript line(s) dropped (same times and text)", path, None, session_id)
    return kept


def _merged_overlaps(session_id: str, utterances: list[Utterance], path: str,
                     warnings: WarningCollector) -> list[Utterance]:
    """Participant lines whose times overlap (10-15 s and 12-14 s) merged into one utterance
    spanning them, texts in order: their audio would otherwise be scored twice. One warning
    with the counts. Lines that only touch (one ends where the next starts) stay apart."""
    merged: list[Utterance] = []
    n_merged = 0
    for u in utterances:  # sorted by start
        last = merged[-1] if merged else None
        if last is not None and u.start < last.end:
            merged[-1] = Utterance(session_id, last.start, max(last.end, u.end),
                                   f"{last.text} {u.text}")
            n_merged += 1
        else:
            merged.append(u)
    if n_merged:
        warnings.warn(f"session {session_id}: {n_merged} participant line(s) overlapping an "
                      f"earlier one merged with it ({len(utterances)} lines -> {len(merged)} "
                      "utterances), so their audio is not counted twice", path, None, session_id)
    return merged


def interviewer_utterances(
    session_id: str,
    lines: Sequence[TranscriptLine],
    *,
    offset: float = 0.0,
    cut: tuple[float, float] | None = None,
    duration: float | None = None,
) -> list[Utterance] | None:
    """The interviewer's (Ellie's) turns in audio time, sorted by start; None when there are
    none (no speaker column, no interviewer line, or none left after the rules below).

    Kept apart from the participant's utterances, never mixed into them. The rules are those
    of `participant_utterances` (cleaned text, `offset` added, turns overlapping `cut` or
    ending after `duration` dropped), but nothing is warned about: dropped interviewer lines
    never make a session unusable, and the participant's warnings are not repeated.
    """
    turns = []
    for ln in lines:
        if _speaker(ln) == INTERVIEWER:
            timed = _timed_utterance(session_id, ln, offset, cut, duration)
            if isinstance(timed, Utterance):
                turns.append(timed)
    turns.sort(key=lambda u: (u.start, u.end))
    return turns or None


# Why `_timed_utterance` dropped a line.
_BAD_TIMES, _EMPTY, _CUT, _TOO_LATE = "bad times", "empty", "cut", "too late"


def _timed_utterance(
    session_id: str,
    ln: TranscriptLine,
    offset: float,
    cut: tuple[float, float] | None,
    duration: float | None,
) -> Utterance | str:
    """The line as an utterance in audio time (cleaned text), or why it is dropped: negative
    or reversed times, no words left, overlapping `cut`, or ending after `duration`."""
    if ln.start < 0 or ln.end < ln.start:
        return _BAD_TIMES
    text = clean_text(ln.value)
    if not text:
        return _EMPTY
    start = round(ln.start + offset, TIME_DECIMALS)
    end = round(ln.end + offset, TIME_DECIMALS)
    if cut is not None and start < cut[1] and end > cut[0]:
        return _CUT
    if duration is not None and end > duration + _DURATION_SLACK:
        return _TOO_LATE
    return Utterance(session_id, start, end, text)


def _speaker(ln: TranscriptLine) -> str | None:
    return ln.speaker.strip().lower() if ln.speaker is not None else None


def redact_content(message: str) -> str:
    """A transcript error message without the file's content: quoted fields become '…' and a
    found header is left out, so warnings, prepare.json and logs never quote what a
    participant said (the file and line are still named)."""
    message = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "'…'", message)
    return re.sub(r"(found ).*$", r"\1… (run with --verbose to see it)", message)
