"""Writing screening pages for `predict --report`: one interview's page, or a batch's index
with one page per session beside it.

Pages are written atomically (a reader never sees half a page) under the output policy
(`utils.outputs`): before any work, `check_target` refuses a --report that is an input of the
command (the recording, the transcript, the model, the manifest, the --out file), a device
or a folder, and an existing file without --force; a batch checks each session's page the
same way before writing it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from urllib.parse import quote

from depscreen.audio import DEFAULT_MAX_BYTES
from depscreen.utils.atomic import atomic_write_text
from depscreen.utils.outputs import Named, check_output_file
from depscreen.view.index import page_name, render_index
from depscreen.view.media import audio_data_uri
from depscreen.view.page import render_page


def check_target(target: Path, inputs: Sequence[Named], force: bool = False,
                 what: str = "--report") -> Path:
    """Where to write a page (a symlink's target), or `OutputError` from the output policy."""
    return check_output_file(target, inputs=inputs, force=force, what=what)


def write_page(path: Path, result: dict, audio: str | None = None,
               max_bytes: int = DEFAULT_MAX_BYTES,
               back_link: tuple[str, str] | None = None) -> None:
    """One interview's page; `audio` (its recording) is embedded when given."""
    uri = audio_data_uri(audio, max_bytes) if audio is not None else None
    atomic_write_text(path, render_page(result, uri, back_link=back_link))


class BatchReport:
    """A batch's pages: `add` writes a session's page as soon as it is scored (results are
    not kept in memory), `finish` writes the ranked index linking to them."""

    def __init__(self, index: Path, inputs: Sequence[Named], embed_audio: bool = False,
                 max_bytes: int = DEFAULT_MAX_BYTES, force: bool = False):
        index = check_target(index, inputs, force)
        self.index, self.inputs, self.force = index, list(inputs), force
        self.embed_audio, self.max_bytes = embed_audio, max_bytes
        self.pages: dict[str, str] = {}
        self._taken: set[str] = {index.name.lower()}

    def add(self, item, result: dict) -> None:
        """`item`: the batch item (`session_id`, `audio`) the result was made from."""
        session_id, audio = str(item.session_id), item.audio
        name = page_name(self.index.stem, session_id, self._taken)
        path = check_target(self.index.parent / name, self.inputs, self.force,
                            what="a session's page")
        write_page(path, result, audio if self.embed_audio else None, self.max_bytes,
                   back_link=(quote(self.index.name), "← all sessions"))
        self.pages[session_id] = name

    def finish(self, rows: Sequence[Mapping], model: str) -> None:
        atomic_write_text(self.index, render_index(rows, self.pages, model))
