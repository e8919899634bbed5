"""Reading a generated corpus back: its ground-truth sidecar (`load_truth`), the generator
version that wrote it, and whether a folder holds a complete synthetic corpus.
"""

from __future__ import annotations

import json
from pathlib import Path

from depscreen.corpora.synthetic.config import GENERATOR_VERSION, SIDECAR, SPLIT_FILES
from depscreen.errors import CorpusError


def load_truth(root: Path) -> dict:
    """The ground-truth sidecar of a synthetic corpus; `CorpusError` if absent or incomplete."""
    path = Path(root) / SIDECAR
    if not path.is_file():
        raise CorpusError(f"no {SIDECAR}: not a (complete) depscreen synthetic corpus", root)
    data = _read_json(path)
    if not isinstance(data, dict) or data.get("complete") is not True or "sessions" not in data:
        raise CorpusError("synthetic corpus sidecar is unreadable or incomplete", path)
    if data.get("generator_version") != GENERATOR_VERSION:
        raise CorpusError(
            f"sidecar from generator version {data.get('generator_version')}, this depscreen "
            f"writes version {GENERATOR_VERSION}; regenerate with `depscreen synth --force`",
            path,
        )
    return data


def sidecar_generator_version(root: Path) -> int | None:
    """The generator version recorded by the sidecar in `root` (any version, complete or
    not); None when there is no readable sidecar."""
    data = _read_json(Path(root) / SIDECAR)
    return data.get("generator_version") if isinstance(data, dict) else None


def is_synthetic_corpus(root: Path) -> bool:
    """True when `root` holds a complete synthetic corpus (sidecar and every session's files)."""
    root = Path(root)
    try:
        truth = load_truth(root)
    except CorpusError:
        return False
    for s in truth["sessions"]:
        folder = root / f"{s['id']}_P"
        if not (folder / f"{s['id']}_AUDIO.wav").is_file():
            return False
        if not (folder / f"{s['id']}_TRANSCRIPT.csv").is_file():
            return False
    return all((root / name).is_file() for name in SPLIT_FILES.values())


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
