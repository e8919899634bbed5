"""Samples for training and evaluation: one per participant utterance window ("statement").

A sample is an utterance of one split's session — its log-Mel frames (a window of at most
`max_seconds`), its token ids and/or sentence embedding — labelled with the session's PHQ8
binary label. Which samples exist depends only on the session and the log-Mel config, not on
the modalities asked for, so text, speech and fusion models are scored on the same statements:

* session with audio: each utterance is cut into windows (`utterance_windows`); utterances
  shorter than `min_seconds` are dropped; every window carries its utterance's full text;
* text-only session: one sample per utterance.

A sample is kept when at least one requested modality is present. A missing modality is a
placeholder of length 1 (one zero frame / one pad token) with `has_speech` / `has_text` False,
because recurrent encoders cannot take empty sequences.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from depscreen.corpora.records import (
    MODALITIES,
    PHQ8_ITEMS,
    SPLITS,
    Corpus,
    Session,
    Utterance,
)
from depscreen.errors import ConfigError, CorpusWarning
from depscreen.features.audio import STD_FLOOR, LogMelConfig, normalise, utterance_windows
from depscreen.features.cache import (
    SampleSpan,
    SessionFeatures,
    extract_corpus,
    sentence_embeddings,
)
from depscreen.features.representations import (
    FeatureChoice,
    SpeechRepresentation,
    TextEncoder,
)
from depscreen.features.text import (
    EMBEDDING_DIM,
    PAD_ID,
    SentenceEncoder,
    TextConfig,
    Vocabulary,
    build_vocabulary,
    tokenize,
)

TextInput = Literal["tokens", "embedding"]
_NO_ITEMS = (float("nan"),) * len(PHQ8_ITEMS)


@dataclass(frozen=True)
class Sample:
    """One statement: where its frames, tokens and embedding come from."""

    session_id: str
    label: int  # PHQ8 binary label; -1 for an unlabelled session
    utt_index: int
    window_index: int
    start: float  # seconds in the session's audio
    end: float
    has_text: bool
    tokens: tuple[int, ...]  # () when there is no text or no vocabulary
    span: SampleSpan | None  # None when there is no speech
    # The session's PHQ-8 total (NaN when unknown) and its eight items (NaN where unknown),
    # the targets of the regression tasks.
    score: float = float("nan")
    items: tuple[float, ...] = ()


class UtteranceDataset(Dataset):
    """Samples of one split; items are dicts of tensors (see `__getitem__`)."""

    def __init__(
        self,
        split: str,
        samples: list[Sample],
        features: dict[str, SessionFeatures],
        embeddings: dict[str, np.ndarray] | None,
        n_mels: int,
        modalities: frozenset[str],
        text_input: TextInput,
        vocab: Vocabulary | None,
        warnings: list[CorpusWarning] | None = None,
        norm: str = "session",
        norm_stats: dict[str, tuple[np.ndarray, np.ndarray]] | None = None,
        text_dim: int = EMBEDDING_DIM,
    ):
        self.split = split
        self.samples = samples
        self.features = features
        self.embeddings = embeddings
        self.n_mels = n_mels
        self.modalities = modalities
        self.text_input = text_input
        self.vocab = vocab
        self.warnings = warnings or []
        self.norm = norm  # "session" (stats in the cache), "speaker" (norm_stats) or "none"
        self.norm_stats = norm_stats or {}
        self.text_dim = text_dim
        # For bucketing: speech frames where there is speech, else token count (at least 1).
        self.lengths = np.array(
            [s.span.n_frames if s.span is not None else max(1, len(s.tokens)) for s in samples],
            dtype=np.int64,
        )
        self.labels = np.array([s.label for s in samples], dtype=np.int64)
        self.scores = np.array([s.score for s in samples], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def session_ids(self) -> list[str]:
        return list(dict.fromkeys(s.session_id for s in self.samples))

    def __getitem__(self, i: int) -> dict:
        """`mel` (T, n_mels) float32 (normalised per session), `tokens` (L,) long,
        `sentence_emb` (384,) float32 (text_input "embedding" only), `label`, `has_text`,
        `has_speech`, `session_id`, `start`, `end`, `utt_index`, `window_index`."""
        s = self.samples[i]
        if s.span is not None:
            mel = torch.from_numpy(self._frames(s))
        else:
            mel = torch.zeros(1, self.n_mels)
        tokens = torch.tensor(s.tokens if s.tokens else (PAD_ID,), dtype=torch.long)
        item = {
            "session_id": s.session_id,
            "label": s.label,
            "mel": mel,
            "tokens": tokens,
            "has_text": s.has_text,
            "has_speech": s.span is not None,
            "start": s.start,
            "end": s.end,
            "utt_index": s.utt_index,
            "window_index": s.window_index,
            "score": s.score,
            "items": s.items or _NO_ITEMS,
        }
        if self.embeddings is not None:
            emb = self.embeddings.get(s.session_id)
            row = emb[s.utt_index] if emb is not None and s.has_text else None
            item["sentence_emb"] = (torch.from_numpy(np.array(row, dtype=np.float32))
                                    if row is not None else torch.zeros(self.text_dim))
        return item

    def _frames(self, s: Sample) -> np.ndarray:
        """The sample's (T, dim) frames, standardised as `self.norm` says."""
        handle = self.features[s.session_id]
        if self.norm == "session":
            return handle.sample(s.span)
        raw = handle.sample(s.span, normalised=False)
        if self.norm == "none":
            return raw
        mean, std = self.norm_stats[s.session_id]
        return normalise(raw, mean, std)


def speaker_stats(sessions: Sequence[Session], features: dict[str, SessionFeatures]
                  ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per session, the mean and std of its speaker's frames pooled over the given sessions.

    Unsupervised (no labels): each speaker is standardised by their own recordings, which
    takes out who is speaking (pitch range, loudness, microphone) and keeps how their state
    moves them. A session without a speaker is its own speaker.
    """
    groups: dict[str, list[str]] = {}
    for sess in sessions:
        if sess.session_id in features:
            groups.setdefault(sess.speaker or sess.session_id, []).append(sess.session_id)
    out = {}
    for sids in groups.values():
        n = np.array([features[s].n_frames for s in sids], dtype=np.float64)
        if n.sum() == 0:
            continue
        means = np.stack([features[s].mean for s in sids]).astype(np.float64)
        second = np.stack([features[s].std.astype(np.float64) ** 2 + features[s].mean ** 2
                           for s in sids])
        mean = (n[:, None] * means).sum(0) / n.sum()
        var = np.maximum((n[:, None] * second).sum(0) / n.sum() - mean**2, 0.0)
        stats = (mean.astype(np.float32), np.maximum(np.sqrt(var), STD_FLOOR).astype(np.float32))
        for s in sids:
            out[s] = stats
    return out


def session_score(sess: Session) -> float:
    """The session's PHQ-8 total as a float; NaN when the corpus gives none."""
    return float("nan") if sess.phq8_score is None else float(sess.phq8_score)


def session_items(sess: Session) -> tuple[float, ...]:
    """The session's eight PHQ-8 items (NaN where unknown); () when it has none at all."""
    if not sess.phq8_items:
        return ()
    values = [sess.phq8_items.get(i) for i in PHQ8_ITEMS]
    return tuple(float("nan") if v is None else float(v) for v in values)


def session_samples(
    session_id: str,
    label: int,
    utterances: Sequence[Utterance],
    *,
    windowed: bool,
    use_text: bool,
    vocab: Vocabulary | None,
    text_cfg: TextConfig,
    audio_cfg: LogMelConfig,
    spans: Mapping[tuple[int, int], SampleSpan],
    score: float = float("nan"),
    items: tuple[float, ...] = (),
) -> list[Sample]:
    """The samples of one session — the one place that decides them, for a corpus
    (`build_samples`, frames from the cache) and for a new interview (`predict`, frames
    computed in memory by the same `session_frames`).

    `windowed`: the session has audio, so each utterance is cut into `utterance_windows`
    (else one sample per utterance); `use_text`: the session's text is an input; `spans`: the
    speech frames present, by (utterance, window). A sample is kept when it has text or
    speech.
    """
    samples: list[Sample] = []
    sr = audio_cfg.sample_rate
    for ui, u in enumerate(utterances):
        has_text = use_text and bool(tokenize(u.text))
        tokens = tuple(vocab.encode(u.text, text_cfg.max_len)) if has_text and vocab else ()
        if windowed:
            windows: list[tuple[float, float] | None] = [
                (a / sr, b / sr) for a, b in utterance_windows(u.start, u.end, audio_cfg)]
        else:
            windows = [None]
        for wi, win in enumerate(windows):
            span = spans.get((ui, wi))
            if not (has_text or span is not None):
                continue
            start, end = win if win is not None else (u.start, u.end)
            samples.append(Sample(session_id, label, ui, wi, start, end, has_text, tokens, span,
                                  score, items))
    return samples


def build_samples(
    corpus: Corpus,
    split: str,
    audio_cfg: LogMelConfig | None,
    text_cfg: TextConfig | None,
    cache_dir: str | Path,
    vocab: Vocabulary | None = None,
    text_input: TextInput = "tokens",
    modalities: Collection[str] = MODALITIES,
    jobs: int | None = None,
    progress: bool = True,
    encoder: TextEncoder | None = None,
    speech_rep: SpeechRepresentation | None = None,
    norm: str = "session",
) -> UtteranceDataset:
    """The samples of ONE split of `corpus` (no other split's audio or text is read).

    Speech frames of `speech_rep` (default: log-Mel of `audio_cfg`) are extracted into
    `cache_dir` when missing and standardised per `norm` (session, speaker or none). With text_input "tokens" and
    no `vocab`, the vocabulary is built from the training split (`build_vocabulary`); pass the
    training vocabulary explicitly for dev/test to be sure the same one is used.
    """
    if split not in SPLITS:
        raise ConfigError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    mods = frozenset(modalities)
    if not mods or not mods <= frozenset(MODALITIES):
        raise ConfigError(f"modalities must be a non-empty subset of {sorted(MODALITIES)}, "
                          f"got {sorted(mods)}")
    if text_input not in ("tokens", "embedding"):
        raise ConfigError(f"text_input must be 'tokens' or 'embedding', got {text_input!r}")
    audio_cfg = audio_cfg or LogMelConfig()
    text_cfg = text_cfg or TextConfig()
    sessions = corpus.by_split(split)

    features: dict[str, SessionFeatures] = {}
    warnings: list[CorpusWarning] = []
    if "speech" in mods:
        res = extract_corpus(sessions, audio_cfg, cache_dir, jobs=jobs, progress=progress,
                             rep=speech_rep)
        features, warnings = res.handles, res.warnings
    norm_stats = speaker_stats(sessions, features) if norm == "speaker" else None

    use_text = "text" in mods
    if use_text and text_input == "tokens" and vocab is None:
        vocab = build_vocabulary(corpus, text_cfg.min_count, text_cfg.max_size)
    embeddings = None
    if use_text and text_input == "embedding":
        encoder = encoder or SentenceEncoder(batch_size=text_cfg.encoder_batch_size)
        embeddings = sentence_embeddings(sessions, encoder, cache_dir, progress=progress)

    samples: list[Sample] = []
    for sess in sessions:
        handle = features.get(sess.session_id)
        samples += session_samples(
            sess.session_id, -1 if sess.label is None else int(sess.label), sess.utterances,
            windowed=sess.audio is not None, use_text=use_text and sess.has_text,
            vocab=vocab, text_cfg=text_cfg, audio_cfg=audio_cfg,
            spans=handle.by_key if handle is not None else {},
            score=session_score(sess), items=session_items(sess))
    dim = speech_rep.dim if speech_rep is not None else audio_cfg.n_mels
    return UtteranceDataset(split, samples, features, embeddings, dim, mods,
                            text_input, vocab if use_text else None, warnings, norm=norm,
                            norm_stats=norm_stats,
                            text_dim=encoder.dim if embeddings is not None else EMBEDDING_DIM)


def collate(items: Sequence[dict]) -> dict:
    """Stack items into a batch: `mel` (B, T, n_mels) and `tokens` (B, L) zero-padded, with
    `mel_lengths` / `token_lengths` (B,) long, `sentence_emb` (B, 384) when items have it,
    `label` (B,) long, `has_text` / `has_speech` (B,) bool and `session_id` list[str]."""
    mels = [it["mel"] for it in items]
    toks = [it["tokens"] for it in items]
    batch = {
        "mel": torch.nn.utils.rnn.pad_sequence(mels, batch_first=True),  # (B, T, n_mels)
        "mel_lengths": torch.tensor([m.shape[0] for m in mels], dtype=torch.long),
        "tokens": torch.nn.utils.rnn.pad_sequence(toks, batch_first=True,
                                                  padding_value=PAD_ID),  # (B, L)
        "token_lengths": torch.tensor([t.shape[0] for t in toks], dtype=torch.long),
        "label": torch.tensor([it["label"] for it in items], dtype=torch.long),
        "has_text": torch.tensor([it["has_text"] for it in items], dtype=torch.bool),
        "has_speech": torch.tensor([it["has_speech"] for it in items], dtype=torch.bool),
        "session_id": [it["session_id"] for it in items],
    }
    if "score" in items[0]:  # the regression targets (NaN where unknown)
        batch["score"] = torch.tensor([it["score"] for it in items], dtype=torch.float32)
        batch["items"] = torch.tensor([it["items"] for it in items], dtype=torch.float32)
    if "sentence_emb" in items[0]:
        batch["sentence_emb"] = torch.stack([it["sentence_emb"] for it in items])  # (B, 384)
    return batch


class LengthBucketSampler(Sampler[list[int]]):
    """Batches of samples of similar length (less padding), deterministic from `seed`.

    Each epoch: draw the sample order (a permutation, or with `balanced=True` `num_samples`
    draws with replacement weighted so each class is equally likely), cut it into pools of
    `batch_size * pool_batches`, sort each pool by length, cut pools into batches and shuffle
    the batches. With `shuffle=False` (evaluation) every sample appears once, in length order.
    The epoch advances after every full pass; `set_epoch` sets it (Lightning calls it).
    """

    def __init__(
        self,
        lengths: Sequence[int] | np.ndarray,
        batch_size: int,
        seed: int = 0,
        shuffle: bool = True,
        drop_last: bool = False,
        balanced: bool = False,
        labels: Sequence[int] | np.ndarray | None = None,
        num_samples: int | None = None,
        pool_batches: int = 50,
    ):
        super().__init__()
        self.lengths = np.asarray(lengths, dtype=np.int64)
        if batch_size < 1:
            raise ConfigError(f"batch_size must be >= 1, got {batch_size}")
        if balanced and labels is None:
            raise ConfigError("balanced sampling needs the labels")
        if balanced and not shuffle:
            raise ConfigError("balanced sampling draws at random; it needs shuffle=True")
        if labels is not None and len(labels) != len(self.lengths):
            raise ConfigError("labels and lengths differ in length")
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.balanced = balanced
        self.labels = None if labels is None else np.asarray(labels)
        self.num_samples = len(self.lengths) if num_samples is None else int(num_samples)
        self.pool = batch_size * max(1, pool_batches)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def _order(self, rng: np.random.Generator) -> np.ndarray:
        n = len(self.lengths)
        if not self.shuffle:
            return np.argsort(self.lengths, kind="stable")
        if self.balanced:
            assert self.labels is not None
            _, inverse, counts = np.unique(self.labels, return_inverse=True, return_counts=True)
            weights = 1.0 / counts[inverse]
            return rng.choice(n, size=self.num_samples, replace=True, p=weights / weights.sum())
        return rng.permutation(n)

    def _batches(self) -> list[list[int]]:
        rng = np.random.default_rng([self.seed, self.epoch])
        order = self._order(rng)
        batches: list[list[int]] = []
        size = self.pool if self.shuffle else max(len(order), 1)
        for p in range(0, len(order), size):
            pool = order[p : p + size]
            pool = pool[np.argsort(self.lengths[pool], kind="stable")]
            batches.extend(pool[i : i + self.batch_size].tolist()
                           for i in range(0, len(pool), self.batch_size))
        if self.drop_last:
            batches = [b for b in batches if len(b) == self.batch_size]
        if self.shuffle:
            batches = [batches[i] for i in rng.permutation(len(batches))]
        return batches

    def __iter__(self) -> Iterator[list[int]]:
        batches = self._batches()
        self.epoch += 1
        yield from batches

    def __len__(self) -> int:
        n = self.num_samples if self.balanced else len(self.lengths)

        def count(m: int) -> int:
            return m // self.batch_size if self.drop_last else -(-m // self.batch_size)

        if not self.shuffle:
            return count(n)
        # Pools are whole batches; only the last pool can end in a short batch.
        full, rest = divmod(n, self.pool)
        return full * (self.pool // self.batch_size) + count(rest)


def build_split_for_run(corpus: Corpus, split: str, features: dict, cache_dir: str | Path,
                        vocab: Vocabulary | None, progress: bool = False,
                        device: str = "cpu", text_input: str = "tokens") -> UtteranceDataset:
    """A split's samples exactly as a finished run's `features` config (config.json) says:
    the same windowing, representations, normalisation and modalities it was trained on.
    `text_input` is the run's, for runs that predate recorded representations."""
    choice = FeatureChoice.recorded(features, text_input)
    audio_cfg = LogMelConfig.from_dict(features["audio"])
    text_cfg = TextConfig(**features["text"])
    mods = frozenset(features["modalities"])
    encoder, rep = choice.inputs(audio_cfg, mods, text_cfg.encoder_batch_size, device)
    return build_samples(
        corpus, split, audio_cfg, text_cfg, cache_dir, vocab=vocab,
        text_input=choice.text_input, modalities=mods, progress=progress,
        encoder=encoder, speech_rep=rep, norm=choice.norm,
    )
