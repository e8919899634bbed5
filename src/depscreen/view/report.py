"""Writing screening pages for `predict --report`: one interview's page, or a batch's index
with one page per session beside it.

Pages are written atomically (a reader never sees half a page) and never over a file the
same command reads: `check_target` refuses a --report that names an input (the recording,
the transcript, the model, the manifest, the --out file) with a one-line error, before any
work is done; a batch checks each session's page the same way.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from depscreen.audio import DEFAULT_MAX_BYTES, split_ref
from depscreen.errors import ConfigError
from depscreen.utils.atomic import atomic_write_text
from depscreen.view.index import page_name, render_index
from depscreen.view.media import audio_data_uri
from depscreen.view.page import render_page


class ReportError(ConfigError):
    """A --report target that cannot be written (a folder, or one of the command's inputs)."""


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def input_paths(*refs: str | Path | None) -> list[Path]:
    """The files behind inputs (an `archive.zip::member` ref is its archive)."""
    return [split_ref(str(r))[0] for r in refs if r is not None and str(r) != ""]


def check_target(target: Path, inputs: Iterable[Path], what: str = "--report") -> None:
    """ReportError when `target` is a folder or the same file as one of `inputs`."""
    if target.is_dir():
        raise ReportError(f"is a folder; {what} needs an .html file name", target)
    for p in inputs:
        if _same_file(target, p):
            raise ReportError(f"{what} would overwrite an input of this command ({p}); "
                              "choose another file name", target)


def write_page(path: Path, result: dict, audio: str | None = None,
               max_bytes: int = DEFAULT_MAX_BYTES,
               back_link: tuple[str, str] | None = None) -> None:
    """One interview's page; `audio` (its recording) is embedded when given."""
    uri = audio_data_uri(audio, max_bytes) if audio is not None else None
    atomic_write_text(path, render_page(result, uri, back_link=back_link))


class BatchReport:
    """A batch's pages: `add` writes a session's page as soon as it is scored (results are
    not kept in memory), `finish` writes the ranked index linking to them."""

    def __init__(self, index: Path, inputs: Sequence[Path], embed_audio: bool = False,
                 max_bytes: int = DEFAULT_MAX_BYTES):
        check_target(index, inputs)
        self.index, self.inputs = index, list(inputs)
        self.embed_audio, self.max_bytes = embed_audio, max_bytes
        self.pages: dict[str, str] = {}
        self._taken: set[str] = {index.name.lower()}

    def add(self, item, result: dict) -> None:
        """`item`: the batch item (`session_id`, `audio`) the result was made from."""
        session_id, audio = str(item.session_id), item.audio
        name = page_name(self.index.stem, session_id, self._taken)
        path = self.index.parent / name
        check_target(path, self.inputs, what="a session's page")
        write_page(path, result, audio if self.embed_audio else None, self.max_bytes,
                   back_link=(quote(self.index.name), "← all sessions"))
        self.pages[session_id] = name

    def finish(self, rows: Sequence[Mapping], model: str) -> None:
        atomic_write_text(self.index, render_index(rows, self.pages, model))
