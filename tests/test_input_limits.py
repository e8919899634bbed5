"""Limits on reading untrusted input and one-line errors for what used to be tracebacks (#13
items 3, 6, 7 and 8)."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from depscreen.errors import OutputError


# ----------------------------------------------------------------------------- outputs
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EACCES])
def test_a_failing_write_is_an_output_error_naming_the_path(code, tmp_path: Path,
                                                            monkeypatch) -> None:
    from depscreen.utils import atomic

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(atomic.os, "fsync" if code == errno.ENOSPC else "replace", fail)
    target = tmp_path / "out.json"
    with pytest.raises(OutputError) as err:
        atomic.atomic_write_text(target, "{}")
    assert str(target) in str(err.value) and os.strerror(code) in str(err.value)
    assert not target.exists() and not list(tmp_path.iterdir())  # no temporary left


def test_a_read_only_folder_is_an_output_error(tmp_path: Path, monkeypatch) -> None:
    from depscreen.utils import atomic

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    monkeypatch.setattr(atomic.tempfile, "mkdtemp", read_only)
    with pytest.raises(OutputError, match="Read-only file system"):
        with atomic.atomic_folder(tmp_path / "ev"):
            pass


def test_disk_full_while_writing_a_folder_is_an_output_error(tmp_path: Path) -> None:
    from depscreen.utils import atomic

    with pytest.raises(OutputError, match="No space left"):
        with atomic.atomic_folder(tmp_path / "ev"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    assert not list(tmp_path.iterdir())


def test_prepare_into_an_unwritable_folder_is_one_line(tmp_path: Path, monkeypatch) -> None:
    from corpora.fixtures import write_manifest

    from depscreen.corpora import prepare as prep

    manifest = write_manifest(tmp_path / "m.csv", [
        {"session_id": "a", "label": 1, "text": "i feel low", "split": "train"}])
    real_mkdir = Path.mkdir

    def mkdir(self, *args, **kwargs):
        if self.name == "out":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))
        return real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    with pytest.raises(OutputError, match="Permission denied") as err:
        prep.prepare("manifest", manifest, tmp_path / "out", progress=False)
    assert str(tmp_path / "out") in str(err.value)
