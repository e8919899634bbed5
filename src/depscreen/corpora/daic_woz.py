"""DAIC-WOZ (AVEC 2016/2017 depression sub-challenge), read exactly as distributed.

Layout and quirks: /work/shared/daic-woz-format.md. Sessions may be unzipped folders
``{ID}_P/`` or the original ``{ID}_P.zip`` archives (read in place, never extracted; the
files may sit under ``{ID}_P/`` inside the archive or at its top level); when both exist the
folder wins. Labels come from the four AVEC 2017 split files in the corpus root.

Problems that make the corpus unusable raise `CorpusError` (naming the file and line);
problems confined to one session skip (or fix) it with a counted warning, collected in
`Corpus.warnings` (`strict=True` turns the first warning into a `CorpusError`).
Nothing under the root is ever written.

The session helpers here (`corpus_root`, `folder_files`, `build_session`, `sort_sessions`)
are shared with the E-DAIC recipe; the label-file helpers live in `tables.py`.
"""

from __future__ import annotations

import zipfile
from dataclasses import replace
from pathlib import Path

from depscreen import audio
from depscreen.corpora.records import PHQ8_ITEMS, SPLITS, Corpus, Session
from depscreen.corpora.session_files import AudioFormats, too_short, zip_member
from depscreen.corpora.tables import (
    LabelRow,
    check_unique,
    read_label_rows,
    read_table,
    reconcile_binary,
)
from depscreen.corpora.transcripts import (
    TranscriptStats,
    decode_transcript,
    interviewer_utterances,
    parse_transcript,
    participant_utterances,
    redact_content,
)
from depscreen.errors import AudioError, CorpusError, TranscriptError, WarningCollector
from depscreen.utils.files import read_limited
from depscreen.utils.limits import MAX_TEXT_BYTES, ZIP_READ_ERRORS, read_member

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
    are added and the known interruptions are cut out. Ellie's turns, under the same rules,
    are kept apart in `Session.interviewer`.
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
            data = read_limited(transcript_path, MAX_TEXT_BYTES, "transcript", TranscriptError,
                                empty_message="empty transcript (0 bytes)")
        except TranscriptError as e:
            warnings.warn(f"session {sid} skipped: {e.reason}", e.path, None, sid)
            return None
        transcript = (data, str(transcript_path))
    return (str(audio_path) if audio_path else None), transcript


def _zip_files(
    archive: Path, audio_name: str, transcript_name: str, warnings: WarningCollector, sid: str
) -> tuple[str | None, tuple[bytes, str] | None] | None:
    """Like `folder_files` for a session zip, read in place. None when the zip is unreadable
    or its transcript member is encrypted or too large (read bounded: a zip bomb costs no
    memory)."""
    try:
        with zipfile.ZipFile(archive, "r") as z:
            names = z.namelist()
            audio_member = zip_member(names, audio_name)
            transcript_member = zip_member(names, transcript_name)
            data = (read_member(z, transcript_member, MAX_TEXT_BYTES, "the transcript",
                                TranscriptError, audio.zip_ref(archive, transcript_member))
                    if transcript_member else None)
    except TranscriptError as e:
        warnings.warn(f"session {sid} skipped: {e.reason}", e.path, None, sid)
        return None
    except ZIP_READ_ERRORS as e:
        warnings.warn(f"session {sid} skipped: unreadable zip archive ({e})", archive, None, sid)
        return None
    audio_ref = audio.zip_ref(archive, audio_member) if audio_member else None
    transcript = (data, audio.zip_ref(archive, transcript_member)) if data is not None else None
    return audio_ref, transcript  # type: ignore[return-value]


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
    """Validate a session's audio header and transcript and build its `Session` (with the
    interviewer's turns where the transcript has a speaker column and interviewer lines).

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
    if (short := too_short(info)) is not None:
        warnings.warn(f"session {sid} skipped: {short}", audio_ref, None, sid)
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
        warnings.warn(f"session {sid} skipped: {redact_content(e.reason)}", e.path, e.line,
                      sid)
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
        interviewer=interviewer_utterances(
            sid, lines, offset=offset, cut=cut, duration=info.duration
        ),
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
