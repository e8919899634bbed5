"""Portable model bundles (`.dsb`): export a trained run, load a run folder or a bundle.

A bundle is a zip archive holding only data, never code:

    manifest.json        format name "depscreen-bundle", format_version, the depscreen version
                         that wrote it, the model's name and version, and for every other member
                         its size and SHA-256
    weights.safetensors  the weights (safetensors: tensors and a JSON header, no pickles)
    model.json           registry name + model config (rebuilt with `create_model`)
    vocab.json           the training vocabulary (token-input text models only)
    features.json        the log-Mel config and its hash, the text config, text input, modalities
    calibration.json     how probabilities are calibrated (fitted on dev, see below)
    thresholds.json      utterance- and participant-level decision thresholds chosen on dev

The archive comment carries a SHA-256 of every byte before it, so one changed byte anywhere
in the file — inside a member or in the zip's own headers — is detected.

Loading (`load_bundle`) never unpickles and never executes anything from the file: it reads
the archive into memory (size-limited), refuses member names that are absolute, contain
`..`, or are not in the list above, checks every member's size and SHA-256 and the archive
hash *before* parsing anything but the manifest, then parses JSON with `json` and tensors with
`safetensors`. The feature config must hash to the key stored with it under this version of
the feature code (`LogMelConfig.key()`), so a model is never fed features computed differently
from those it was trained on.

Calibration. `decision-fusion` carries its own calibration in its weights (Platt scaling per
modality and the fusion weight, fitted on dev by training); its output is used as is. Every
other model's softmax output is Platt-scaled at load/export time on the run's dev
predictions (class-balanced, as decision-fusion does), and the decision thresholds are
chosen on the calibrated dev predictions. Nothing is ever fitted on test.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np

from depscreen import __version__
from depscreen.errors import ConfigError, DepscreenError
from depscreen.features.audio import LOGMEL_VERSION, LogMelConfig
from depscreen.features.representations import FeatureChoice
from depscreen.features.text import TextConfig, Vocabulary
from depscreen.models import model_class
from depscreen.stats.platt import fit_platt, logit
from depscreen.utils.atomic import atomic_write_bytes
from depscreen.utils.files import read_limited

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
OPTIONAL_MEMBERS = ("vocab.json",)
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


@dataclass
class LoadedModel:
    """A model ready for `predict_interview`, from a run folder or a bundle.

    `thresholds`: {"utterance": t, "participant": t} chosen on dev.
    `calibration`: how the model's probabilities are calibrated (see the module docstring);
    for method "platt", p = sigmoid(a * logit(p_model) + b).
    `version`: the first 12 hex digits of the weights' SHA-256 (identifies the weights).
    """

    model: Any  # DepressionModel
    name: str
    model_config: dict
    version: str
    vocab: Vocabulary | None
    audio_cfg: LogMelConfig
    text_cfg: TextConfig
    text_input: str
    data_modalities: frozenset[str]
    thresholds: dict[str, float]
    calibration: dict
    source: str  # "run" or "bundle"
    path: Path
    depscreen_version: str = __version__
    sentence_encoder: str | None = None
    warnings: list[str] = field(default_factory=list)
    # The representations it was trained on (log-Mel + tokens for older runs and bundles).
    choice: FeatureChoice = field(default_factory=FeatureChoice)

    @property
    def decision_level(self) -> bool:
        """Per-modality models fused after scoring: it can answer with one modality."""
        return model_class(self.name).fitting == "decision"

    @property
    def modalities(self) -> frozenset[str]:
        """What the model architecture reads (decision-fusion can do with either one)."""
        return frozenset(self.model.modalities)

    def describe(self) -> dict:
        """The model's identity for prediction outputs."""
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "trained_with_depscreen": self.depscreen_version,
            "calibration": self.calibration.get("method"),
            "thresholds_chosen_on": "dev",
        }


# ----------------------------------------------------------------------------- shared pieces


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _build_model(name: str, config: dict, state: dict, where: Path):
    """Rebuild a registered model and load its weights (strictly); no code from the file runs."""
    import torch

    from depscreen.models import create_model

    try:
        model = create_model(name, **config)
    except ConfigError as e:
        raise BundleError(f"the model config is not valid for this depscreen ({e.reason})",
                          where) from None
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise BundleError(f"the weights hold non-finite values (tensor {key!r})", where)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0][:160]
        raise BundleError(f"the weights do not fit the model config ({first})", where) from None
    model.eval()
    return model


def _load_tensors(data: bytes, where: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    try:
        return load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise BundleError(f"the weights are not a valid safetensors file ({e})", where) from None


def _feature_section(features: dict, text_input: str, where: Path) -> tuple[LogMelConfig,
                                                                            TextConfig,
                                                                            frozenset[str]]:
    try:
        audio_cfg = LogMelConfig.from_dict(dict(features["audio"]))
        text_cfg = TextConfig(**dict(features["text"]))
        mods = frozenset(features["modalities"])
    except (KeyError, TypeError, ValueError) as e:
        raise BundleError(f"the feature config is incomplete ({e})", where) from None
    except ConfigError as e:
        raise BundleError(f"the feature config is not valid for this depscreen ({e.reason})",
                          where) from None
    if not mods or not mods <= {"text", "speech"}:
        raise BundleError(f"the feature config names unknown modalities {sorted(mods)}", where)
    if text_input not in ("tokens", "embedding"):
        raise BundleError(f"unknown text input {text_input!r}", where)
    return audio_cfg, text_cfg, mods


def _feature_choice(features: dict, text_input: str, where: Path) -> FeatureChoice:
    """The representations a run or bundle records (`FeatureChoice.recorded`), or a
    BundleError naming the file."""
    try:
        return FeatureChoice.recorded(features, text_input)
    except (ConfigError, TypeError) as e:
        raise BundleError(f"the recorded representations are not valid ({e})", where) from None


def _check_thresholds(thresholds: dict, where: Path) -> dict[str, float]:
    out = {}
    for level in ("utterance", "participant"):
        t = thresholds.get(level)
        if not isinstance(t, int | float) or isinstance(t, bool) or not 0.0 <= t <= 1.0:
            raise BundleError(f"the {level} threshold {t!r} is not a number in [0, 1]", where)
        out[level] = float(t)
    return out


def _check_calibration(cal: dict, where: Path) -> dict:
    method = cal.get("method")
    if method not in ("platt", "identity", "decision-fusion"):
        raise BundleError(f"unknown calibration method {method!r}", where)
    if method == "platt":
        a, b = cal.get("a"), cal.get("b")
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (a, b)):
            raise BundleError("the calibration parameters are not finite numbers", where)
    return cal


# ----------------------------------------------------------------------------- calibration


def apply_calibration(cal: dict, p):
    """Calibrated probabilities (numpy array or float) for the model's raw probabilities `p`."""
    if cal.get("method") != "platt":
        return p
    z = logit(np.asarray(p, dtype=np.float64))
    return 1.0 / (1.0 + np.exp(-(cal["a"] * z + cal["b"])))


def _decision_fusion_calibration(model) -> dict:
    text = model.platt_text.tolist()
    speech = model.platt_speech.tolist()
    return {
        "method": "decision-fusion",
        "fitted_on": "dev",
        "detail": "Platt scaling per modality and the text weight w, fitted on dev by "
                  "training and stored in the weights; the fused probability is used as is",
        "text": [float(v) for v in text],
        "speech": [float(v) for v in speech],
        "weight": float(model.fusion_weight),
        "calibrated": bool(model.calibrated),
    }


def fit_dev_calibration(dev) -> dict:
    """Platt scaling of a run's dev predictions (class-balanced); identity if it fails.

    `dev`: the labelled rows of dev_predictions.csv (columns `prob`, `label`).
    """
    y = dev["label"].to_numpy(dtype=int)
    base = {"fitted_on": "dev", "n": int(len(y))}
    if len(y) < 2 or len(np.unique(y)) < 2:
        return {"method": "identity", **base,
                "detail": "dev has a single class; raw softmax probabilities are used"}
    a, b = fit_platt(logit(dev["prob"].to_numpy()), y, balanced=True)
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
        return {"method": "identity", **base,
                "detail": "the dev predictions do not rise with the label, so Platt scaling "
                          "would invert them; raw softmax probabilities are used"}
    return {"method": "platt", **base, "a": float(a), "b": float(b), "balanced": True,
            "detail": "Platt scaling of the softmax output, fitted on the dev predictions"}


def _dev_thresholds(run: Path, calibration: dict) -> dict[str, float]:
    from depscreen.evaluation.evaluate import dev_thresholds

    dev = _read_dev(run)
    probs = apply_calibration(calibration, dev["prob"].to_numpy())
    return dev_thresholds(dev["session_id"], probs, dev["label"])


def _read_dev(run: Path):
    import pandas as pd

    path = run / "dev_predictions.csv"
    try:
        dev = pd.read_csv(path, dtype={"session_id": str})
    except (OSError, ValueError) as e:
        raise BundleError(f"cannot read the run's dev predictions ({e})", path) from None
    if not {"session_id", "prob", "label"} <= set(dev.columns):
        raise BundleError("dev predictions lack the columns session_id, prob, label", path)
    return dev[dev["label"] >= 0]


# ----------------------------------------------------------------------------- run folders


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError("not a finished run folder (file missing)", path) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BundleError(f"cannot read JSON ({e})", path) from None


def load_run(run: str | Path) -> LoadedModel:
    """A finished run folder (from `depscreen train`) as a LoadedModel."""
    run = Path(run)
    if not (run / "done.json").is_file():
        raise BundleError("not a finished run folder (no done.json); train it to the end "
                          "first, or pass a .dsb bundle", run)
    spec = _read_json(run / "model.json")
    cfg = _read_json(run / "config.json")
    try:
        name, config = spec["name"], spec["config"]
        features = cfg["features"]
        text_input = spec.get("text_input") or cfg["train"].get("text_input", "tokens")
    except (KeyError, TypeError) as e:
        raise BundleError(f"run files are incomplete ({e})", run) from None
    weights_path = run / "weights.safetensors"
    try:
        weights = weights_path.read_bytes()
    except OSError as e:
        raise BundleError(f"cannot read the weights ({e.strerror})", weights_path) from None
    audio_cfg, text_cfg, mods = _feature_section(features, text_input, run)
    model = _build_model(name, config, _load_tensors(weights, weights_path), run)
    vocab = None
    if (run / "vocab.json").is_file():
        try:
            vocab = Vocabulary.load(run / "vocab.json")
        except DepscreenError as e:
            raise BundleError(e.reason, run / "vocab.json") from None
    if model_class(name).fitting == "decision":
        calibration = _decision_fusion_calibration(model)
    else:
        calibration = fit_dev_calibration(_read_dev(run))
    thresholds = _dev_thresholds(run, calibration)
    loaded = LoadedModel(
        model=model, name=name, model_config=config, version=_sha256(weights)[:12], vocab=vocab,
        audio_cfg=audio_cfg, text_cfg=text_cfg, text_input=text_input, data_modalities=mods,
        thresholds=thresholds, calibration=calibration, source="run", path=run,
        sentence_encoder=_encoder_name() if text_input == "embedding" else None,
        choice=_feature_choice(features, text_input, run),
    )
    _check_vocab(loaded)
    _calibration_warning(loaded)
    return loaded


def _calibration_warning(loaded: LoadedModel) -> None:
    cal = loaded.calibration
    if cal.get("method") == "decision-fusion" and not cal.get("calibrated", True):
        loaded.warnings.append("this decision-fusion model was never calibrated on dev; its "
                               "probabilities are not calibrated")
    elif cal.get("method") == "identity" and not loaded.decision_level:
        loaded.warnings.append(f"probabilities are not calibrated ({cal.get('detail', '')})")


def _encoder_name() -> str:
    from depscreen.features.text import SentenceEncoder

    return SentenceEncoder().name


def _check_vocab(loaded: LoadedModel) -> None:
    uses_tokens = "text" in loaded.data_modalities and loaded.text_input == "tokens"
    if uses_tokens and loaded.vocab is None:
        raise BundleError("the model reads token ids but no vocabulary was found (vocab.json)",
                          loaded.path)


# ----------------------------------------------------------------------------- export


def bundle_members(loaded: LoadedModel, weights: bytes) -> dict[str, bytes]:
    """The members of a bundle (everything but the manifest), as bytes."""

    def js(obj: Any) -> bytes:
        return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()

    members = {
        "weights.safetensors": weights,
        "model.json": js({"format": 1, "name": loaded.name, "config": loaded.model_config,
                          "text_input": loaded.text_input}),
        "features.json": js({
            "audio": loaded.audio_cfg.to_dict(),
            "audio_key": loaded.audio_cfg.key(),
            "logmel_version": LOGMEL_VERSION,
            "text": loaded.text_cfg.to_dict(),
            "text_input": loaded.text_input,
            "modalities": sorted(loaded.data_modalities),
            "sentence_encoder": loaded.sentence_encoder,
            "representations": loaded.choice.to_dict(),
        }),
        "calibration.json": js(loaded.calibration),
        "thresholds.json": js({**loaded.thresholds, "aggregation": "mean", "chosen_on": "dev"}),
    }
    if loaded.vocab is not None:
        members["vocab.json"] = (loaded.vocab.to_json() + "\n").encode()
    return members


def build_bundle(loaded: LoadedModel, weights: bytes) -> bytes:
    """The bytes of a bundle for `loaded` (deterministic for the same run)."""
    members = bundle_members(loaded, weights)
    manifest = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_FORMAT_VERSION,
        "depscreen_version": __version__,
        "model": loaded.name,
        "model_version": loaded.version,
        "files": {n: {"sha256": _sha256(b), "size": len(b)} for n, b in sorted(members.items())},
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
    return body + _COMMENT_PREFIX + _sha256(body).encode()


def export_bundle(run: str | Path, out: str | Path, force: bool = False) -> LoadedModel:
    """Write the bundle of a finished run folder to `out` (atomically) and check it loads.

    Refuses to replace an existing file unless `force`.
    """
    run, out = Path(run), Path(out)
    if out.is_dir():
        raise BundleError("is a folder; --out names the bundle file to write", out)
    if out.exists() and not force:
        raise BundleError("file exists; choose another --out or pass --force", out)
    loaded = load_run(run)
    weights = (run / "weights.safetensors").read_bytes()
    data = build_bundle(loaded, weights)
    check = load_bundle_bytes(data, out)  # never write a bundle we could not load back
    if check.version != loaded.version:
        raise BundleError("the exported bundle does not load back identically", out)
    try:
        atomic_write_bytes(out, data)
    except OSError as e:
        raise BundleError(f"cannot write the bundle ({e.strerror or e})", out) from None
    return loaded


# ----------------------------------------------------------------------------- load a bundle

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


def _parse_json(data: bytes, name: str, where: Path) -> Any:
    def no_constants(value: str) -> Any:
        raise ValueError(f"{value} is not allowed")

    try:
        return json.loads(data.decode("utf-8"), parse_constant=no_constants)
    except (UnicodeDecodeError, ValueError) as e:
        raise BundleError(f"{name} is not valid JSON ({e})", where) from None


def load_bundle(path: str | Path, max_bytes: int = MAX_BUNDLE_BYTES) -> LoadedModel:
    """Load a `.dsb` bundle; `BundleError` for anything corrupt, modified, foreign or too new."""
    path = Path(path)
    data = read_limited(path, max_bytes, "bundle", BundleError,
                        empty_message="not a depscreen bundle (empty file)")
    return load_bundle_bytes(data, path)


def load_bundle_bytes(data: bytes, path: str | Path = "<bundle>") -> LoadedModel:
    """Load a bundle from its bytes (see `load_bundle`); `path` only names it in messages."""
    where = Path(path)
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

    manifest = _parse_json(_read_member(z, by_name[MANIFEST], MAX_JSON_BYTES, where), MANIFEST,
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
        if len(blob) != entry.get("size") or _sha256(blob) != entry["sha256"]:
            raise _corrupt(f"{name} does not match its checksum in the manifest", where)
        raw[name] = blob
    comment = z.comment
    body = data[: len(data) - len(comment)]
    if (len(comment) != _COMMENT_LEN or not comment.startswith(_COMMENT_PREFIX)
            or comment[len(_COMMENT_PREFIX):].decode("ascii", "replace") != _sha256(body)):
        raise _corrupt("the archive checksum does not match its contents", where)

    spec = _parse_json(raw["model.json"], "model.json", where)
    features = _parse_json(raw["features.json"], "features.json", where)
    calibration = _parse_json(raw["calibration.json"], "calibration.json", where)
    thresholds = _parse_json(raw["thresholds.json"], "thresholds.json", where)
    for obj, name in ((spec, "model.json"), (features, "features.json"),
                      (calibration, "calibration.json"), (thresholds, "thresholds.json")):
        if not isinstance(obj, dict):
            raise BundleError(f"{name} is not a JSON object", where)
    try:
        name, config = spec["name"], spec["config"]
        text_input = features["text_input"]
        stored_key = features["audio_key"]
    except KeyError as e:
        raise BundleError(f"the bundle lacks {e}", where) from None
    if not isinstance(name, str) or not isinstance(config, dict):
        raise BundleError("model.json must name the model and give its config", where)
    audio_cfg, text_cfg, mods = _feature_section(features, text_input, where)
    if audio_cfg.key() != stored_key:
        raise BundleError(
            "the bundle's feature config does not match what this depscreen computes "
            f"(log-Mel features v{features.get('logmel_version', '?')} in the bundle, "
            f"v{LOGMEL_VERSION} here; made with depscreen "
            f"{manifest.get('depscreen_version', '?')}): re-export the model with this "
            "version, or install the one that made it", where)
    vocab = None
    if "vocab.json" in raw:
        try:
            vocab = Vocabulary.from_json(raw["vocab.json"].decode("utf-8"))
        except (DepscreenError, UnicodeDecodeError) as e:
            raise BundleError(f"vocab.json is not a vocabulary ({e})", where) from None
    model = _build_model(name, config, _load_tensors(raw["weights.safetensors"], where), where)
    loaded = LoadedModel(
        model=model, name=name, model_config=config,
        version=_sha256(raw["weights.safetensors"])[:12], vocab=vocab, audio_cfg=audio_cfg,
        text_cfg=text_cfg, text_input=text_input, data_modalities=mods,
        thresholds=_check_thresholds(thresholds, where),
        calibration=_check_calibration(calibration, where), source="bundle", path=where,
        depscreen_version=str(manifest.get("depscreen_version", "?")),
        sentence_encoder=features.get("sentence_encoder"),
        choice=_feature_choice(features, text_input, where),
    )
    _check_vocab(loaded)
    _calibration_warning(loaded)
    if loaded.sentence_encoder and loaded.sentence_encoder != _encoder_name():
        loaded.warnings.append(
            f"the model was trained with sentence encoder {loaded.sentence_encoder}; "
            f"this installation has {_encoder_name()} (embeddings may differ slightly)")
    return loaded


def load_model(path: str | Path) -> LoadedModel:
    """A run folder or a `.dsb` bundle, whichever `path` is."""
    path = Path(path)
    if path.is_dir():
        return load_run(path)
    if path.is_file():
        return load_bundle(path)
    raise BundleError("no such run folder or bundle file", path)
