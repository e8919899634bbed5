"""The run folder: one type that owns its layout, so every command reads and writes it alike.

    config.json           the resolved TrainConfig, the prepared folder and the feature configs
    env.json              library versions, platform, git commit
    vocab.json            the vocabulary (built from the training split only)
    checkpoints/          last.ckpt (every epoch, for --resume) and best.ckpt (best on dev)
    metrics.csv           one row per epoch: train loss and dev metrics
    weights.safetensors   the selected (best-on-dev) weights — no pickles
    model.json            model name + config, enough to rebuild it with create_model
    balance.json          feature-level fusion only: text factor + temperature chosen on dev
    fit.json              closed-form models only: how C was chosen on dev
    dev_predictions.csv   one row per dev utterance sample: session, times, label, probability
    done.json             written last: best epoch and its dev metrics (the completion marker)

`train` writes it (training/run.py); `evaluate`, `export`/`predict`, `reproduce` and the
benchmarks read it, all through `RunFolder`. Reading problems raise `RunFolderError` naming
the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from depscreen.errors import DepscreenError
from depscreen.utils.atomic import atomic_path, atomic_write_text

FORMAT_VERSION = 1
DONE_FILE = "done.json"


class RunFolderError(DepscreenError):
    """A run folder is missing, unfinished or unreadable."""


def write_json(path: Path, obj: Any) -> None:
    """Atomically written, sorted, indented JSON (the run folder's style)."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


class RunFolder:
    """Paths, header, weights, completion marker, model loading and dev predictions."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    # ------------------------------------------------------------------------ paths
    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def vocab_file(self) -> Path:
        return self.path / "vocab.json"

    @property
    def weights_file(self) -> Path:
        return self.path / "weights.safetensors"

    @property
    def model_file(self) -> Path:
        return self.path / "model.json"

    @property
    def dev_predictions_file(self) -> Path:
        return self.path / "dev_predictions.csv"

    @property
    def done_file(self) -> Path:
        return self.path / DONE_FILE

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def metrics_file(self) -> Path:
        return self.path / "metrics.csv"

    # ------------------------------------------------------------------------ state
    def is_finished(self) -> bool:
        """True once done.json exists: it is written last."""
        return self.done_file.is_file()

    def require_finished(self, hint: str = "train it first") -> None:
        if not self.is_finished():
            raise RunFolderError(f"not a finished run folder (no done.json); {hint}", self.path)

    def read_json(self, name: str) -> Any:
        path = self.path / name
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RunFolderError("not a finished run folder (file missing)", path) from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RunFolderError(f"cannot read JSON ({e})", path) from None
        except RecursionError:  # deeply nested arrays or objects: not a file we wrote
            raise RunFolderError("cannot read JSON (nested too deeply)", path) from None

    def done(self) -> dict:
        """done.json: best epoch, dev metrics, model, seed (and calibration, decision level)."""
        return self.read_json(DONE_FILE)

    def header(self) -> dict:
        """config.json: format, prepared folder, TrainConfig dict and feature configs."""
        return self.read_json("config.json")

    def model_spec(self) -> dict:
        """model.json: the registered name and config (plus features and text input)."""
        if not self.model_file.is_file():
            raise RunFolderError("not a finished run folder (no model.json)", self.path)
        return self.read_json("model.json")

    def text_input(self, spec: dict | None = None, header: dict | None = None) -> str:
        """How the run's text was fed ("tokens" or "embedding"); older runs say it in config."""
        spec = self.model_spec() if spec is None else spec
        header = self.header() if header is None else header
        return spec.get("text_input") or header["train"].get("text_input", "tokens")

    def weights_bytes(self) -> bytes:
        try:
            return self.weights_file.read_bytes()
        except OSError as e:
            raise RunFolderError(f"cannot read the weights ({e.strerror})",
                                 self.weights_file) from None

    def load_vocab(self):
        """The run's Vocabulary, or None for a run without token input."""
        from depscreen.features.text import Vocabulary

        if not self.vocab_file.is_file():
            return None
        try:
            return Vocabulary.load(self.vocab_file)
        except DepscreenError as e:
            raise RunFolderError(e.reason, self.vocab_file) from None

    def load_model(self):
        """(model, spec): the model rebuilt from model.json and its safetensors weights, in
        eval mode (never unpickles)."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        from depscreen.models import create_model

        spec = self.model_spec()
        model = create_model(spec["name"], task=spec.get("task", "binary"), **spec["config"])
        try:
            state = load_file(str(self.weights_file))
        except (SafetensorError, OSError, ValueError) as e:
            raise RunFolderError(f"the weights are not a readable safetensors file ({e})",
                                 self.weights_file) from None
        model.load_state_dict(state)
        model.eval()
        return model, spec

    def read_dev_predictions(self, labelled_only: bool = True):
        """dev_predictions.csv as a DataFrame (session IDs as strings); by default the rows
        with a label only."""
        import pandas as pd

        path = self.dev_predictions_file
        try:
            dev = pd.read_csv(path, dtype={"session_id": str})
        except (OSError, ValueError) as e:
            raise RunFolderError(f"cannot read the run's dev predictions ({e})", path) from None
        if not {"session_id", "prob", "label"} <= set(dev.columns):
            raise RunFolderError("dev predictions lack the columns session_id, prob, label", path)
        return dev[dev["label"] >= 0] if labelled_only else dev

    # ------------------------------------------------------------------------ writing
    def write_header(self, cfg, prepared: Path, data) -> None:
        """config.json, env.json and vocab.json for a run of `cfg` (a TrainConfig) on the
        `prepared` folder with `data` (its DataBundle)."""
        from depscreen.utils.provenance import environment

        write_json(self.config_file, {"format": FORMAT_VERSION, "prepared": str(prepared),
                                      "train": cfg.to_dict(), "features": data.feature_config()})
        write_json(self.path / "env.json", environment())
        if data.vocab is not None:
            atomic_write_text(self.vocab_file, data.vocab.to_json())

    def write_json(self, name: str, obj: Any) -> None:
        write_json(self.path / name, obj)

    def save_model(self, model, name: str, extra: dict | None = None) -> None:
        """weights.safetensors + model.json: rebuildable with create_model, no pickles."""
        from safetensors.torch import save_file

        tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        with atomic_path(self.weights_file) as tmp:
            # One metadata key: safetensors writes metadata in hash-map order, which varies
            # between processes, so two keys made the same weights differ in bytes (and the
            # bundle version, their hash, with them). The format is in model.json.
            save_file(tensors, str(tmp), metadata={"model": name})
        write_json(self.model_file, {"format": FORMAT_VERSION, "name": name,
                                     "config": model.config_dict(), **(extra or {})})

    def finish(self, cfg, data, fit: Fit, dev_frame) -> None:
        """Weights, model.json, dev predictions (`dev_frame`, one row per dev sample), then
        done.json, last: its presence marks the run complete."""
        self.save_model(fit.model, cfg.model, {"features": data.feature_config(),
                                               "text_input": cfg.text_input, "task": cfg.task,
                                               **fit.model_extra})
        atomic_write_text(self.dev_predictions_file, dev_frame.to_csv(index=False))
        write_json(self.done_file, {"best_epoch": fit.best_epoch, "dev_metrics": fit.dev_metrics,
                                    "model": cfg.model, "seed": cfg.seed, **fit.done_extra})


@dataclass
class Fit:
    """What fitting a model hands to its run folder: the selected model, its epoch (-1 when
    not trained by epochs), dev metrics and per-sample dev probabilities, and any extra
    entries for model.json and done.json."""

    model: Any
    best_epoch: int
    dev_metrics: dict
    dev_probs: Any  # np.ndarray, one per dev sample (NaN without a binary head)
    dev_scores: Any = None  # the PHQ-8 estimates (regression tasks)
    dev_items: Any = None  # (n, 8) item estimates (task "items")
    model_extra: dict = field(default_factory=dict)
    done_extra: dict = field(default_factory=dict)
