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
    regression.json      models with a PHQ-8 score head only: the participant aggregation,
                         the 80% interval offsets and the dev RMSE, from dev (regression.py)

model.json names the task ("regression", "multitask", "items") of a model with a score head;
without one it is a binary model, as every bundle before score models was (their bytes are
unchanged). A model without a binary head has calibration "none" and the PHQ-8 cutoff of 10
on its score as threshold (inference/regression.py).

The container (zip layout, manifest, checksums, archive hash, member-name and size checks) is
archive.py's; how probabilities are calibrated is calibration.py's. Loading (`load_bundle`)
never unpickles and never executes anything from the file: every checksum is verified before
anything but the manifest is parsed, then JSON is parsed with `json` and tensors with
`safetensors`. The feature config must hash to the key stored with it under this version of
the feature code (`LogMelConfig.key()`), so a model is never fed features computed
differently from those it was trained on. Thresholds are chosen on the calibrated dev
predictions; nothing is ever fitted on test.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from depscreen import __version__
from depscreen.errors import ConfigError, DepscreenError
from depscreen.features.audio import LOGMEL_VERSION, LogMelConfig
from depscreen.features.representations import FeatureChoice
from depscreen.features.text import TextConfig, Vocabulary
from depscreen.inference.archive import (  # noqa: F401  (BundleError and the limits: public)
    BUNDLE_FORMAT,
    BUNDLE_FORMAT_VERSION,
    BUNDLE_SUFFIX,
    MAX_BUNDLE_BYTES,
    BundleError,
    parse_json,
    read_archive,
    sha256,
    write_archive,
)
from depscreen.inference.calibration import (  # noqa: F401  (apply_calibration: public)
    OWN_CALIBRATION,
    apply_calibration,
    check_calibration,
    fit_dev_calibration,
    own_calibration,
)
from depscreen.inference.rebuild import build_model, load_tensors
from depscreen.inference.regression import (
    KNOWN_TASKS,
    SCORE_THRESHOLD_SOURCE,
    check_regression,
    check_score_thresholds,
    dev_regression,
    has_binary_head,
    has_score_head,
    no_calibration,
    score_thresholds,
)
from depscreen.models import model_class
from depscreen.training.run_folder import RunFolder, RunFolderError
from depscreen.utils.atomic import atomic_write_bytes
from depscreen.utils.files import read_limited
from depscreen.utils.outputs import check_output_file


@dataclass
class LoadedModel:
    """A model ready for `predict_interview`, from a run folder or a bundle.

    `thresholds`: {"utterance": t, "participant": t} chosen on dev; for a model without a
    binary head {"score": 10, ...}, the PHQ-8 cutoff (`has_binary_head`).
    `calibration`: how the model's probabilities are calibrated (see the module docstring);
    for method "platt", p = sigmoid(a * logit(p_model) + b); "none" without a binary head.
    `task`: binary, regression, multitask or items; `regression`: for a model with a score
    head, the dev-chosen aggregation, interval offsets, dev RMSE and n (regression.py).
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
    task: str = "binary"
    regression: dict | None = None

    @property
    def has_binary_head(self) -> bool:
        return has_binary_head(self.task)

    @property
    def has_score_head(self) -> bool:
        return has_score_head(self.task)

    @property
    def decision_level(self) -> bool:
        """Per-modality models fused after scoring: it can answer with one modality."""
        return model_class(self.name).fusion == "decision"

    @property
    def modalities(self) -> frozenset[str]:
        """What the model architecture reads (decision-fusion can do with either one)."""
        return frozenset(self.model.modalities)

    def describe(self) -> dict:
        """The model's identity for prediction outputs (a binary model's as it always was)."""
        out = {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "trained_with_depscreen": self.depscreen_version,
            "calibration": self.calibration.get("method"),
            "thresholds_chosen_on": "dev" if self.has_binary_head else SCORE_THRESHOLD_SOURCE,
        }
        if self.task != "binary":
            out["task"] = self.task
        return out


# ----------------------------------------------------------------------------- shared pieces


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


# ----------------------------------------------------------------------------- calibration


def _dev_thresholds(dev, calibration: dict) -> dict[str, float]:
    """Both levels' thresholds on the calibrated probabilities of the labelled dev rows."""
    from depscreen.evaluation.evaluate import dev_thresholds

    probs = apply_calibration(calibration, dev["prob"].to_numpy())
    return dev_thresholds(dev["session_id"], probs, dev["label"])


# ----------------------------------------------------------------------------- run folders


def load_run(run: str | Path) -> LoadedModel:
    """A finished run folder (from `depscreen train`) as a LoadedModel."""
    folder = RunFolder(run)
    try:
        return _load_run(folder)
    except RunFolderError as e:  # one error type for every way a model fails to load
        raise BundleError(e.reason, e.path, e.line) from None


def _load_run(folder: RunFolder) -> LoadedModel:
    run = folder.path
    folder.require_finished("train it to the end first, or pass a .dsb bundle")
    spec, cfg = folder.model_spec(), folder.header()
    source = (cfg.get("train") or {}).get("source", "participant")
    if source != "participant":
        raise BundleError(f"this run read the {source} turns (--source {source}, an audit "
                          "run); only participant-only runs can screen interviews", run)
    try:
        name, config = spec["name"], spec["config"]
        features = cfg["features"]
        text_input = folder.text_input(spec, cfg)
    except (KeyError, TypeError) as e:
        raise BundleError(f"run files are incomplete ({e})", run) from None
    weights = folder.weights_bytes()
    task = _task(spec, run)
    audio_cfg, text_cfg, mods = _feature_section(features, text_input, run)
    model = build_model(name, config, load_tensors(weights, folder.weights_file), run, task)
    vocab = folder.load_vocab()
    dev_rows = folder.read_dev_predictions(labelled_only=False)  # read once, used by both heads
    if not has_binary_head(task):
        calibration, thresholds = no_calibration(task), score_thresholds()
    else:
        dev = dev_rows[dev_rows["label"] >= 0]
        if not np.isfinite(dev["prob"].to_numpy(dtype=float)).all():
            raise BundleError("the run's dev predictions hold probabilities that are not "
                              "finite numbers; train the run again", folder.dev_predictions_file)
        if model.carries_calibration:
            calibration = own_calibration(model)
        else:
            calibration = fit_dev_calibration(dev)
        thresholds = _dev_thresholds(dev, calibration)
    regression = None
    if has_score_head(task):
        regression = _run_regression(folder, dev_rows)
    loaded = LoadedModel(
        model=model, name=name, model_config=config, version=sha256(weights)[:12], vocab=vocab,
        audio_cfg=audio_cfg, text_cfg=text_cfg, text_input=text_input, data_modalities=mods,
        thresholds=thresholds, calibration=calibration, source="run", path=run,
        sentence_encoder=_encoder_name() if text_input == "embedding" else None,
        choice=_feature_choice(features, text_input, run), task=task, regression=regression,
    )
    _check_vocab(loaded)
    _calibration_warning(loaded)
    return loaded


def _task(spec: dict, where: Path) -> str:
    """The task a run's or bundle's model.json names (binary when it names none)."""
    task = spec.get("task", "binary")
    if task not in KNOWN_TASKS:
        raise BundleError(f"unknown task {task!r} in model.json", where)
    return task


def _run_regression(folder: RunFolder, dev) -> dict:
    if not {"score", "score_pred"} <= set(dev.columns):
        raise BundleError("the dev predictions of a score model lack the columns score, "
                          "score_pred", folder.dev_predictions_file)
    try:
        return dev_regression(dev)
    except BundleError as e:
        raise BundleError(e.reason, folder.dev_predictions_file) from None


def _calibration_warning(loaded: LoadedModel) -> None:
    cal = loaded.calibration
    if cal.get("method") == OWN_CALIBRATION and not cal.get("calibrated", True):
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

    spec = {"format": 1, "name": loaded.name, "config": loaded.model_config,
            "text_input": loaded.text_input}
    if loaded.task != "binary":  # a binary model's model.json stays as it always was
        spec["task"] = loaded.task
    if loaded.has_binary_head:
        thresholds = {**loaded.thresholds, "aggregation": "mean", "chosen_on": "dev"}
    else:
        thresholds = loaded.thresholds
    members = {
        "weights.safetensors": weights,
        "model.json": js(spec),
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
        "thresholds.json": js(thresholds),
    }
    if loaded.regression is not None:
        members["regression.json"] = js(loaded.regression)
    if loaded.vocab is not None:
        members["vocab.json"] = (loaded.vocab.to_json() + "\n").encode()
    return members


def build_bundle(loaded: LoadedModel, weights: bytes) -> bytes:
    """The bytes of a bundle for `loaded` (deterministic for the same run)."""
    members = bundle_members(loaded, weights)
    return write_archive(members, loaded.name, loaded.version)


def export_bundle(run: str | Path, out: str | Path, force: bool = False) -> LoadedModel:
    """Write the bundle of a finished run folder to `out` (atomically) and check it loads.

    `out` follows the output policy (`utils.outputs`): an existing file is replaced only with
    `force`, and never one of the run's own files (its weights, config, ...).
    """
    run = Path(run)
    out = check_output_file(out, inputs=[("the run folder", run)], force=force)
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

def load_bundle(path: str | Path, max_bytes: int = MAX_BUNDLE_BYTES) -> LoadedModel:
    """Load a `.dsb` bundle; `BundleError` for anything corrupt, modified, foreign or too new."""
    path = Path(path)
    data = read_limited(path, max_bytes, "bundle", BundleError,
                        empty_message="not a depscreen bundle (empty file)")
    return load_bundle_bytes(data, path)


def load_bundle_bytes(data: bytes, path: str | Path = "<bundle>") -> LoadedModel:
    """Load a bundle from its bytes (see `load_bundle`); `path` only names it in messages."""
    where = Path(path)
    manifest, raw = read_archive(data, where)
    spec = parse_json(raw["model.json"], "model.json", where)
    features = parse_json(raw["features.json"], "features.json", where)
    calibration = parse_json(raw["calibration.json"], "calibration.json", where)
    thresholds = parse_json(raw["thresholds.json"], "thresholds.json", where)
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
    task, regression = _bundle_task(spec, raw, where)
    model = build_model(name, config, load_tensors(raw["weights.safetensors"], where), where,
                         task)
    loaded = LoadedModel(
        model=model, name=name, model_config=config,
        version=sha256(raw["weights.safetensors"])[:12], vocab=vocab, audio_cfg=audio_cfg,
        text_cfg=text_cfg, text_input=text_input, data_modalities=mods,
        thresholds=(_check_thresholds(thresholds, where) if has_binary_head(task)
                    else check_score_thresholds(thresholds, where)),
        calibration=check_calibration(calibration, where, binary_head=has_binary_head(task)),
        source="bundle", path=where,
        depscreen_version=str(manifest.get("depscreen_version", "?")),
        sentence_encoder=features.get("sentence_encoder"),
        choice=_feature_choice(features, text_input, where), task=task, regression=regression,
    )
    _check_vocab(loaded)
    _calibration_warning(loaded)
    if loaded.sentence_encoder and loaded.sentence_encoder != _encoder_name():
        loaded.warnings.append(
            f"the model was trained with sentence encoder {loaded.sentence_encoder}; "
            f"this installation has {_encoder_name()} (embeddings may differ slightly)")
    return loaded


def _bundle_task(spec: dict, raw: dict[str, bytes], where: Path) -> tuple[str, dict | None]:
    """(task, regression.json checked) of a bundle; a model with a score head needs
    regression.json and a binary one must not have it."""
    task = _task(spec, where)
    if not has_score_head(task):
        if "regression.json" in raw:
            raise BundleError(f"regression.json in the bundle of a {task} model (no score "
                              "head); the bundle is inconsistent", where)
        return task, None
    if "regression.json" not in raw:
        raise BundleError(f"the bundle of a {task} model lacks regression.json (its score "
                          "aggregation and interval); export it again", where)
    return task, check_regression(parse_json(raw["regression.json"], "regression.json", where),
                                  where)


def load_model(path: str | Path) -> LoadedModel:
    """A run folder or a `.dsb` bundle, whichever `path` is."""
    path = Path(path)
    if path.is_dir():
        return load_run(path)
    if path.is_file():
        return load_bundle(path)
    raise BundleError("no such run folder or bundle file", path)
