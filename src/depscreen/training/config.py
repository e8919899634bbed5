"""The resolved configuration of one training run (saved as config.json in the run folder)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

from depscreen.errors import ConfigError
from depscreen.features.representations import (
    FEATURE_NORMS,
    check_speech_spec,
    check_text_spec,
    text_input_for,
)
from depscreen.training.profiles import get_profile

IMBALANCE = ("balanced-sampling", "class-weights", "none")
MONITORS = ("dev_ua", "dev_f1", "dev_participant_ua", "dev_participant_f1", "dev_loss",
            "dev_rmse", "dev_participant_rmse", "dev_participant_mae", "dev_participant_ccc")
# What checkpoint selection watches when --monitor is not given: the screen's UA when the
# model has a binary head, else the dev participants' RMSE of the PHQ-8 estimate.
DEFAULT_MONITOR = {"binary": "dev_ua", "multitask": "dev_ua", "regression": "dev_participant_rmse",
                   "items": "dev_participant_rmse"}
TEXT_INPUTS = ("tokens", "embedding")
SOURCES = ("participant", "interviewer", "both")


@dataclass
class TrainConfig:
    """Everything that decides what a run computes. `None` fields come from the profile."""

    model: str
    profile: str = "fast"
    seed: int = 0
    batch_size: int | None = None
    max_epochs: int | None = None
    lr: float | None = None
    weight_decay: float | None = None  # None: the profile's (0 for paper and fast)
    patience: int | None = None
    imbalance: str = "balanced-sampling"
    monitor: str | None = None  # None: DEFAULT_MONITOR of the task
    # binary (PHQ-8 >= 10), regression (the PHQ-8 total), multitask (both heads) or items
    # (the eight PHQ-8 items, summing to the total); models/base.TASKS.
    task: str = "binary"
    # Regression tasks: leave out train/dev sessions without a PHQ-8 score (else an error).
    skip_unscored: bool = False
    # Whose turns are the input: the participant's (the default, what screening reads), the
    # interviewer's or both — the interviewer-prompt audit (depscreen audit).
    source: str = "participant"
    model_config: dict = field(default_factory=dict)
    audio: dict = field(default_factory=dict)  # LogMelConfig overrides
    text: dict = field(default_factory=dict)  # vocabulary / tokenizer overrides
    text_input: str = "tokens"  # derived from text_features ("embedding" = minilm, legacy)
    # Representations (features/representations.py); None = what the model reads by default
    # (the paper's log-Mel + tokens + per-session normalisation for its models).
    speech_features: str | None = None  # logmel | egemaps | ssl:PATH
    text_features: str | None = None  # tokens | minilm | hf:PATH
    ssl_layer: int | None = None  # ssl:PATH only; None = the middle layer
    feature_norm: str | None = None  # session | speaker | none
    # SpecAugment-style time and frequency masks on frame inputs while training.
    spec_augment: bool | None = None  # None: the profile's (off for paper and fast)
    # Where to run: CPU by default; --devices N for GPUs, DDP across devices/nodes.
    accelerator: str = "cpu"
    devices: int = 1
    num_nodes: int = 1
    strategy: str = "auto"
    num_workers: int = 0
    # Intra-op CPU threads (None: the process's count, torch's default of the physical
    # cores). Multi-threaded reductions (long GEMM inner dimensions, convolution weight
    # gradients, long sums) round differently at another count, so exact repeatability
    # holds for one count; env.json records the count a run used.
    threads: int | None = None
    limit_train_batches: int | None = None  # for smoke tests only
    # Fusion only: finished single-modal runs whose encoders initialise the fusion's
    # branches before end-to-end training, e.g. {"text": RUN, "speech": RUN}.
    init_from: dict | None = None

    def __post_init__(self) -> None:
        profile = get_profile(self.profile)
        from depscreen.models import model_class

        try:
            cls = model_class(self.model)
        except ConfigError as e:
            raise ConfigError(f"invalid training config: model must be a registered model: "
                              f"{e.reason}") from None
        fusion = len(cls.modalities) > 1
        self._resolve_features(cls)
        if self.batch_size is None:
            self.batch_size = profile.batch_fusion if fusion else profile.batch_single
        if self.max_epochs is None:
            self.max_epochs = profile.max_epochs
        if self.lr is None:
            self.lr = profile.lr
        if self.patience is None:
            self.patience = profile.early_stopping_patience
        if self.weight_decay is None:
            self.weight_decay = profile.weight_decay
        if self.spec_augment is None:
            self.spec_augment = profile.spec_augment
        if self.monitor is None:
            self.monitor = DEFAULT_MONITOR.get(self.task, "dev_ua")
        self.validate()

    def validate(self) -> None:
        def bad(name: str, why: str) -> ConfigError:
            return ConfigError(f"invalid training config: {name} {why}")

        from depscreen.models import list_models, model_class

        try:  # before any work is done (and before a run folder is made)
            model_class(self.model)
        except ConfigError as e:
            raise bad("model", f"must be a registered model: {e.reason}") from None
        if self.batch_size < 1:
            raise bad("batch_size", f"must be >= 1, got {self.batch_size}")
        if self.threads is not None and self.threads < 1:
            raise bad("threads", f"must be >= 1, got {self.threads}")
        if self.max_epochs < 1:
            raise bad("max_epochs", f"must be >= 1, got {self.max_epochs}")
        if not self.lr > 0:
            raise bad("lr", f"must be > 0, got {self.lr}")
        if self.weight_decay < 0:
            raise bad("weight_decay", f"must be >= 0, got {self.weight_decay}")
        if self.patience is not None and self.patience < 1:
            raise bad("patience", f"must be >= 1 or unset, got {self.patience}")
        if self.imbalance not in IMBALANCE:
            raise bad("imbalance", f"must be one of {', '.join(IMBALANCE)}, got {self.imbalance!r}")
        if self.source not in SOURCES:
            raise bad("source", f"must be one of {', '.join(SOURCES)}, got {self.source!r}")
        if self.task not in DEFAULT_MONITOR:
            raise bad("task", f"must be one of {', '.join(DEFAULT_MONITOR)}, got {self.task!r}")
        heads = model_class(self.model).heads
        if self.task not in heads:
            can = [n for n in list_models() if self.task in model_class(n).heads]
            raise bad("task", f"{self.task} is not one of {self.model}'s ({', '.join(heads)}); "
                      f"models with it: {', '.join(can)}")
        if self.monitor not in MONITORS:
            raise bad("monitor", f"must be one of {', '.join(MONITORS)}, got {self.monitor!r}")
        if self.text_input not in TEXT_INPUTS:
            raise bad("text_input", f"must be one of {', '.join(TEXT_INPUTS)}")
        if self.feature_norm not in FEATURE_NORMS:
            raise bad("feature_norm", f"must be one of {', '.join(FEATURE_NORMS)}, "
                      f"got {self.feature_norm!r}")
        check_speech_spec(self.speech_features)
        check_text_spec(self.text_features)
        if self.ssl_layer is not None and not self.speech_features.startswith("ssl:"):
            raise bad("ssl_layer", "applies to --speech-features ssl:PATH only")
        if self.init_from is not None:
            sources = model_class(self.model).warm_start_from
            if not sources:
                can = [n for n in list_models() if model_class(n).warm_start_from]
                raise bad("init_from", f"applies to {', '.join(can)} only")
            extra = sorted(set(self.init_from) - set(sources))
            if extra:
                raise bad("init_from", f"keys must be {' and/or '.join(sources)}, got {extra}")
        if self.devices < 1 or self.num_nodes < 1:
            raise bad("devices/num_nodes", "must be >= 1")

    def _resolve_features(self, cls) -> None:
        if self.text_input not in TEXT_INPUTS:
            raise ConfigError(f"invalid training config: text_input must be one of "
                              f"{', '.join(TEXT_INPUTS)}")
        defaults = cls.feature_defaults(self.model_config)
        if self.text_features is None:
            # --text-input embedding (the older flag) means the bundled MiniLM encoder.
            self.text_features = "minilm" if self.text_input == "embedding" else defaults["text"]
        self.speech_features = self.speech_features or defaults["speech"]
        self.feature_norm = self.feature_norm or defaults["norm"]
        if isinstance(self.text_features, str):
            self.text_input = text_input_for(self.text_features)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ConfigError(f"unknown training config keys: {', '.join(unknown)}")
        return cls(**d)
