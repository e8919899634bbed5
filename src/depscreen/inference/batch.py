"""Scoring many interviews (`predict_batch`): from a manifest or a folder, one CSV row each.

An interview that cannot be scored gets its error in the `error` column; the others are
still scored. Models with a PHQ-8 score head fill `score`, `score_low`, `score_high` (its
80% interval) and `band`; models without a binary head leave the probability columns empty.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from depscreen.audio import (
    DEFAULT_MAX_BYTES,
    split_ref,
    zip_ref,
)
from depscreen.corpora.manifest import InterviewRef, read_interviews
from depscreen.errors import (
    ConfigError,
    DepscreenError,
)
from depscreen.inference.asr import Recognizer
from depscreen.inference.bundle import LoadedModel
from depscreen.inference.inputs import default_session_id
from depscreen.inference.predict import predict_interview
from depscreen.utils.csvcells import protect
from depscreen.utils.files import ZIP_READ_ERRORS
from depscreen.utils.outputs import Named
from depscreen.utils.unicode import encodable

BatchItem = InterviewRef  # one interview of a batch: where its inputs are


BATCH_COLUMNS = (
    "session_id", "probability", "decision", "threshold", "p_text", "p_speech", "text_source",
    "modalities_used", "utterances_scored", "samples", "duration_s", "model", "model_version",
    "warnings", "error",
    # Models with a PHQ-8 score head (empty for binary models): estimate, its interval, band.
    "score", "score_low", "score_high", "band",
)
_AUDIO_SUFFIXES = {".wav", ".flac", ".ogg"}
_TRANSCRIPT_SUFFIXES = {".csv", ".tsv", ".txt"}


def predict_inputs(model: Path, audio: str | None = None, transcript: Path | str | None = None,
                   manifest: Path | None = None, folder: Path | None = None,
                   items: Sequence[BatchItem] = ()) -> list[Named]:
    """Every file and folder `predict` reads, named as the output policy's inputs: its --out
    may be none of them (a zip member's input is its archive)."""
    def ref(value: Path | str | None) -> Path | None:
        return None if value is None else split_ref(str(value))[0]

    named: list[Named] = [("the --model", model), ("the --audio recording", ref(audio)),
                          ("the --transcript", ref(transcript)), ("the --manifest", manifest),
                          ("the FOLDER", folder)]
    where = "--manifest" if manifest is not None else "FOLDER"
    for item in items:
        named += [(f"session {item.session_id}'s audio (from {where})", ref(item.audio)),
                  (f"session {item.session_id}'s transcript (from {where})",
                   ref(item.transcript))]
    return named


def read_manifest(path: str | Path) -> list[BatchItem]:
    """A CSV with columns `audio`, `transcript`, `text` (each optional per row, at least one)
    and optionally `session_id`; paths relative to the manifest's folder."""
    return read_interviews(path, default_session_id)


def find_interviews(folder: str | Path) -> list[BatchItem]:
    """Interviews in a folder (searched recursively): every audio file, with the transcript
    beside it named `{ID}_TRANSCRIPT.csv` (audio `{ID}_AUDIO.wav`, DAIC-WOZ style) or
    `{stem}.csv` / `{stem}.tsv`; transcripts without audio are scored as text. DAIC-WOZ's
    session archives `{ID}_P.zip` are read in place (never extracted); a session present
    both unzipped and zipped is read from the folder, as `prepare` does."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError("not a folder", folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
    audios = [p for p in files if p.suffix.lower() in _AUDIO_SUFFIXES]
    transcripts = {p for p in files if p.suffix.lower() in _TRANSCRIPT_SUFFIXES}
    items: list[BatchItem] = []
    used: set[Path] = set()
    for a in audios:
        sid = default_session_id(str(a), None)
        lower = {p.name.lower(): p for p in transcripts if p.parent == a.parent}
        match = None
        for name in (f"{sid}_transcript.csv", f"{sid}_transcript.tsv", f"{a.stem}.csv",
                     f"{a.stem}.tsv", f"{sid}.csv", f"{sid}.tsv"):
            if name.lower() in lower:
                match = lower[name.lower()]
                break
        if match is not None:
            used.add(match)
        items.append(BatchItem(sid, str(a), match, None))
    for t in sorted(transcripts - used):
        if "transcript" in t.stem.lower():
            items.append(BatchItem(default_session_id(None, t), None, t, None))
    unzipped = {it.session_id for it in items}
    for archive in files:
        m = _SESSION_ZIP.match(archive.name)
        if m and m.group(1) not in unzipped:
            items.append(_zipped_interview(archive, m.group(1)))
    if not items:
        raise ConfigError("no interviews found (audio files, *_TRANSCRIPT.csv files or "
                          "{ID}_P.zip archives)", folder)
    counts: dict[str, int] = {}
    for it in items:
        counts[it.session_id] = counts.get(it.session_id, 0) + 1
    out = []
    for it in items:  # the same ID in two sub-folders: name them by their relative path
        if counts[it.session_id] > 1:
            src = Path(it.audio) if it.audio else Path(it.transcript)
            rel = src.parent.relative_to(folder).as_posix()
            it = BatchItem(f"{rel}/{it.session_id}", it.audio, it.transcript, it.text)
        out.append(it)
    return out


_SESSION_ZIP = re.compile(r"^(.+)_P\.zip$", re.IGNORECASE)


def _zipped_interview(archive: Path, sid: str) -> BatchItem:
    """A DAIC-WOZ session archive as a batch item. An archive that cannot be listed still
    gives an item (pointing at the audio it should hold), so its row carries the error."""
    from depscreen.corpora.session_files import zip_member

    try:
        with zipfile.ZipFile(archive) as z:
            names = z.namelist()
    except ZIP_READ_ERRORS:
        return BatchItem(sid, zip_ref(archive, f"{sid}_AUDIO.wav"), None, None)
    audio_member = zip_member(names, f"{sid}_AUDIO.wav")
    transcript_member = zip_member(names, f"{sid}_TRANSCRIPT.csv")
    if audio_member is None and transcript_member is None:
        # Nothing to score: point at the missing audio so the row says what is wrong.
        return BatchItem(sid, zip_ref(archive, f"{sid}_AUDIO.wav"), None, None)
    return BatchItem(sid, zip_ref(archive, audio_member) if audio_member else None,
                     zip_ref(archive, transcript_member) if transcript_member else None, None)


def predict_batch(
    loaded: LoadedModel,
    items: Sequence[BatchItem],
    asr: bool = False,
    max_audio_bytes: int = DEFAULT_MAX_BYTES,
    verbose: bool = False,
    on_done: Callable[[BatchItem, dict], None] | None = None,
    *,
    include_text: bool = False,
    on_result: Callable[[BatchItem, dict], None] | None = None,
) -> list[dict]:
    """One row per interview (columns `BATCH_COLUMNS`). An interview that cannot be scored
    gets its error in the `error` column; the others are still scored. `asr` transcribes
    interviews that have audio but no transcript or text. `on_result(item, result)` sees
    each full result (with words when `include_text`: the rows never hold them) as it is
    made, e.g. to write its page; a DepscreenError it raises becomes the row's error."""
    rows = []
    recognizer = Recognizer() if asr else None
    for it in items:
        row: dict = dict.fromkeys(BATCH_COLUMNS, "")
        row["session_id"] = it.session_id
        row["model"], row["model_version"] = loaded.name, loaded.version
        try:
            res = predict_interview(
                loaded, audio=it.audio, transcript=it.transcript, text=it.text,
                asr=asr and it.audio is not None and it.transcript is None and it.text is None,
                session_id=it.session_id, max_audio_bytes=max_audio_bytes, verbose=verbose,
                recognizer=recognizer, include_text=include_text,
            )
            if on_result is not None:
                on_result(it, res)
        except DepscreenError as e:
            row["error"] = str(e)
        else:
            row.update({
                "probability": res["probability"],
                "decision": int(res["decision"]["depressed"]),
                "threshold": res["decision"]["threshold"],
                "p_text": res["modalities"]["text"], "p_speech": res["modalities"]["speech"],
                "text_source": res["inputs"]["text_source"] or "",
                "modalities_used": "+".join(res["inputs"]["modalities_used"]),
                "utterances_scored": res["inputs"]["utterances_scored"],
                "samples": res["inputs"]["samples"],
                "duration_s": res["inputs"]["duration_s"],
                "warnings": " | ".join(w for w in res["warnings"] if w not in loaded.warnings),
            })
            if "score" in res:
                score = res["score"]
                row.update({"score": score["estimate"], "score_low": score["interval"][0],
                            "score_high": score["interval"][1], "band": score["band"]})
        row = {k: ("" if v is None else v) for k, v in row.items()}
        rows.append(row)
        if on_done is not None:
            on_done(it, row)
    return rows


def batch_csv(rows: Sequence[dict]) -> str:
    """The CSV text of `predict_batch` rows."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(BATCH_COLUMNS), lineterminator="\n")
    w.writeheader()
    # Session IDs, errors and warnings come from the user's files: no cell may run as a
    # spreadsheet formula, and a file name that is not UTF-8 is shown as its bytes (\xff).
    w.writerows({k: protect(encodable(v) if isinstance(v, str) else v) for k, v in row.items()}
                for row in rows)
    return buf.getvalue()
