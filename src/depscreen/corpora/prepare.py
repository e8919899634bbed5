"""`depscreen prepare`: any supported corpus -> validated, participant-split records on disk.

Output folder:
  sessions.csv         one row per session (Session.to_row)
  utterances.jsonl.gz  one JSON object per participant utterance (session_id, start, end, text)
  interviewer.jsonl.gz the interviewer's turns, same format (Session.interviewer; empty when
                       the transcripts have no speaker column, e.g. E-DAIC)
  prepare.json         written last: what was prepared, from what (fingerprint), warnings, notes

A folder prepared before interviewer.jsonl.gz existed still loads (`interviewer` is None).

A second run on an unchanged input finds the same fingerprint and does no work (lhotse habit).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from depscreen import __version__
from depscreen.audio import DEFAULT_MAX_BYTES
from depscreen.corpora.records import PHQ8_ITEMS, SPLITS, Corpus, Session, Utterance
from depscreen.errors import CorpusError, CorpusWarning
from depscreen.utils.atomic import (
    atomic_folder,
    atomic_write_bytes,
    atomic_write_text,
    output_errors,
)
from depscreen.utils.csvcells import protect, unprotect
from depscreen.utils.outputs import check_output_folder, corpus_folder

CORPORA = ("daic-woz", "edaic", "manifest", "synthetic")
# In the fingerprint: a folder written by another format is prepared again. 2: the
# interviewer's turns (INTERVIEWER_FILE); sessions.csv and UTTERANCES_FILE are unchanged.
FORMAT_VERSION = 2
SESSIONS_FILE = "sessions.csv"
UTTERANCES_FILE = "utterances.jsonl.gz"
INTERVIEWER_FILE = "interviewer.jsonl.gz"
META_FILE = "prepare.json"
FEATURES_DIR = "features"  # `depscreen train`'s feature cache: kept when prepared again
OLD_FOLDER_NOTE = (
    f"prepared before {INTERVIEWER_FILE} existed: no interviewer turns were kept "
    "(run `depscreen prepare` again to have them)"
)


@dataclass
class PrepareResult:
    """What `prepare` did (or found already done)."""

    out: Path
    corpus: Corpus
    cached: bool
    generated: bool = False
    warnings: list[CorpusWarning] = field(default_factory=list)


def _recipe(name: str) -> Callable[..., Corpus]:
    # Imported lazily: each recipe pulls in only what it needs.
    if name == "daic-woz":
        from depscreen.corpora.daic_woz import prepare_daic_woz

        return prepare_daic_woz
    if name == "edaic":
        from depscreen.corpora.edaic import prepare_edaic

        return prepare_edaic
    if name == "manifest":
        from depscreen.corpora.manifest import prepare_manifest

        return prepare_manifest
    raise CorpusError(f"unknown corpus {name!r}; choose one of {', '.join(CORPORA)}")


def fingerprint_tree(root: Path) -> str:
    """Hash of every file's relative path, size and mtime under root (or of root itself).

    Cheap (no file contents read) and changes whenever a file is added, removed or rewritten.
    """
    h = hashlib.sha256()
    root = Path(root)
    if root.is_file():
        st = root.stat()
        h.update(f"{root.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in filenames:
            p = Path(dirpath) / name
            st = p.stat()
            entries.append(f"{p.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}")
    for e in sorted(entries):
        h.update(e.encode() + b"\n")
    return h.hexdigest()


def _manifest_csv(root: Path) -> Path:
    if root.is_dir():
        candidate = root / "manifest.csv"
        if not candidate.is_file():
            raise CorpusError("no manifest.csv in this folder; pass the CSV file itself", root)
        return candidate
    return root


def load_corpus(
    corpus: str,
    root: Path,
    strict: bool = False,
    seed: int = 0,
    max_audio_bytes: int = DEFAULT_MAX_BYTES,
) -> Corpus:
    """Run one recipe and return its records (nothing written)."""
    if corpus == "synthetic":
        corpus = "daic-woz"  # the synthetic corpus is written in DAIC-WOZ's exact layout
    if corpus == "manifest":
        return _recipe("manifest")(
            _manifest_csv(root), strict=strict, seed=seed, max_audio_bytes=max_audio_bytes
        )
    return _recipe(corpus)(root, strict=strict, max_audio_bytes=max_audio_bytes)


def prepare(
    corpus: str,
    root: Path,
    out: Path,
    strict: bool = False,
    force: bool = False,
    seed: int = 0,
    max_audio_bytes: int = DEFAULT_MAX_BYTES,
    synth_config: object | None = None,
    progress: bool = True,
) -> PrepareResult:
    """Prepare `corpus` found at `root` into `out`; generate the synthetic corpus first if asked.

    Nothing under `root` is modified (the synthetic corpus is only generated where none is),
    and `out` may not be, hold or lie inside the corpus's folder (`utils.outputs`). `out` is
    built in a temporary sibling and swapped in whole (its feature cache carried over), so an
    interruption leaves the previous prepared folder or none, never records without their
    completion marker; an interrupted generation of the synthetic corpus resumes where it
    stopped.
    """
    if corpus not in CORPORA:
        raise CorpusError(f"unknown corpus {corpus!r}; choose one of {', '.join(CORPORA)}")
    root, out = Path(root), Path(out)
    target = check_output_folder(out, roots=[("the corpus root --root", corpus_folder(root))],
                                  owned=_is_prepared_entry, owner="a prepared corpus's")
    generated = False
    if corpus == "synthetic":
        generated = _ensure_synthetic(root, synth_config, progress)
    elif not root.exists():
        raise CorpusError("corpus root does not exist", root)

    options = {"corpus": corpus, "strict": strict, "seed": seed, "max_audio_bytes": max_audio_bytes}
    fp = hashlib.sha256(
        json.dumps(
            {"format": FORMAT_VERSION, "options": options, "tree": fingerprint_tree(root)},
            sort_keys=True,
        ).encode()
    ).hexdigest()
    meta_path = out / META_FILE
    if not force and meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except (OSError, json.JSONDecodeError):
            meta = {}
        if meta.get("fingerprint") == fp and (out / SESSIONS_FILE).is_file():
            loaded = load_prepared(out)
            return PrepareResult(
                out, loaded, cached=True, generated=generated, warnings=loaded.warnings
            )

    records = load_corpus(corpus, root, strict=strict, seed=seed, max_audio_bytes=max_audio_bytes)
    records.name = corpus
    if not records.sessions:
        raise CorpusError("no usable sessions were found", root)
    records.warnings.extend(_empty_splits(records))
    with atomic_folder(target, keep=(FEATURES_DIR,)) as tmp:  # a symlink: its target
        write_prepared(records, tmp, fingerprint=fp, options=options)
    return PrepareResult(out, records, cached=False, generated=generated, warnings=records.warnings)


def _is_prepared_entry(name: str) -> bool:
    """What a prepared folder holds (and an older writer's interrupted temporary files)."""
    return name in (SESSIONS_FILE, UTTERANCES_FILE, INTERVIEWER_FILE, META_FILE,
                    FEATURES_DIR) or (name.startswith(".") and name.endswith(".tmp"))


def _empty_splits(corpus: Corpus) -> list[CorpusWarning]:
    """One warning per empty split: training needs train and dev (dev picks the threshold),
    evaluation needs test; a manifest whose rows all landed in test used to pass silently."""
    counts = {split: len(corpus.by_split(split)) for split in SPLITS}
    summary = ", ".join(f"{s} {n}" for s, n in counts.items())
    return [CorpusWarning(f"no {split} sessions ({summary}); "
                          + ("evaluate needs test sessions" if split == "test" else
                             "train needs train and dev sessions"))
            for split, n in counts.items() if n == 0]


def _ensure_synthetic(root: Path, synth_config: object | None, progress: bool) -> bool:
    from depscreen.corpora import synthetic

    if synthetic.is_synthetic_corpus(root):
        return False
    started = (root / synthetic.SIDECAR).exists() or (root / synthetic.STATE_DIR).exists()
    if root.exists() and any(root.iterdir()) and not started:
        raise CorpusError(
            "folder is not empty and holds no synthetic corpus; choose an empty or new folder "
            "for --root, or pass --corpus daic-woz for a real corpus",
            root,
        )
    config = synth_config if synth_config is not None else synthetic.SynthConfig()
    # A complete corpus from an older generator is replaced (it is ours and regenerable), so
    # an upgraded depscreen reproduces its README's numbers rather than stopping.
    version = synthetic.sidecar_generator_version(root)
    outdated = version not in (None, synthetic.GENERATOR_VERSION)
    synthetic.generate_corpus(root, config, progress=progress, force=outdated)
    return True


def write_prepared(corpus: Corpus, out: Path, fingerprint: str, options: dict) -> None:
    """Write sessions.csv, utterances.jsonl.gz, interviewer.jsonl.gz, then prepare.json (the
    completion marker)."""
    with output_errors(out):
        out.mkdir(parents=True, exist_ok=True)
        (out / META_FILE).unlink(missing_ok=True)  # invalidate first: no stale marker
    # Text cells a spreadsheet would run as formulas are written with a leading "'" (and read
    # back without it), so the file is safe to open and every value round-trips.
    rows = [{k: protect(v) for k, v in s.to_row().items()} for s in corpus.sessions]
    atomic_write_text(out / SESSIONS_FILE, pd.DataFrame(rows).to_csv(index=False))
    atomic_write_bytes(
        out / UTTERANCES_FILE, utterances_jsonl_gz(u for s in corpus.sessions for u in s.utterances)
    )
    # Always written (empty when no session has any), so no earlier run's file is read back.
    atomic_write_bytes(
        out / INTERVIEWER_FILE,
        utterances_jsonl_gz(u for s in corpus.sessions for u in s.interviewer or []),
    )

    meta = {
        "format": FORMAT_VERSION,
        "depscreen_version": __version__,
        "corpus": corpus.name,
        "root": str(corpus.root),
        "options": options,
        "fingerprint": fingerprint,
        "n_sessions": len(corpus.sessions),
        "n_utterances": sum(len(s.utterances) for s in corpus.sessions),
        "n_interviewer_turns": sum(len(s.interviewer or []) for s in corpus.sessions),
        "warnings": [
            {"message": w.message, "path": w.path, "line": w.line, "session_id": w.session_id}
            for w in corpus.warnings
        ],
        "notes": corpus.notes,
    }
    atomic_write_text(out / META_FILE, json.dumps(meta, indent=2) + "\n")


def utterances_jsonl_gz(utterances: Iterable[Utterance]) -> bytes:
    """One JSON object per utterance (session_id, start, end, text), gzipped with mtime=0 so
    the same input gives byte-identical output."""
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        for u in utterances:
            line = {"session_id": u.session_id, "start": u.start, "end": u.end, "text": u.text}
            gz.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
    return buf.getvalue()


def _read_utterances(path: Path) -> dict[str, list[Utterance]]:
    """`utterances_jsonl_gz`'s records read back, by session, in file order."""
    utts: dict[str, list[Utterance]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            d = json.loads(line)
            utts.setdefault(d["session_id"], []).append(
                Utterance(d["session_id"], float(d["start"]), float(d["end"]), d["text"])
            )
    return utts


def _opt(value):
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else value


def load_prepared(out: Path) -> Corpus:
    """Read a prepared folder back into records (what features and training consume);
    `Session.interviewer` is None for a session without interviewer turns."""
    out = Path(out)
    meta_path = out / META_FILE
    if not meta_path.is_file():
        raise CorpusError(
            "not a prepared folder (no prepare.json); run `depscreen prepare` first", out
        )
    meta = json.loads(meta_path.read_text())
    df = pd.read_csv(out / SESSIONS_FILE, dtype={"session_id": str, "audio": str, "gender": str,
                                                "speaker": str})
    utts = _read_utterances(out / UTTERANCES_FILE)
    # Absent in folders prepared before it existed: then no session has interviewer turns.
    turns = _read_utterances(out / INTERVIEWER_FILE) if (out / INTERVIEWER_FILE).is_file() else {}
    sessions = []
    for r in df.to_dict("records"):
        r = {k: unprotect(v) for k, v in r.items()}
        sid = str(r["session_id"])
        items = {k: _opt(r.get(f"PHQ8_{k}")) for k in PHQ8_ITEMS}
        sessions.append(
            Session(
                session_id=sid,
                split=r["split"],
                label=None if _opt(r["label"]) is None else int(r["label"]),
                phq8_score=_opt(r["phq8_score"]),
                phq8_items={k: (None if v is None else int(v)) for k, v in items.items()},
                gender=_opt(r["gender"]),
                audio=_opt(r["audio"]),
                utterances=utts.get(sid, []),
                has_text=bool(r["has_text"]),
                speaker=_opt(r.get("speaker")),
                interviewer=turns.get(sid),
            )
        )
    warnings = [CorpusWarning(**w) for w in meta.get("warnings", [])]
    notes = list(meta.get("notes", []))
    if not (out / INTERVIEWER_FILE).is_file():
        notes.append(OLD_FOLDER_NOTE)
    return Corpus(meta["corpus"], Path(meta["root"]), sessions, warnings, notes)


def summary_rows(corpus: Corpus) -> list[dict]:
    """Sessions per split and class, hours of participant speech and words (for the summary)."""
    rows = []
    for split in SPLITS:
        ss = corpus.by_split(split)
        rows.append(
            {
                "split": split,
                "sessions": len(ss),
                "depressed": sum(1 for s in ss if s.label == 1),
                "not_depressed": sum(1 for s in ss if s.label == 0),
                "unlabelled": sum(1 for s in ss if s.label is None),
                "utterances": sum(len(s.utterances) for s in ss),
                "speech_hours": sum(s.speech_seconds for s in ss if s.has_audio) / 3600,
                "words": sum(s.n_words for s in ss),
            }
        )
    return rows
