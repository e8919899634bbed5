"""Data for one training run: vocabulary from train, train/dev samples, loaders.

Only the `train` and `dev` splits are built here; nothing in training reads `test`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Sampler

from depscreen.corpora.records import Corpus
from depscreen.errors import ConfigError
from depscreen.features.audio import LogMelConfig
from depscreen.features.dataset import LengthBucketSampler, UtteranceDataset, build_samples, collate
from depscreen.features.representations import FeatureChoice
from depscreen.features.text import TextConfig, Vocabulary, build_vocabulary
from depscreen.training.config import TrainConfig


def model_modalities(name: str) -> frozenset[str]:
    from depscreen.models import model_class

    return model_class(name).modalities


@dataclass
class DataBundle:
    """Everything a run needs from the data side."""

    train: UtteranceDataset
    dev: UtteranceDataset
    audio_cfg: LogMelConfig
    text_cfg: TextConfig
    vocab: Vocabulary | None
    modalities: frozenset[str]
    choice: FeatureChoice = field(default_factory=FeatureChoice)

    @property
    def class_weights(self) -> list[float]:
        """Inverse class frequency in train (normalised to mean 1), for `--imbalance class-weights`."""
        counts = np.bincount(self.train.labels[self.train.labels >= 0], minlength=2).astype(float)
        counts = np.maximum(counts, 1.0)
        w = counts.sum() / (2.0 * counts)
        return w.tolist()

    def feature_config(self) -> dict:
        return {"audio": self.audio_cfg.to_dict(), "text": self.text_cfg.to_dict(),
                "modalities": sorted(self.modalities),
                "representations": self.choice.to_dict(),
                "speech_dim": self.train.n_mels, "text_dim": self.train.text_dim}

    def model_kwargs(self, cfg: TrainConfig) -> dict:
        """What the model must know about the data, merged under the user's model config.

        Input sizes come from the features (frames of `speech_dim`, embeddings of
        `text_dim`), so every architecture runs over every representation."""
        from depscreen.models import model_class

        text = {"vocab_size": len(self.vocab) if self.vocab else 2, "text_input": cfg.text_input}
        if cfg.text_input == "embedding":
            text["sentence_dim"] = self.train.text_dim
        speech = {"n_mels": self.train.n_mels}
        kwargs = dict(cfg.model_config)
        if len(model_class(cfg.model).modalities) > 1:
            kwargs["text"] = {**text, **kwargs.get("text", {})}
            kwargs["speech"] = {**speech, **kwargs.get("speech", {})}
        elif self.modalities == {"text"}:
            kwargs = {**text, **kwargs}
        else:
            kwargs = {**speech, **kwargs}
        return kwargs

    def train_loader(self, cfg: TrainConfig, rank: int = 0, world_size: int = 1) -> DataLoader:
        sampler = LengthBucketSampler(
            self.train.lengths, cfg.batch_size, seed=cfg.seed, shuffle=True,
            balanced=cfg.imbalance == "balanced-sampling", labels=self.train.labels,
        )
        batches = ShardedBatchSampler(sampler, rank, world_size) if world_size > 1 else sampler
        # A generator of its own: otherwise every new loader iterator draws its base seed from
        # torch's global RNG, after the per-epoch seed in some epochs and before it in others
        # (the first epoch of a fit or of a resumed fit), and a resumed run's dropout differs.
        generator = torch.Generator().manual_seed(cfg.seed)
        return DataLoader(self.train, batch_sampler=batches, collate_fn=collate,
                          num_workers=cfg.num_workers, persistent_workers=cfg.num_workers > 0,
                          generator=generator)

    def dev_loader(self, cfg: TrainConfig) -> DataLoader:
        return eval_loader(self.dev, cfg.batch_size, cfg.num_workers)


def eval_loader(ds: UtteranceDataset, batch_size: int, num_workers: int = 0) -> DataLoader:
    # Every rank scores the whole dev set, so metrics need no gathering under DDP.
    sampler = LengthBucketSampler(ds.lengths, batch_size, shuffle=False)
    return DataLoader(ds, batch_sampler=sampler, collate_fn=collate, num_workers=num_workers)


class ShardedBatchSampler(Sampler[list[int]]):
    """Rank `rank` of `world_size` takes every world_size-th batch; all ranks get equally many
    (DDP needs the same number of steps everywhere). Like DistributedSampler, the epoch's
    batches are padded by repeating its first ones rather than dropping the remainder, so a
    train split with fewer batches than ranks still trains (dropping left no step at all)."""

    def __init__(self, inner: LengthBucketSampler, rank: int, world_size: int):
        self.inner, self.rank, self.world_size = inner, rank, world_size

    def set_epoch(self, epoch: int) -> None:
        self.inner.set_epoch(epoch)

    def __iter__(self):
        batches = list(self.inner)
        total = len(self) * self.world_size
        batches = (batches * (-(-total // max(len(batches), 1))))[:total]
        yield from batches[self.rank::self.world_size]

    def __len__(self) -> int:
        return -(-len(self.inner) // self.world_size)


def with_source(corpus: Corpus, source: str) -> Corpus:
    """The corpus whose sessions' utterances are `source`'s turns: the participant's (as
    prepared, unchanged), the interviewer's (`Session.interviewer`) or both in time order.
    Sessions without interviewer turns are left out of an interviewer run; a corpus with
    none at all (E-DAIC's transcripts have no speaker column) is a ConfigError."""
    import dataclasses

    if source == "participant":
        return corpus
    sessions = []
    for s in corpus.sessions:
        if not s.interviewer:
            if source == "both":
                sessions.append(s)
            continue
        turns = list(s.interviewer) if source == "interviewer" else sorted(
            [*s.utterances, *s.interviewer], key=lambda u: (u.start, u.end))
        sessions.append(dataclasses.replace(s, utterances=turns, has_text=True))
    if not any(s.interviewer for s in corpus.sessions):
        raise ConfigError(f"--source {source}: the prepared corpus has no interviewer turns "
                          "(its transcripts have no speaker column, as E-DAIC's, or it was "
                          "prepared by an older depscreen: prepare it again)")
    return dataclasses.replace(corpus, sessions=sessions)


def scored_corpus(corpus: Corpus, task: str, skip_unscored: bool) -> Corpus:
    """The corpus a regression task can train on: every train and dev session needs its
    PHQ-8 total (task "items": its eight items). Without `skip_unscored` a ConfigError counts
    the sessions lacking one; with it they are left out (test is never looked at here)."""
    import dataclasses
    import math

    from depscreen.features.dataset import session_items, session_score

    def unscored(sess) -> bool:
        if task == "items":
            items = session_items(sess)
            return not items or any(math.isnan(v) for v in items)
        return math.isnan(session_score(sess))

    lacking = [s for s in corpus.sessions if s.split in ("train", "dev") and unscored(s)]
    if not lacking:
        return corpus
    what = "the eight PHQ-8 items" if task == "items" else "a PHQ-8 score"
    n_used = sum(s.split in ("train", "dev") for s in corpus.sessions)
    if not skip_unscored:
        ids = ", ".join(s.session_id for s in lacking[:5]) + (", ..." if len(lacking) > 5 else "")
        raise ConfigError(f"--task {task}: {len(lacking)} of {n_used} train/dev sessions lack "
                          f"{what} ({ids}); pass --skip-unscored to train without them")
    drop = {id(s) for s in lacking}
    return dataclasses.replace(corpus, sessions=[s for s in corpus.sessions if id(s) not in drop])


def build_data(corpus: Corpus, cfg: TrainConfig, cache_dir: Path, progress: bool = True,
               modalities: frozenset[str] | None = None) -> DataBundle:
    """Vocabulary from the training split, then the train and dev samples (never test)."""
    corpus = with_source(corpus, cfg.source)
    if cfg.task != "binary":
        corpus = scored_corpus(corpus, cfg.task, cfg.skip_unscored)
    audio_cfg = LogMelConfig(**cfg.audio)
    text_cfg = TextConfig(**cfg.text)
    mods = modalities or model_modalities(cfg.model)
    choice = feature_choice(cfg)
    device = "cuda" if cfg.accelerator in ("gpu", "cuda") else "cpu"
    vocab = None
    if "text" in mods and cfg.text_input == "tokens":
        vocab = build_vocabulary(corpus, text_cfg.min_count, text_cfg.max_size)
    encoder, rep = choice.inputs(audio_cfg, mods, text_cfg.encoder_batch_size, device)
    common = dict(audio_cfg=audio_cfg, text_cfg=text_cfg, cache_dir=cache_dir, vocab=vocab,
                  text_input=cfg.text_input, modalities=mods, progress=progress,
                  encoder=encoder, speech_rep=rep, norm=choice.norm)
    train = build_samples(corpus, "train", **common)
    dev = build_samples(corpus, "dev", **common)
    for name, ds in (("train", train), ("dev", dev)):
        if len(ds) == 0:
            raise ConfigError(f"the {name} split has no usable samples for {cfg.model}")
        if name == "train" and len(set(ds.labels.tolist()) - {-1}) < 2:
            raise ConfigError("the train split needs both classes (depressed and not)")
    return DataBundle(train, dev, audio_cfg, text_cfg, vocab, mods, choice)


def feature_choice(cfg: TrainConfig) -> FeatureChoice:
    """The run's representations, as recorded in its folder and bundle."""
    return FeatureChoice(speech=cfg.speech_features, text=cfg.text_features,
                         norm=cfg.feature_norm, ssl_layer=cfg.ssl_layer)


@torch.inference_mode()
def predict_dataset(model: torch.nn.Module, ds: UtteranceDataset, cfg: TrainConfig | None = None,
                    batch_size: int = 64) -> np.ndarray:
    """P(depressed) for every sample of `ds`, in the dataset's order."""
    model.eval()
    bs = cfg.batch_size if cfg is not None else batch_size
    probs = np.zeros(len(ds), dtype=np.float64)
    sampler = LengthBucketSampler(ds.lengths, bs, shuffle=False)
    for idx in sampler:
        batch = collate([ds[i] for i in idx])
        probs[idx] = model.predict_proba(batch).double().cpu().numpy()
    return probs


@torch.inference_mode()
def predict_scores(model: torch.nn.Module, ds: UtteranceDataset, cfg: TrainConfig | None = None,
                   batch_size: int = 64) -> tuple[np.ndarray, np.ndarray | None]:
    """The estimated PHQ-8 total of every sample of `ds` (and its eight items for a model of
    task "items", else None), in the dataset's order."""
    model.eval()
    bs = cfg.batch_size if cfg is not None else batch_size
    scores = np.zeros(len(ds), dtype=np.float64)
    items = np.zeros((len(ds), 8), dtype=np.float64) if model.task == "items" else None
    for idx in LengthBucketSampler(ds.lengths, bs, shuffle=False):
        batch = collate([ds[i] for i in idx])
        scores[idx] = model.predict_score(batch).double().cpu().numpy()
        if items is not None:
            items[idx] = model.predict_items(batch).double().cpu().numpy()
    return scores, items


def predict_log_odds(model: torch.nn.Module, ds: UtteranceDataset,
                     cfg: TrainConfig | None = None) -> np.ndarray:
    """log(p / (1 - p)) of `predict_dataset`, p clipped to [1e-7, 1 - 1e-7]."""
    p = predict_dataset(model, ds, cfg).clip(1e-7, 1 - 1e-7)
    return np.log(p) - np.log1p(-p)


def prediction_frame(ds: UtteranceDataset, probs: np.ndarray, scores: np.ndarray | None = None,
                     items: np.ndarray | None = None) -> pd.DataFrame:
    """One row per sample: where it is in the interview, its label and its probability; with
    `scores`, its PHQ-8 total (`score`, NaN when unknown) and estimate (`score_pred`), with
    `items` the estimated items (`pred_<ITEM>`)."""
    frame = pd.DataFrame(
        {
            "session_id": [s.session_id for s in ds.samples],
            "utt_index": [s.utt_index for s in ds.samples],
            "window_index": [s.window_index for s in ds.samples],
            "start": [round(s.start, 3) for s in ds.samples],
            "end": [round(s.end, 3) for s in ds.samples],
            "has_text": [s.has_text for s in ds.samples],
            "has_speech": [s.span is not None for s in ds.samples],
            "label": ds.labels,
            "prob": np.round(probs, 6),
        }
    )
    if scores is not None:
        frame["score"] = ds.scores
        frame["score_pred"] = np.round(scores, 4)
    if items is not None:
        from depscreen.corpora.records import PHQ8_ITEMS

        for i, name in enumerate(PHQ8_ITEMS):
            frame[f"item_{name}"] = [s.items[i] if s.items else np.nan for s in ds.samples]
            frame[f"pred_{name}"] = np.round(items[:, i], 4)
    return frame


def sample_session_ids(ds: UtteranceDataset) -> list[str]:
    return [s.session_id for s in ds.samples]
