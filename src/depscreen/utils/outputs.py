"""The output policy: one set of rules for where every command may write (#13).

Each command checks its outputs here before doing any work, so a refused path costs nothing
and changes nothing:

* never an input of the same command: the same file (also through a symlink or a hard
  link), or an existing file inside an input folder (a run's weights, a batch's
  recordings); a new file or folder inside an input folder is allowed (`RUN/eval-test`);
* never at or under a corpus root (`roots`), not even a new file: the corpus is only read;
* never a device, FIFO or socket, and a file output never a folder;
* an existing regular file is replaced only with `force`, and never when it is an input;
* a symlink is written through: its target is the output and is checked by these rules
  (the returned path is the target, so the atomic rename replaces the target, not the link);
* a folder output may not be, contain or lie inside a corpus root, and may not be or
  contain an input; it is built in a temporary sibling and swapped in whole
  (`utils.atomic.atomic_folder`), so when it already exists it must hold nothing but what
  the command writes there (`owned`): the swap would take anything else with it.

Refusals raise `OutputError` (exit status 2) naming the option, the path and why.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from depscreen.errors import OutputError

# (what it is, a noun phrase for messages: "the --audio recording", "the corpus root --root";
#  its path, or None when not given)
Named = tuple[str, "str | os.PathLike[str] | None"]


@dataclass(frozen=True)
class _Place:
    label: str
    path: Path  # absolute, every symlink resolved
    stat: os.stat_result | None  # None when nothing is there (yet)


def _place(label: str, path: str | os.PathLike[str]) -> _Place:
    try:
        resolved = Path(os.path.realpath(Path(path).expanduser()))
    except ValueError:  # a NUL byte in the name: no such file, nothing to resolve
        return _Place(label, Path(path).absolute(), None)
    try:
        st = resolved.stat()
    except OSError:
        st = None
    return _Place(label, resolved, st)


def _places(named: Iterable[Named]) -> list[_Place]:
    return [_place(label, path) for label, path in named if path is not None]


def _same(a: _Place, b: _Place) -> bool:
    if a.stat is not None and b.stat is not None:  # hard links and bind mounts too
        return (a.stat.st_dev, a.stat.st_ino) == (b.stat.st_dev, b.stat.st_ino)
    return a.path == b.path


def _within(child: Path, parent: Path) -> bool:
    """`child` is `parent` or lies inside it."""
    return child == parent or parent in child.parents


def _kind(st: os.stat_result) -> str | None:
    """What a non-regular file is, in words; None for a regular file."""
    for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISSOCK, "a socket")):
        if test(st.st_mode):
            return name
    return None


def corpus_folder(root: str | os.PathLike[str]) -> Path:
    """The folder a corpus lives in: `root` itself, or the folder of a manifest CSV."""
    root = Path(root)
    return root.parent if root.is_file() else root


def _refuse(what: str, given: Path, reason: str) -> OutputError:
    return OutputError(f"{what} {given}: {reason}")


def _check_roots(what: str, given: Path, out: _Place, roots: list[_Place],
                 folder: bool) -> None:
    for root in roots:
        if out.path == root.path:
            raise _refuse(what, given, f"is {root.label}, which depscreen only reads; "
                                       "choose a path outside it")
        if _within(out.path, root.path):
            raise _refuse(what, given, f"is inside {root.label} ({root.path}), which depscreen "
                                       "only reads; choose a path outside it")
        if folder and _within(root.path, out.path):
            raise _refuse(what, given, f"contains {root.label} ({root.path}); choose a folder "
                                       "outside it")


def check_output_file(path: str | os.PathLike[str], *, inputs: Iterable[Named] = (),
                      roots: Iterable[Named] = (), force: bool = False,
                      what: str = "--out") -> Path:
    """The path to write a file output to (a symlink's target), or `OutputError`."""
    given = Path(path)
    out = _place(what, given)
    via = f" (through the link {given})" if given.is_symlink() else ""
    if out.stat is not None and (kind := _kind(out.stat)) is not None:
        hint = (f"{what} names a file to write" if kind == "a folder"
                else "choose a regular file")
        raise _refuse(what, given, f"is {kind}{via}, not a file; {hint}")
    places = _places(inputs)
    for inp in places:
        if _same(out, inp):
            raise _refuse(what, given, f"is {inp.label}, an input of this command{via}; "
                                       "choose another path")
    _check_roots(what, given, out, _places(roots), folder=False)
    if out.stat is not None:
        for inp in places:
            if inp.stat is not None and stat.S_ISDIR(inp.stat.st_mode) \
                    and _within(out.path, inp.path):
                raise _refuse(what, given, f"is a file inside {inp.label} ({inp.path}), an "
                                           "input of this command; choose a path outside it")
        if not force:
            raise _refuse(what, given, f"file exists{via}; pass --force to replace it, or "
                                       "choose another path")
    return out.path


def check_output_folder(path: str | os.PathLike[str], *, inputs: Iterable[Named] = (),
                        roots: Iterable[Named] = (), what: str = "--out",
                        owned: Callable[[str], bool] | None = None,
                        owner: str = "this command's") -> Path:
    """The folder to build a folder output at (a symlink's target), or `OutputError`.

    `owned(name)` says whether an entry of an existing folder is the command's own output;
    any other entry makes the folder the user's, and it is refused (`owner` names whose
    files are expected, e.g. "an evaluation's").
    """
    given = Path(path)
    out = _place(what, given)
    if out.stat is not None and (kind := _kind(out.stat)) != "a folder":
        raise _refuse(what, given, f"is {kind or 'a file'}, not a folder; {what} names the "
                                   "folder to write")
    for inp in _places(inputs):
        if _same(out, inp):
            raise _refuse(what, given, f"is {inp.label}, an input of this command; choose "
                                       "another folder")
        if _within(inp.path, out.path):
            raise _refuse(what, given, f"contains {inp.label} ({inp.path}), an input of "
                                       "this command; choose a folder that holds no input")
    _check_roots(what, given, out, _places(roots), folder=True)
    if out.stat is not None and owned is not None:
        foreign = sorted(p.name for p in out.path.iterdir() if not owned(p.name))
        if foreign:  # the folder is swapped whole: never take a user's files with it
            more = ", ..." if len(foreign) > 3 else ""
            raise _refuse(what, given, f"holds files that are not {owner} "
                                       f"({', '.join(foreign[:3])}{more}); choose a new or "
                                       f"empty {what}")
    return out.path
