"""The `.dsb` container: a zip archive of named data members, a checksum manifest and an
archive hash. It knows nothing of models; bundle.py decides what the members mean.

    manifest.json   format name "depscreen-bundle", format_version, the depscreen version
                    that wrote it, the model's name and version, and for every other member
                    its size and SHA-256

The archive comment carries a SHA-256 of every byte before it, so one changed byte anywhere
in the file — inside a member or in the zip's own headers — is detected. Reading refuses
member names that are absolute, contain `..`, or are not in the member list, and checks every
member's size and SHA-256 and the archive hash *before* anything but the manifest is parsed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from depscreen import __version__
from depscreen.errors import DepscreenError

BUNDLE_FORMAT = "depscreen-bundle"
BUNDLE_FORMAT_VERSION = 1
BUNDLE_SUFFIX = ".dsb"
MANIFEST = "manifest.json"
REQUIRED_MEMBERS = (
    "weights.safetensors",
    "model.json",
    "features.json",
    "calibration.json",
    "thresholds.json",
)
# regression.json: models with a PHQ-8 score head only (inference/regression.py).
OPTIONAL_MEMBERS = ("vocab.json", "regression.json")
# Limits: a bundle of the paper's models is a few MiB; these stop a hostile file early.
MAX_BUNDLE_BYTES = 2 * 1024**3
MAX_JSON_BYTES = 64 * 1024**2
MAX_WEIGHTS_BYTES = MAX_BUNDLE_BYTES
# The archive comment: this prefix, then the hex SHA-256 of every byte before the comment.
_COMMENT_PREFIX = b"depscreen-bundle sha256:"
_COMMENT_LEN = len(_COMMENT_PREFIX) + 64
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same run exports to the same bytes
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError,
               NotImplementedError, ValueError)


class BundleError(DepscreenError):
    """A model bundle or run folder cannot be used (corrupt, modified, foreign, incompatible)."""


def _corrupt(detail: str, path: str | Path) -> BundleError:
    return BundleError(f"bundle is corrupt or was modified: {detail}; export it again from "
                       "its run folder", path)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_archive(members: dict[str, bytes], model: str, model_version: str) -> bytes:
    """The bytes of an archive of `members` (deterministic for the same members)."""
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "depscreen_version": __version__,
        "model": model,
        "model_version": model_version,
        "files": {n: {"sha256": sha256(b), "size": len(b)} for n, b in sorted(members.items())},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in [(MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode()),
                           *sorted(members.items())]:
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            z.writestr(info, data)
        z.comment = b"0" * _COMMENT_LEN  # placeholder of the final length
    data = buf.getvalue()
    body = data[:-_COMMENT_LEN]
    return body + _COMMENT_PREFIX + sha256(body).encode()


_SAFE_NAME = re.compile(r"[A-Za-z0-9._-]+")


def _read_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int, where: Path) -> bytes:
    if info.file_size > limit:
        raise BundleError(f"member {info.filename} is {info.file_size} bytes, above the limit "
                          f"of {limit}", where)
    if info.flag_bits & 0x1:
        raise BundleError(f"member {info.filename} is encrypted; not a depscreen bundle", where)
    try:
        with z.open(info) as f:
            data = f.read(limit + 1)  # never trust the header's size: read at most limit + 1
    except _ZIP_ERRORS as e:
        raise _corrupt(f"{info.filename}: {e}", where) from None
    if len(data) > limit:
        raise BundleError(f"member {info.filename} is larger than the limit of {limit}", where)
    return data


def parse_json(data: bytes, name: str, where: Path) -> Any:
    def no_constants(value: str) -> Any:
        raise ValueError(f"{value} is not allowed")

    try:
        return json.loads(data.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError) as e:
        raise BundleError(f"{name} is not valid JSON ({e})", where) from None
    except RecursionError:  # deeply nested arrays or objects
        raise BundleError(f"{name} is nested too deeply to be a depscreen file", where) from None


def read_archive(data: bytes, where: Path) -> tuple[dict, dict[str, bytes]]:
    """(manifest, {member: bytes}) of an archive, every checksum verified; BundleError
    naming `where` for anything corrupt, modified, foreign or too new."""
    ours = data[-_COMMENT_LEN:].startswith(_COMMENT_PREFIX)
    if not data.startswith(b"PK\x03\x04"):
        if ours:  # our archive checksum at the end, but the start was changed
            raise _corrupt("the zip header is damaged", where)
        raise BundleError("not a depscreen bundle (not a zip archive); make one with "
                          "`depscreen export RUN --out FILE.dsb`", where)
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        infos = z.infolist()
    except _ZIP_ERRORS as e:
        raise _corrupt(f"unreadable zip structure ({e})", where) from None
    names = [i.filename for i in infos]

    def foreign(message: str) -> BundleError:
        # A file that ends with our archive checksum was one of ours: say it was modified.
        return _corrupt(message, where) if ours else BundleError(message, where)

    if MANIFEST not in names:
        raise foreign("not a depscreen bundle (no manifest.json); make one with "
                          "`depscreen export RUN --out FILE.dsb`")
    allowed = {MANIFEST, *REQUIRED_MEMBERS, *OPTIONAL_MEMBERS}
    for name in names:
        parts = PurePosixPath(name).parts
        if (name.startswith(("/", "\\")) or "\\" in name or ".." in parts or len(parts) != 1
                or not _SAFE_NAME.fullmatch(name)):
            raise foreign(f"unsafe member name {name!r} (absolute, nested or with '..'); "
                          "refused")
        if name not in allowed:
            raise foreign(f"unexpected member {name!r}; a depscreen bundle holds only "
                          f"{', '.join(sorted(allowed))}")
    if len(set(names)) != len(names):
        raise _corrupt("duplicate member names", where)
    by_name = {i.filename: i for i in infos}

    manifest = parse_json(_read_member(z, by_name[MANIFEST], MAX_JSON_BYTES, where), MANIFEST,
                           where)
    if not isinstance(manifest, dict) or manifest.get("format") != BUNDLE_FORMAT:
        raise foreign("not a depscreen bundle (manifest.json has another format)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise _corrupt("the manifest's format_version is not an integer", where)
    if version > BUNDLE_FORMAT_VERSION:
        raise BundleError(
            f"bundle format version {version} was written by a newer depscreen "
            f"({manifest.get('depscreen_version', '?')}); this is {__version__}, which reads "
            f"version {BUNDLE_FORMAT_VERSION}: upgrade depscreen", where)
    if version < 1:
        raise _corrupt(f"format_version {version} does not exist", where)
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise _corrupt("the manifest has no file list", where)
    members = set(names) - {MANIFEST}
    if set(files) != members:
        missing, extra = set(files) - members, members - set(files)
        raise _corrupt(f"the members do not match the manifest (missing: "
                       f"{sorted(missing) or 'none'}; not listed: {sorted(extra) or 'none'})",
                       where)
    absent = [m for m in REQUIRED_MEMBERS if m not in members]
    if absent:
        raise _corrupt(f"required members missing: {', '.join(absent)}", where)

    # Every checksum is verified before anything but the manifest is parsed.
    raw: dict[str, bytes] = {}
    for name in sorted(members):
        entry = files[name]
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise _corrupt(f"the manifest entry of {name} has no checksum", where)
        limit = MAX_WEIGHTS_BYTES if name == "weights.safetensors" else MAX_JSON_BYTES
        blob = _read_member(z, by_name[name], limit, where)
        if len(blob) != entry.get("size") or sha256(blob) != entry["sha256"]:
            raise _corrupt(f"{name} does not match its checksum in the manifest", where)
        raw[name] = blob
    comment = z.comment
    body = data[: len(data) - len(comment)]
    if (len(comment) != _COMMENT_LEN or not comment.startswith(_COMMENT_PREFIX)
            or comment[len(_COMMENT_PREFIX):].decode("ascii", "replace") != sha256(body)):
        raise _corrupt("the archive checksum does not match its contents", where)
    return manifest, raw
