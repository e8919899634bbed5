"""A user's own interviews, listed in a CSV manifest (one row per session).

Two commands read manifests, through the same row reader (see "Reading rows" below): training
(`prepare_manifest`, ``depscreen prepare --corpus manifest``) and prediction
(`read_interviews`, ``depscreen predict --manifest``).

Training manifest columns (header names case-insensitive, any order; unknown columns are
ignored with a note):

============  =========  ==============================================================
column        required   meaning
============  =========  ==============================================================
session_id    yes        unique ID
label         yes        0 or 1
split         no         train / dev / test; empty = assigned here (see below)
audio         no*        WAV path, relative to the CSV's folder (or absolute)
transcript    no*        DAIC-style transcript path, relative like `audio`
text          no*        the session's text inline
speaker       no         who is interviewed; one speaker's sessions never span two splits
gender        no         male / female (m / f, or DAIC's 1 / 0); empty = unknown
phq8_score    no         0-24
============  =========  ==============================================================

\\* each row needs at least one of audio, transcript, text; transcript and text exclude
each other.

Utterances of a session:

- *transcript*: ``start_time, stop_time[, speaker], value`` (``end_time``/``text`` also
  accepted), tab- or comma-separated (sniffed from the header), parsed and cleaned as for
  DAIC-WOZ: with a speaker column only ``Participant`` lines after the interviewer's
  (``Ellie``) first line are kept (Ellie's apart, as `Session.interviewer`); without one
  every line is the participant's and there are no interviewer turns (nor for text rows).
- *text*: one utterance from 0 to the audio's duration, or from 0 to 0 when there is no
  audio (the text is cleaned like transcript text).
- *audio only*: one utterance spanning the whole file with empty text; ``has_text=False``.

Rows with an empty split are assigned deterministically from `seed`: groups (a speaker's
sessions, or one session when no speaker is given) are shuffled, then placed largest first
into the split whose per-label count is furthest below ``fractions`` of the rows being
assigned (a stratified, grouped split). A speaker who already has a given split keeps it
for all their sessions.

Errors in the manifest itself raise `CorpusError` with file and line; a missing or unusable
audio/transcript file skips that row with a counted warning.

Reading rows, for both manifests: each row needs at least one of audio, transcript, text,
and not both transcript and text; session IDs are unique; audio and transcript paths are
relative to the manifest's folder (or absolute), and may name a member of a zip archive,
``archive.zip::member`` (prediction reads it; training needs files, so there it is "not
found"). The prediction manifest needs only one of the columns audio, transcript, text;
session_id is optional (default: from the file names), other columns are ignored. Each
command keeps its own error type and wording (`_Rules`): training raises `CorpusError` and
reads the file strictly (`read_table`), prediction raises `ConfigError` and reads it leniently.
"""

from __future__ import annotations

import math
import os
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from depscreen import audio
from depscreen.corpora.records import SPLITS, Corpus, Session, Utterance
from depscreen.corpora.session_files import AudioFormats, too_short
from depscreen.corpora.splits import stratified_group_split
from depscreen.corpora.tables import parse_binary, parse_gender, parse_score, read_table
from depscreen.corpora.transcripts import (
    TIME_DECIMALS,
    clean_text,
    decode_transcript,
    interviewer_utterances,
    parse_transcript,
    participant_utterances,
    redact_content,
)
from depscreen.errors import (
    AudioError,
    ConfigError,
    CorpusError,
    DepscreenError,
    TranscriptError,
    WarningCollector,
)
from depscreen.utils.files import read_limited
from depscreen.utils.limits import MAX_TEXT_BYTES, csv_records, not_regular

COLUMNS: tuple[str, ...] = (
    "session_id",
    "split",
    "label",
    "audio",
    "transcript",
    "text",
    "speaker",
    "gender",
    "phq8_score",
)
REQUIRED: tuple[str, ...] = ("session_id", "label")
SOURCES: tuple[str, ...] = ("audio", "transcript", "text")


@dataclass(frozen=True)
class ManifestRow:
    """One validated manifest row (empty cells are None)."""

    line: int
    session_id: str
    label: int
    split: str | None
    audio: str | None
    transcript: str | None
    text: str | None
    speaker: str | None
    gender: str | None
    phq8_score: float | None


def prepare_manifest(
    csv_path: Path,
    strict: bool = False,
    seed: int = 0,
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2),
    max_audio_bytes: int = audio.DEFAULT_MAX_BYTES,
) -> Corpus:
    """Read a session manifest into a `Corpus`; rows with an empty split are assigned one.

    `fractions` are the train/dev/test shares for the rows being assigned.
    """
    csv_path = Path(csv_path).expanduser().absolute()
    _check_fractions(fractions)
    if not csv_path.is_file():
        raise CorpusError("manifest not found", csv_path)
    table = read_table(csv_path, what="manifest")
    missing = [c for c in REQUIRED if c not in table.header]
    if missing:
        raise CorpusError(
            f"missing required column(s) {', '.join(missing)} (found: {table.found()})",
            csv_path,
            1,
        )
    notes: list[str] = []
    unknown = [c for c in table.header if c not in COLUMNS]
    if unknown:
        notes.append(f"{csv_path.name}: ignored unknown column(s) {', '.join(unknown)}")
    rows = [_parse_row(csv_path, line, values) for line, values in table.rows]
    _check_unique(csv_path, rows)
    splits = assign_splits(rows, csv_path, seed, fractions, notes)

    warnings = WarningCollector(strict)
    formats = AudioFormats()
    sessions = []
    for row in rows:
        session = _build_session(
            row, splits[row.session_id], csv_path, warnings, formats, max_audio_bytes
        )
        if session is not None:
            sessions.append(session)
    notes.extend(formats.notes())
    sessions.sort(key=lambda s: SPLITS.index(s.split))  # stable: manifest order within a split
    return Corpus("manifest", csv_path.parent, sessions, list(warnings.items), notes)


def _check_fractions(fractions: tuple[float, float, float]) -> None:
    if (
        len(fractions) != 3
        or any(not math.isfinite(f) or f < 0 for f in fractions)
        or abs(sum(fractions) - 1.0) > 1e-6
    ):
        raise ConfigError(
            f"split fractions must be three non-negative numbers (train, dev, test) summing to 1, got {fractions}"
        )


def _parse_row(path: Path, line: int, values: dict[str, str]) -> ManifestRow:
    def cell(name: str) -> str | None:
        value = values.get(name, "").strip()
        return value or None

    session_id = cell("session_id")
    if session_id is None:
        raise CorpusError("empty session_id", path, line)
    split = cell("split")
    if split is not None:
        split = split.lower()
        if split not in SPLITS:
            raise CorpusError(
                f"unknown split {values['split']!r} (expected train, dev, test or empty)",
                path,
                line,
            )
    sources = _row_sources(values, path, line, _TRAINING, session_id)
    score = cell("phq8_score")
    return ManifestRow(
        line=line,
        session_id=session_id,
        label=parse_binary(values["label"], "label", path, line),
        split=split,
        audio=sources["audio"],
        transcript=sources["transcript"],
        text=sources["text"],
        speaker=cell("speaker"),
        gender=parse_gender(values.get("gender", ""), path, line),
        phq8_score=parse_score(score, "phq8_score", path, line) if score else None,
    )


def _check_unique(path: Path, rows: list[ManifestRow]) -> None:
    ids = _UniqueIds(path, _TRAINING)
    for row in rows:
        ids.add(row.session_id, row.line)


# --- split assignment --------------------------------------------------------------------


def assign_splits(
    rows: list[ManifestRow],
    path: Path,
    seed: int,
    fractions: tuple[float, float, float],
    notes: list[str],
) -> dict[str, str]:
    """Each session's split: the given one, or one assigned by a stratified grouped split.

    Raises CorpusError when one speaker's given splits differ (that would leak the speaker).
    """
    groups: dict[tuple[str, str], list[ManifestRow]] = defaultdict(list)
    for row in rows:
        key = ("speaker", row.speaker) if row.speaker else ("session", row.session_id)
        groups[key].append(row)
    splits: dict[str, str] = {}
    free: dict[tuple[str, str], list[int]] = {}
    n_inherited = 0
    for key, members in groups.items():
        given = {r.split for r in members if r.split}
        if len(given) > 1:
            lines = ", ".join(f"{r.split} at line {r.line}" for r in members if r.split)
            raise CorpusError(
                f"speaker {key[1]!r} is given two splits ({lines})", path, members[-1].line
            )
        if given:
            split = given.pop()
            n_inherited += sum(1 for r in members if not r.split)
            splits.update((r.session_id, split) for r in members)
        else:
            free[key] = [r.label for r in members]
    assigned = stratified_group_split(free, seed, fractions)
    for key, split in assigned.items():
        splits.update((r.session_id, split) for r in groups[key])
    if free:
        counts = Counter(assigned[k] for k, labels in free.items() for _ in labels)
        notes.append(
            f"assigned splits to {sum(counts.values())} session(s) (seed {seed}, fractions "
            f"{'/'.join(f'{f:g}' for f in fractions)}, grouped by speaker): "
            + ", ".join(f"{s} {counts.get(s, 0)}" for s in SPLITS)
        )
    if n_inherited:
        notes.append(f"{n_inherited} session(s) without a split took their speaker's given split")
    return splits


# --- sessions ----------------------------------------------------------------------------


def _build_session(
    row: ManifestRow,
    split: str,
    csv_path: Path,
    warnings: WarningCollector,
    formats: AudioFormats,
    max_audio_bytes: int,
) -> Session | None:
    """The row's session, or None after a warning when a file it names is missing/unusable."""
    sid = row.session_id
    audio_ref, duration = None, None
    if row.audio:
        audio_path = _existing(csv_path, row, row.audio, "audio", warnings)
        if audio_path is None:
            return None
        try:
            info = audio.audio_info(str(audio_path), max_bytes=max_audio_bytes)
        except AudioError as e:
            warnings.warn(f"session {sid} skipped: {e.reason}", e.path, None, sid)
            return None
        if (short := too_short(info)) is not None:
            warnings.warn(f"session {sid} skipped: {short}", audio_path, None, sid)
            return None
        audio_ref, duration = str(audio_path), info.duration
        formats.add(sid, info)

    has_text, interviewer = True, None
    if row.transcript:
        utterances, interviewer = _transcript_utterances(csv_path, row, duration, warnings)
        if not utterances:
            return None
    else:
        text = clean_text(row.text or "")
        end = round(duration or 0.0, TIME_DECIMALS)
        if row.text and not text:
            if audio_ref is None:
                warnings.warn(
                    f"session {sid} skipped: text has no words after cleaning",
                    csv_path,
                    row.line,
                    sid,
                )
                return None
            warnings.warn(
                f"session {sid}: text has no words after cleaning; kept as audio only",
                csv_path,
                row.line,
                sid,
            )
        has_text = bool(text)
        utterances = [Utterance(sid, 0.0, end, text)]
    return Session(
        session_id=sid,
        split=split,  # type: ignore[arg-type]
        label=row.label,
        phq8_score=row.phq8_score,
        gender=row.gender,
        audio=audio_ref,
        utterances=utterances,
        has_text=has_text,
        speaker=row.speaker,
        interviewer=interviewer,
    )


def _existing(
    csv_path: Path, row: ManifestRow, value: str, what: str, warnings: WarningCollector
) -> Path | None:
    # "~" is expanded in training manifests only (prediction never did).
    path = Path(resolve_ref(csv_path.parent, str(Path(value).expanduser())))
    kind = not_regular(path)  # stat only: opening a FIFO would block
    if kind is not None or not path.is_file():
        why = f"{what} {value} is not a regular file ({kind})" if kind else \
            f"{what} file not found: {value}"
        warnings.warn(f"session {row.session_id} skipped: {why}", csv_path, row.line,
                      row.session_id)
        return None
    return path


def _transcript_utterances(
    csv_path: Path, row: ManifestRow, duration: float | None, warnings: WarningCollector
) -> tuple[list[Utterance], list[Utterance] | None]:
    """The participant's utterances ([] = skip the row) and the interviewer's turns."""
    sid = row.session_id
    path = _existing(csv_path, row, row.transcript or "", "transcript", warnings)
    if path is None:
        return [], None
    try:
        data = read_limited(path, MAX_TEXT_BYTES, "transcript", TranscriptError,
                            empty_message="empty transcript (0 bytes)")
    except TranscriptError as e:
        warnings.warn(f"session {sid} skipped: {e.reason}", path, None, sid)
        return [], None
    text, fallback = decode_transcript(data)
    if fallback:
        warnings.warn(
            f"session {sid}: transcript is not UTF-8; read as {fallback}", path, None, sid
        )
    try:
        lines = parse_transcript(text, str(path), delimiter=None, require_speaker=False)
    except TranscriptError as e:
        warnings.warn(f"session {sid} skipped: {redact_content(e.reason)}", e.path, e.line,
                      sid)
        return [], None
    utterances, _ = participant_utterances(sid, lines, str(path), warnings, duration=duration)
    return utterances, interviewer_utterances(sid, lines, duration=duration)


# --- reading rows (both manifests) and the prediction manifest ------------------------------


@dataclass(frozen=True)
class InterviewRef:
    """One interview to score: where its inputs are (a prediction manifest's row)."""

    session_id: str
    audio: str | None = None  # a file, or a zip member `archive.zip::member`
    transcript: Path | str | None = None  # the same
    text: str | None = None


@dataclass(frozen=True)
class _Rules:
    """How a manifest's command reports a bad row: each keeps the error type and wording it
    has always had (`str.format` fields: sid, and first = the line of the first duplicate)."""

    error: type[DepscreenError]
    no_source: str
    two_texts: str
    duplicate: str


_TRAINING = _Rules(
    CorpusError,
    no_source="session {sid}: none of audio, transcript, text given",
    two_texts="session {sid}: give a transcript or text, not both",
    duplicate="duplicate session_id {sid!r} (also at line {first})",
)
_PREDICTION = _Rules(
    ConfigError,
    no_source="row has none of audio, transcript, text",
    two_texts="row has both transcript and text; give one",
    duplicate="duplicate session_id {sid!r}",
)


def _row_sources(
    values: dict[str, str], path: Path, line: int, rules: _Rules, sid: str | None = None
) -> dict[str, str | None]:
    """The row's audio, transcript and text cells (empty = None), as written: at least one
    is given, and not both a transcript and text."""
    sources = {name: values.get(name, "").strip() or None for name in SOURCES}
    if not any(sources.values()):
        raise rules.error(rules.no_source.format(sid=sid), path, line)
    if sources["transcript"] and sources["text"]:
        raise rules.error(rules.two_texts.format(sid=sid), path, line)
    return sources


def resolve_ref(base: Path, value: str) -> str:
    """A path (or zip member reference ``archive.zip::member``) from a manifest, relative to
    `base` (the manifest's folder) unless absolute."""
    if "::" in value:  # the archive's path is resolved, the member is kept as written
        archive, member = value.split("::", 1)
        return f"{resolve_ref(base, archive)}::{member}"
    return value if Path(value).is_absolute() else str(base / value)


class _UniqueIds:
    """Raises the rules' duplicate error for a session ID seen on an earlier line."""

    def __init__(self, path: Path, rules: _Rules) -> None:
        self.path, self.rules = path, rules
        self.first: dict[str, int] = {}

    def add(self, sid: str, line: int) -> None:
        first = self.first.setdefault(sid, line)
        if first != line:
            raise self.rules.error(
                self.rules.duplicate.format(sid=sid, first=first), self.path, line
            )


def read_interviews(
    path: str | Path, default_id: Callable[[str | None, Path | None], str]
) -> list[InterviewRef]:
    """A prediction manifest: columns `audio`, `transcript`, `text` (each optional per row, at
    least one) and optionally `session_id`; paths relative to the manifest's folder. A row
    without a session_id gets ``default_id(audio, transcript)`` (resolved references)."""
    path = Path(path)
    items: list[InterviewRef] = []
    ids = _UniqueIds(path, _PREDICTION)
    for line, values in _prediction_rows(path):
        sources = _row_sources(values, path, line, _PREDICTION)
        audio_ref = resolve_ref(path.parent, sources["audio"]) if sources["audio"] else None
        tr = sources["transcript"]
        tr_path = Path(resolve_ref(path.parent, tr)) if tr else None
        sid = values.get("session_id") or default_id(audio_ref, tr_path)
        ids.add(sid, line)
        items.append(InterviewRef(sid, audio_ref, tr_path, sources["text"]))
    if not items:
        raise ConfigError("manifest lists no interviews", path)
    return items


def _prediction_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    """The non-blank rows after the header, with their record numbers, cells stripped.

    More forgiving than `read_table` (which the training manifest uses): any encoding
    (decoded like a transcript), extra cells ignored, and the last of two same-named columns
    wins.
    """
    if not os.path.lexists(path):
        raise ConfigError("manifest not found", path)
    data = read_limited(path, MAX_TEXT_BYTES, "manifest", ConfigError,
                        empty_message="empty manifest")
    text, _ = decode_transcript(data)
    records = [row for _first, _last, row in csv_records(text, path, ConfigError)]
    rows = [(i + 1, r) for i, r in enumerate(records) if any(f.strip() for f in r)]
    if not rows:
        raise ConfigError("empty manifest", path)
    header = [h.strip().lstrip("\ufeff").lower() for h in rows[0][1]]
    if not set(SOURCES) & set(header):
        raise ConfigError("manifest header needs at least one of the columns audio, transcript, "
                          f"text (its first line has {len(header)} field(s))", path, rows[0][0])
    return [
        (line, {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header)})
        for line, row in rows[1:]
    ]
