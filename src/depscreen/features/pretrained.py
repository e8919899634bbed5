"""Loading shared by the frozen pretrained encoders, from local folders only.

The encoders are `SSLSpeechRepresentation` (`features/ssl_speech.py`), one hidden layer of
a speech encoder, and `HFTextEncoder` (`features/hf_text.py`), sentence embeddings.

A model is named by a folder in `save_pretrained` layout or by a model id already in the
local Hugging Face cache. Nothing is ever downloaded: the hubs are switched offline before
transformers is imported and every load passes `local_files_only=True`. Weights load on
first use; the constructors only read the JSON configs, so a bad folder fails early with a
`FeatureError` and a bad option with a `ConfigError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from depscreen.errors import ConfigError, FeatureError

WEIGHT_SUFFIXES = (".safetensors", ".bin")
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?$")
# Parameters a base model may lack in a checkpoint saved from another head without harm.
_OPTIONAL_WEIGHTS = ("masked_spec_embed", "pooler.", "decoder.")


def offline() -> None:
    """Must run before transformers / huggingface_hub are imported: never download."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"


def first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def _hf_cache_dir() -> Path:
    """The local Hugging Face hub cache, where huggingface_hub would keep downloaded models."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def _from_hf_cache(name: str) -> Path | None:
    """The snapshot folder of model id `name` if it is in the local Hugging Face cache.

    Read from the cache's layout on disk (models--ORG--NAME/refs/main names the snapshot),
    so no hub client is imported and nothing can reach the network.
    """
    if not _REPO_ID.match(name):
        return None
    repo = _hf_cache_dir() / ("models--" + name.replace("/", "--"))
    try:
        commit = (repo / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        snapshots = sorted((repo / "snapshots").glob("*")) if (repo / "snapshots").is_dir() else []
        return snapshots[-1] if len(snapshots) == 1 else None
    folder = repo / "snapshots" / commit
    return folder if folder.is_dir() else None


def resolve_model_folder(path: str | Path, what: str = "model") -> Path:
    """`path` as an absolute folder: a local folder, or a model id in the local HF cache."""
    text = str(path)
    if not text:
        raise FeatureError(f"no {what} folder given")
    folder = Path(text).expanduser()
    if folder.is_dir():
        return folder.resolve()
    if folder.exists():
        raise FeatureError(f"the {what} must be a folder, not a file", folder)
    cached = _from_hf_cache(text)
    if cached is not None:
        return cached
    raise FeatureError(f"no such {what} folder (nor a model id in the local Hugging Face "
                       "cache; nothing is downloaded)", folder)


def read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise FeatureError(f"cannot read {path.name} ({e.strerror})", path) from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise FeatureError(f"{path.name} is not valid JSON ({e})", path) from e
    if not isinstance(data, dict):
        raise FeatureError(f"{path.name} is not a JSON object", path)
    return data


_SHA_CACHE: dict[tuple, str] = {}


def _weight_files(folder: Path, recursive: bool) -> list[Path]:
    found = folder.rglob("*") if recursive else folder.iterdir()
    return sorted((p for p in found if p.suffix in WEIGHT_SUFFIXES and p.is_file()),
                  key=lambda p: p.relative_to(folder).as_posix())


def weights_sha256(folder: str | Path, recursive: bool = False) -> str:
    """sha256 over the weight files (*.safetensors, *.bin) of `folder`, sorted by name.

    Each file contributes its relative name, size and bytes. Results are remembered per
    (file, size, mtime, inode), so a multi-GB model is hashed once per process.
    """
    folder = Path(folder)
    try:
        files = _weight_files(folder, recursive)
        stamps = tuple((p.relative_to(folder).as_posix(), st.st_size, st.st_mtime_ns, st.st_ino)
                       for p in files for st in [p.stat()])
    except OSError as e:
        raise FeatureError(f"cannot list the model's weight files ({e.strerror})", folder) from e
    if not files:
        raise FeatureError("no weight files (*.safetensors or *.bin) in the model folder", folder)
    memo = (str(folder.resolve()), stamps)
    if memo in _SHA_CACHE:
        return _SHA_CACHE[memo]
    digest = hashlib.sha256()
    for p, (name, size, _, _) in zip(files, stamps, strict=True):
        digest.update(f"{name}\0{size}\0".encode())
        try:
            with open(p, "rb") as f:
                while chunk := f.read(1 << 22):
                    digest.update(chunk)
        except OSError as e:
            raise FeatureError(f"cannot read weight file ({e.strerror})", p) from e
    _SHA_CACHE[memo] = digest.hexdigest()
    return _SHA_CACHE[memo]


def files_sha256(*paths: Path) -> str:
    digest = hashlib.sha256()
    for p in paths:
        digest.update(p.name.encode() + b"\0")
        if p.is_file():
            digest.update(p.read_bytes())
    return digest.hexdigest()


def torch_device(device: str) -> str:
    """"gpu" -> "cuda"; a ConfigError when a CUDA device is asked for but torch has none."""
    device = str(device).strip().lower() or "cpu"
    if device == "gpu":
        device = "cuda"
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested, but torch sees no CUDA GPU")
    elif device not in ("cpu", "mps"):
        raise ConfigError(f"device must be cpu, gpu or cuda[:N], got {device!r}")
    return device


@contextlib.contextmanager
def quiet_loading() -> Iterator[None]:
    """No transformers progress bars while loading (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    was_disabled = hf_logging.is_progress_bar_enabled() is False
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if not was_disabled:
            hf_logging.enable_progress_bar()


# What transformers raises for a folder it cannot load (bad files, wrong shapes, bad config).
LOAD_ERRORS = (OSError, ValueError, KeyError, RuntimeError, TypeError)


def auto_model(folder: Path, what: str):
    """`AutoModel` from `folder`, offline, quietly; a FeatureError naming the folder when it
    cannot be loaded or its weights do not cover the model."""
    offline()
    from transformers import AutoModel

    try:
        with quiet_loading():
            model, info = AutoModel.from_pretrained(str(folder), local_files_only=True,
                                                    output_loading_info=True)
    except LOAD_ERRORS as e:
        raise FeatureError(f"cannot load the {what} ({first_line(e)})", folder) from e
    _check_loading_info(info, folder, what)
    return model


def _check_loading_info(info: dict, folder: Path, what: str) -> None:
    missing = [k for k in info.get("missing_keys", ())
               if not any(s in k for s in _OPTIONAL_WEIGHTS)]
    if missing:
        raise FeatureError(f"the {what}'s weights do not match its config.json: {len(missing)} "
                           f"parameters missing (e.g. {missing[0]})", folder)


def positive_int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    return value
