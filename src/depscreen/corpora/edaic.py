"""E-DAIC (AVEC 2019): the extended DAIC corpus with automatic participant-only transcripts.

Layout (/work/shared/daic-woz-format.md, "E-DAIC"): ``labels/{train,dev,test}_split.csv``
(``Participant_ID,Gender,PHQ_Binary,PHQ_Score,PCL-C (PTSD),PTSD Severity``), an optional
``labels/Detailed_PHQ8_Labels.csv`` with the item scores, and per session
``{ID}_P/{ID}_AUDIO.wav`` plus a comma-separated ``{ID}_P/{ID}_Transcript.csv``
(``Start_Time,End_Time,Text,Confidence``). The transcripts hold only the participant, so no
interview-start or speaker filtering applies, and no DAIC-WOZ time offsets either (they were
made from this audio). Without a speaker column there are no interviewer turns
(`Session.interviewer` is None; the notes say so once). Bad-input rules are those of the
DAIC-WOZ recipe.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from depscreen import audio
from depscreen.corpora.daic_woz import build_session, corpus_root, folder_files, sort_sessions
from depscreen.corpora.records import PHQ8_ITEMS, SPLITS, Corpus, Session
from depscreen.corpora.session_files import AudioFormats
from depscreen.corpora.tables import (
    LabelRow,
    Table,
    check_unique,
    parse_item,
    parse_participant_id,
    read_label_rows,
    read_table,
    reconcile_binary,
)
from depscreen.errors import CorpusError, WarningCollector

LABELS_DIR = "labels"
SPLIT_FILES: dict[str, str] = {
    "train": "train_split.csv",
    "dev": "dev_split.csv",
    "test": "test_split.csv",
}
DETAILED_FILE = "Detailed_PHQ8_Labels.csv"
NO_INTERVIEWER_NOTE = (
    "E-DAIC transcripts have no speaker column: no interviewer turns (the interviewer-prompt "
    "audit cannot run on this corpus)"
)


def prepare_edaic(
    root: Path,
    strict: bool = False,
    max_audio_bytes: int = audio.DEFAULT_MAX_BYTES,
) -> Corpus:
    """Read an E-DAIC corpus folder into a `Corpus`.

    PHQ-8 item scores come from ``labels/Detailed_PHQ8_Labels.csv`` when it exists
    (columns matched by item name, case-insensitively), else items are None.
    """
    root = corpus_root(root)
    warnings = WarningCollector(strict)
    notes: list[str] = []
    rows = _read_labels(root / LABELS_DIR, notes)
    detailed = root / LABELS_DIR / DETAILED_FILE
    items = _read_detailed(detailed) if detailed.is_file() else {}
    if not detailed.is_file():
        notes.append(f"{LABELS_DIR}/{DETAILED_FILE} not found: no PHQ-8 item scores")
    folders = {row.session_id: _locate(root, row) for row in rows}

    formats = AudioFormats()
    sessions: list[Session] = []
    for row in rows:
        row = reconcile_binary(row, warnings, notes, fix=False)
        sid = row.session_id
        if sid in items:
            row = replace(row, items=items[sid])
        names = (f"{sid}_AUDIO.wav", f"{sid}_Transcript.csv")
        found = folder_files(folders[sid], *names, warnings, sid)
        if found is None:
            continue
        built = build_session(
            row,
            folders[sid],
            names,
            *found,
            warnings,
            formats,
            max_audio_bytes=max_audio_bytes,
            delimiter=",",
            require_speaker=False,
        )
        if built is not None:
            sessions.append(built[0])
    if not any(s.interviewer for s in sessions):
        notes.append(NO_INTERVIEWER_NOTE)
    notes.extend(formats.notes())
    return Corpus("edaic", root, sort_sessions(sessions), list(warnings.items), notes)


def _read_labels(labels_dir: Path, notes: list[str]) -> list[LabelRow]:
    present = {s: labels_dir / n for s, n in SPLIT_FILES.items() if (labels_dir / n).is_file()}
    if not present:
        names = ", ".join(f"{LABELS_DIR}/{n}" for n in SPLIT_FILES.values())
        raise CorpusError(f"no E-DAIC split files found (expected {names})", labels_dir)
    rows: list[LabelRow] = []
    for split in SPLITS:
        if split not in present:
            notes.append(f"{LABELS_DIR}/{SPLIT_FILES[split]} not found: no {split} sessions")
            continue
        table = read_table(present[split])
        if table.n_blank:
            notes.append(f"{LABELS_DIR}/{SPLIT_FILES[split]}: skipped {table.n_blank} blank row(s)")
        # The test split of some copies carries no labels: then they are None.
        rows += read_label_rows(table, split, labels_required=split != "test")
    check_unique(rows)
    return rows


def _read_detailed(path: Path) -> dict[str, dict[str, int | None]]:
    """Item scores per participant, from columns whose names contain the item names."""
    table = read_table(path)
    id_col = _detailed_id_column(table)
    columns = {item: _item_column(table, item) for item in PHQ8_ITEMS}
    if not any(columns.values()):
        raise CorpusError(
            f"bad header: no PHQ-8 item columns (expected names containing {', '.join(PHQ8_ITEMS)})",
            path,
            1,
        )
    out: dict[str, dict[str, int | None]] = {}
    where: dict[str, int] = {}
    for line, values in table.rows:
        sid = parse_participant_id(values[id_col], path, line)
        if sid in out:
            raise CorpusError(
                f"duplicate participant {sid} (also at line {where[sid]})", path, line
            )
        where[sid] = line
        out[sid] = {
            item: parse_item(values[col], table.names[col], path, line) if col else None
            for item, col in columns.items()
        }
    return out


def _detailed_id_column(table: Table) -> str:
    hits = [c for c in table.header if "participant" in c] or [c for c in table.header if c == "id"]
    if not hits:
        raise CorpusError(
            f"bad header: no Participant_ID column (found: {table.found()})",
            table.path,
            1,
        )
    return hits[0]


def _item_column(table: Table, item: str) -> str | None:
    name = item.lower()
    hits = [c for c in table.header if name in c]
    if len(hits) > 1:
        hits = [c for c in hits if c.endswith(name)]
    if len(hits) > 1:
        raise CorpusError(
            f"bad header: several columns match item {item}: {', '.join(hits)}", table.path, 1
        )
    return hits[0] if hits else None


def _locate(root: Path, row: LabelRow) -> Path:
    folder = root / f"{row.session_id}_P"
    if not folder.is_dir():
        raise CorpusError(
            f"participant {row.session_id} is listed but {row.session_id}_P/ does not exist in {root}",
            row.path,
            row.line,
        )
    return folder
