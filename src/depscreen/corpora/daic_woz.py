"""DAIC-WOZ (AVEC 2016/2017 depression sub-challenge), read exactly as distributed.

Layout and quirks: /work/shared/daic-woz-format.md. Sessions may be unzipped folders
``{ID}_P/`` or the original ``{ID}_P.zip`` archives (read in place, never extracted; the
files may sit under ``{ID}_P/`` inside the archive or at its top level); when both exist the
folder wins. Labels come from the four AVEC 2017 split files in the corpus root.

Problems that make the corpus unusable raise `CorpusError` (naming the file and line);
problems confined to one session skip (or fix) it with a counted warning, collected in
`Corpus.warnings` (`strict=True` turns the first warning into a `CorpusError`).
Nothing under the root is ever written.

The label-file helpers here (`read_table`, `read_label_rows`, `build_session`, ...) are
shared with the E-DAIC recipe.
"""

from __future__ import annotations

import csv
import io
import math
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

from depscreen import audio
from depscreen.corpora.records import PHQ8_CUTOFF, PHQ8_ITEMS, SPLITS, Corpus, Session
from depscreen.corpora.transcripts import (
    TranscriptStats,
    decode_transcript,
    parse_transcript,
    participant_utterances,
)
from depscreen.errors import AudioError, CorpusError, TranscriptError, WarningCollector
from depscreen.utils.files import ZIP_READ_ERRORS

# --- Known quirks, from /work/shared/daic-woz-format.md ("Known quirks"). ---------------
# Transcript out of sync with the audio: seconds added to every transcript time.
SYNC_OFFSETS: dict[str, float] = {
    "318": 34.319917,
    "321": 3.8379167,
    "341": 6.1892,
    "362": 16.8582,
}
# Interruptions inside the interview, (start, end) in audio seconds: utterances overlapping
# the span are dropped.
INTERRUPTIONS: dict[str, tuple[float, float]] = {
    "373": (395.0, 428.0),
    "444": (286.0, 387.0),
}
# Transcripts without interviewer (Ellie) lines: the interview start cannot be found, so
# every participant line is kept (this happens for any such session; listed for the notes).
NO_INTERVIEWER_SESSIONS: frozenset[str] = frozenset({"451", "458", "480"})
# Label errors (409: PHQ8_Score 10 with PHQ8_Binary 0): binary recomputed as score >= 10.
LABEL_FIXES: frozenset[str] = frozenset({"409"})

SPLIT_FILES: dict[str, str] = {
    "train": "train_split_Depression_AVEC2017.csv",
    "dev": "dev_split_Depression_AVEC2017.csv",
    "test": "test_split_Depression_AVEC2017.csv",
}
FULL_TEST_FILE = "full_test_split.csv"



def prepare_daic_woz(
    root: Path,
    strict: bool = False,
    max_audio_bytes: int = audio.DEFAULT_MAX_BYTES,
) -> Corpus:
    """Read a DAIC-WOZ corpus folder into a `Corpus` (participant utterances, labels, audio refs).

    Audio of zipped sessions is referenced as ``root/{ID}_P.zip::member.wav`` (see
    `depscreen.audio.zip_ref`). Utterance times are audio times: the known sync offsets
    are added and the known interruptions are cut out.
    """
    root = corpus_root(root)
    warnings = WarningCollector(strict)
    notes: list[str] = []
    rows = _read_labels(root, notes)
    sources = {row.session_id: _locate(root, row) for row in rows}
    both = sorted(
        (sid for sid, src in sources.items() if src.is_dir() and (root / f"{sid}_P.zip").is_file()),
        key=int,
    )
    if both:
        notes.append(
            f"{len(both)} session(s) present as both folder and zip, read from the folder: {_ids(both)}"
        )
    zipped = sorted((sid for sid, src in sources.items() if not src.is_dir()), key=int)
    if zipped:
        notes.append(f"{len(zipped)} session(s) read in place from zip archives: {_ids(zipped)}")

    formats = AudioFormats()
    sessions: list[Session] = []
    pre_interview: dict[str, int] = {}
    for row in rows:
        row = reconcile_binary(row, warnings, notes, fix=row.session_id in LABEL_FIXES)
        built = _prepare_session(row, sources[row.session_id], warnings, formats, max_audio_bytes)
        if built is None:
            continue
        session, stats = built
        sessions.append(session)
        notes.extend(_quirk_notes(session.session_id, stats))
        if stats.n_pre_interview:
            pre_interview[session.session_id] = stats.n_pre_interview
    if pre_interview:
        notes.append(
            f"dropped {sum(pre_interview.values())} participant line(s) before the interviewer's "
            f"first line (set-up chatter) in {len(pre_interview)} session(s)"
        )
    notes.extend(formats.notes())
    return Corpus("daic_woz", root, sort_sessions(sessions), list(warnings.items), notes)


# --- label files ---------------------------------------------------------------------------


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
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorpusError(f"cannot read {what} ({e.strerror or e})", path) from e
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise CorpusError(f"{what} is not UTF-8 text (byte {e.start})", path) from e
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        raw = [(reader.line_num, row) for row in reader]
    except csv.Error as e:
        raise CorpusError(f"cannot parse {what} ({e})", path, reader.line_num) from e
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
            f"bad header: no column {' or '.join(names)} (found: {', '.join(table.names.values())})",
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


def _read_labels(root: Path, notes: list[str]) -> list[LabelRow]:
    present = {split: root / name for split, name in SPLIT_FILES.items() if (root / name).is_file()}
    full = root / FULL_TEST_FILE
    if not present and not full.is_file():
        names = ", ".join([*SPLIT_FILES.values(), FULL_TEST_FILE])
        raise CorpusError(f"no DAIC-WOZ split files found (expected {names})", root)
    rows: list[LabelRow] = []
    for split in ("train", "dev"):
        if split in present:
            rows += _read_split(present[split], split, True, notes)
        else:
            notes.append(f"{SPLIT_FILES[split]} not found: no {split} sessions")
    rows += _read_test(present.get("test"), full if full.is_file() else None, notes)
    check_unique(rows)
    return rows


def _read_split(path: Path, split: str, labels_required: bool, notes: list[str]) -> list[LabelRow]:
    table = read_table(path)
    if table.n_blank:
        notes.append(f"{path.name}: skipped {table.n_blank} blank row(s)")
    items = {i: f"phq8_{i.lower()}" for i in PHQ8_ITEMS if f"phq8_{i.lower()}" in table.header}
    return read_label_rows(table, split, labels_required, items or None)


def _read_test(
    listed_path: Path | None, full_path: Path | None, notes: list[str]
) -> list[LabelRow]:
    """Test participants from test_split, labels from full_test_split (either may be absent)."""
    listed = _read_split(listed_path, "test", False, notes) if listed_path else None
    full = _read_split(full_path, "test", True, notes) if full_path else None
    if full is None:
        if listed is None:
            notes.append("no test split file: no test sessions")
            return []
        if any(r.label is None for r in listed):
            notes.append(f"{FULL_TEST_FILE} not found: test sessions have no labels")
        return listed
    if listed is None:
        return full
    check_unique(listed)
    check_unique(full)
    labelled = {r.session_id: r for r in full}
    listed_ids = {r.session_id for r in listed}
    for r in full:
        if r.session_id not in listed_ids:
            raise CorpusError(
                f"participant {r.session_id} is not in {SPLIT_FILES['test']}", r.path, r.line
            )
    merged = []
    for r in listed:
        f = labelled.get(r.session_id)
        if f is None:
            raise CorpusError(
                f"participant {r.session_id} has no row in {FULL_TEST_FILE}", r.path, r.line
            )
        merged.append(
            replace(
                r,
                label=f.label,
                score=f.score,
                gender=f.gender or r.gender,
                items=f.items or r.items,
            )
        )
    return merged


# --- sessions ------------------------------------------------------------------------------


def corpus_root(root: Path) -> Path:
    """`root` made absolute (audio references must work from any working directory)."""
    root = Path(root).expanduser().absolute()
    if not root.is_dir():
        raise CorpusError("corpus folder not found", root)
    return root


def _locate(root: Path, row: LabelRow) -> Path:
    """The session's folder (preferred) or zip archive; CorpusError when neither exists."""
    sid = row.session_id
    folder, archive = root / f"{sid}_P", root / f"{sid}_P.zip"
    if folder.is_dir():
        return folder
    if archive.is_file():
        return archive
    raise CorpusError(
        f"participant {sid} is listed but neither {sid}_P/ nor {sid}_P.zip exists in {root}",
        row.path,
        row.line,
    )


def _prepare_session(
    row: LabelRow,
    source: Path,
    warnings: WarningCollector,
    formats: AudioFormats,
    max_audio_bytes: int,
) -> tuple[Session, TranscriptStats] | None:
    sid = row.session_id
    names = (f"{sid}_AUDIO.wav", f"{sid}_TRANSCRIPT.csv")
    if source.is_dir():
        found = folder_files(source, *names, warnings, sid)
    else:
        found = _zip_files(source, *names, warnings, sid)
    if found is None:
        return None
    audio_ref, transcript = found
    return build_session(
        row,
        source,
        names,
        audio_ref,
        transcript,
        warnings,
        formats,
        max_audio_bytes=max_audio_bytes,
        delimiter="\t",
        require_speaker=True,
        offset=SYNC_OFFSETS.get(sid, 0.0),
        cut=INTERRUPTIONS.get(sid),
    )


def folder_files(
    folder: Path, audio_name: str, transcript_name: str, warnings: WarningCollector, sid: str
) -> tuple[str | None, tuple[bytes, str] | None] | None:
    """The audio path and the transcript's bytes (with its path) in a session folder.

    File names match case-insensitively; either may be None when absent. Returns None
    (after a warning) when the folder or the transcript cannot be read.
    """
    try:
        by_name = {p.name.lower(): p for p in folder.iterdir() if p.is_file()}
    except OSError as e:
        warnings.warn(
            f"session {sid} skipped: cannot list folder ({e.strerror or e})", folder, None, sid
        )
        return None
    audio_path = by_name.get(audio_name.lower())
    transcript_path = by_name.get(transcript_name.lower())
    transcript = None
    if transcript_path is not None:
        try:
            transcript = (transcript_path.read_bytes(), str(transcript_path))
        except OSError as e:
            warnings.warn(
                f"session {sid} skipped: cannot read transcript ({e.strerror or e})",
                transcript_path,
                None,
                sid,
            )
            return None
    return (str(audio_path) if audio_path else None), transcript


def _zip_files(
    archive: Path, audio_name: str, transcript_name: str, warnings: WarningCollector, sid: str
) -> tuple[str | None, tuple[bytes, str] | None] | None:
    """Like `folder_files` for a session zip, read in place. None when the zip is unreadable."""
    try:
        with zipfile.ZipFile(archive, "r") as z:
            names = z.namelist()
            audio_member = zip_member(names, audio_name)
            transcript_member = zip_member(names, transcript_name)
            data = z.read(transcript_member) if transcript_member else None
    except ZIP_READ_ERRORS as e:
        warnings.warn(f"session {sid} skipped: unreadable zip archive ({e})", archive, None, sid)
        return None
    audio_ref = audio.zip_ref(archive, audio_member) if audio_member else None
    transcript = (data, audio.zip_ref(archive, transcript_member)) if data is not None else None
    return audio_ref, transcript  # type: ignore[return-value]


def zip_member(names: list[str], wanted: str) -> str | None:
    """The member called `wanted` (any case) at the top level or in a folder, shallowest first."""
    hits = [
        n for n in names if not n.endswith("/") and PurePosixPath(n).name.lower() == wanted.lower()
    ]
    return min(hits, key=lambda n: (n.count("/"), n)) if hits else None


class AudioFormats:
    """Collects sessions whose audio is not 16 kHz mono, for one note each."""

    def __init__(self) -> None:
        self.odd: dict[str, audio.AudioInfo] = {}

    def add(self, session_id: str, info: audio.AudioInfo) -> None:
        if info.samplerate != audio.TARGET_SR or info.channels != 1:
            self.odd[session_id] = info

    def notes(self) -> list[str]:
        return [
            f"session {sid}: audio is {info.samplerate} Hz with {info.channels} channel(s); "
            f"converted to {audio.TARGET_SR} Hz mono when loaded"
            for sid, info in self.odd.items()
        ]


def build_session(
    row: LabelRow,
    source: Path,
    names: tuple[str, str],
    audio_ref: str | None,
    transcript: tuple[bytes, str] | None,
    warnings: WarningCollector,
    formats: AudioFormats,
    *,
    max_audio_bytes: int,
    delimiter: str,
    require_speaker: bool,
    offset: float = 0.0,
    cut: tuple[float, float] | None = None,
) -> tuple[Session, TranscriptStats] | None:
    """Validate a session's audio header and transcript and build its `Session`.

    Returns None (after a warning saying why) when the session must be skipped.
    """
    sid = row.session_id
    if audio_ref is None:
        warnings.warn(f"session {sid} skipped: no {names[0]}", source, None, sid)
        return None
    try:
        info = audio.audio_info(audio_ref, max_bytes=max_audio_bytes)
    except AudioError as e:
        warnings.warn(f"session {sid} skipped: {e.reason}", e.path, None, sid)
        return None
    if transcript is None:
        warnings.warn(f"session {sid} skipped: no {names[1]}", source, None, sid)
        return None
    data, where = transcript
    text, fallback = decode_transcript(data)
    if fallback:
        warnings.warn(
            f"session {sid}: transcript is not UTF-8; read as {fallback}", where, None, sid
        )
    try:
        lines = parse_transcript(text, where, delimiter=delimiter, require_speaker=require_speaker)
    except TranscriptError as e:
        warnings.warn(f"session {sid} skipped: {e.reason}", e.path, e.line, sid)
        return None
    utterances, stats = participant_utterances(
        sid, lines, where, warnings, offset=offset, cut=cut, duration=info.duration
    )
    if not utterances:
        return None
    formats.add(sid, info)
    session = Session(
        session_id=sid,
        split=row.split,  # type: ignore[arg-type]
        label=row.label,
        phq8_score=row.score,
        phq8_items=row.items,
        gender=row.gender,
        audio=audio_ref,
        utterances=utterances,
    )
    return session, stats


def _quirk_notes(sid: str, stats: TranscriptStats) -> list[str]:
    notes = []
    if sid in SYNC_OFFSETS:
        notes.append(
            f"session {sid}: added {SYNC_OFFSETS[sid]:+} s to transcript times (known sync offset)"
        )
    if sid in INTERRUPTIONS:
        a, b = INTERRUPTIONS[sid]
        notes.append(
            f"session {sid}: dropped {stats.n_cut} utterance(s) overlapping the interruption "
            f"{a:g}-{b:g} s (known quirk)"
        )
    if not stats.has_interviewer:
        known = "known quirk" if sid in NO_INTERVIEWER_SESSIONS else "not a known quirk"
        notes.append(f"session {sid}: no interviewer lines; all participant lines kept ({known})")
    return notes


def sort_sessions(sessions: list[Session]) -> list[Session]:
    """Train, dev, test; numerically by ID within a split (string IDs after numeric ones)."""

    def key(s: Session) -> tuple:
        sid = s.session_id
        return (SPLITS.index(s.split), not sid.isdigit(), int(sid) if sid.isdigit() else 0, sid)

    return sorted(sessions, key=key)


def _ids(ids: list[str], limit: int = 10) -> str:
    more = f", ... (+{len(ids) - limit})" if len(ids) > limit else ""
    return ", ".join(ids[:limit]) + more
