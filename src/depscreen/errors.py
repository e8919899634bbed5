"""Typed errors and warnings. Library code raises these; only cli.py turns them into exit codes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


def _where(path: str | Path | None, line: int | None) -> str:
    if path is None:
        return ""
    return f"{path}:{line}: " if line is not None else f"{path}: "


class DepscreenError(Exception):
    """A problem the user can act on. Its message is one line and names the file involved."""

    exit_code = 1  # the CLI's exit status for it

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None):
        self.path = str(path) if path is not None else None
        self.line = line
        self.reason = message
        super().__init__(_where(path, line) + message)


class CorpusError(DepscreenError):
    """The corpus cannot be used at all (missing split files, duplicate IDs, ...)."""


class AudioError(DepscreenError):
    """An audio file cannot be read or is unusable (empty, corrupt, not audio, too large)."""


class TranscriptError(DepscreenError):
    """A transcript cannot be read or makes no sense (bad header, bad times, bad encoding)."""


class ConfigError(DepscreenError):
    """A configuration value is invalid."""


class FeatureError(DepscreenError):
    """Features cannot be computed, or a feature cache entry is unusable."""


class OutputError(DepscreenError):
    """An output path the output policy refuses (`depscreen.utils.outputs`): an input of the
    command, under a corpus root, a device, a folder, or an existing file without --force.
    Nothing was written; the CLI exits with status 2, as for any other bad argument."""

    exit_code = 2


class WriteError(OutputError):
    """An output cannot be written (read-only folder, disk full, permissions): names the path
    and the system's reason. Not the user's argument but the machine's state: status 1."""

    exit_code = 1


class Interrupted(DepscreenError):
    """Work was stopped (Ctrl-C) and can be resumed; the CLI exits with status 130."""


@dataclass(frozen=True)
class CorpusWarning:
    """A problem that affects one session only: the session is skipped (or fixed) and counted."""

    message: str
    path: str | None = None
    line: int | None = None
    session_id: str | None = None

    def __str__(self) -> str:
        return _where(self.path, self.line) + self.message


class WarningCollector:
    """Collects per-session warnings; in strict mode the first one is raised as an error."""

    def __init__(self, strict: bool = False):
        self.strict = strict
        self.items: list[CorpusWarning] = []

    def warn(
        self,
        message: str,
        path: str | Path | None = None,
        line: int | None = None,
        session_id: str | None = None,
    ) -> None:
        if self.strict:
            raise CorpusError(message + " (--strict)", path, line)
        self.items.append(
            CorpusWarning(message, str(path) if path is not None else None, line, session_id)
        )

    def __len__(self) -> int:
        return len(self.items)
