"""Sentence embeddings from a frozen text encoder, loaded from a local folder only.

`HFTextEncoder` embeds sentences with any local sentence-transformers folder or plain
Hugging Face encoder (mean pooling over the attention mask, then unit length). Folders, the
offline switch and weight loading are shared with the speech encoder
(`features/pretrained.py`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from depscreen.errors import FeatureError
from depscreen.features.pretrained import (
    LOAD_ERRORS,
    auto_model,
    first_line,
    offline,
    positive_int,
    quiet_loading,
    read_json,
    resolve_model_folder,
    torch_device,
    weights_sha256,
)
from depscreen.features.representations import register_text


class HFTextEncoder:
    """Sentence embeddings from a local sentence-transformers or Hugging Face encoder folder.

    A folder with modules.json runs through sentence-transformers as its author configured
    it (pooling, normalisation, its own max_seq_length); any other folder runs AutoTokenizer
    + AutoModel, mean-pools the last hidden state over the attention mask and scales each
    embedding to unit length (texts are cut at `max_length` tokens).
    """

    kind = "hf"

    def __init__(self, path: str | Path, batch_size: int = 64, device: str = "cpu",
                 max_length: int = 256):
        self._given = str(path)
        self.path = resolve_model_folder(path, "text encoder")
        self.sentence_transformers = (self.path / "modules.json").is_file()
        if not self.sentence_transformers and not (self.path / "config.json").is_file():
            raise FeatureError("no modules.json or config.json: not a sentence-transformers "
                               "or Hugging Face model folder", self.path)
        self._cfg = {} if self.sentence_transformers else read_json(self.path / "config.json")
        if self._cfg.get("is_encoder_decoder"):
            raise FeatureError(f"config.json describes an encoder-decoder model "
                               f"({self._cfg.get('model_type')}); give an encoder", self.path)
        self.batch_size = positive_int("text encoder batch_size", batch_size)
        self.max_length = positive_int("text encoder max_length", max_length)
        self.device = torch_device(device)
        self._model = None
        self._tokenizer = None
        self._dim: int | None = None
        self._sha: str | None = None

    @property
    def weights_sha256(self) -> str:
        if self._sha is None:
            self._sha = weights_sha256(self.path, recursive=self.sentence_transformers)
        return self._sha

    @property
    def name(self) -> str:
        """Identifies the encoder in cache keys: folder + weights hash (+ a non-default cut)."""
        name = f"hf:{self.path}#{self.weights_sha256[:16]}"
        if not self.sentence_transformers and self.max_length != 256:
            name += f"#max_length={self.max_length}"
        return name

    @property
    def dim(self) -> int:
        if self._dim is None:
            for k in ("hidden_size", "dim", "d_model"):
                if isinstance(self._cfg.get(k), int):
                    self._dim = self._cfg[k]
                    break
            else:
                model = self._load()
                width = (getattr(model, "get_embedding_dimension", None)
                         or model.get_sentence_embedding_dimension)
                self._dim = int(width())
        return self._dim

    def __repr__(self) -> str:
        return f"HFTextEncoder({self._given!r})"

    def _load(self):
        if self._model is not None:
            return self._model
        offline()
        try:
            if self.sentence_transformers:
                from sentence_transformers import SentenceTransformer

                with quiet_loading():
                    self._model = SentenceTransformer(str(self.path), device=self.device,
                                                      local_files_only=True)
                return self._model
            from transformers import AutoTokenizer

            with quiet_loading():
                tokenizer = AutoTokenizer.from_pretrained(str(self.path), local_files_only=True)
        except LOAD_ERRORS as e:
            raise FeatureError(f"cannot load the text encoder ({first_line(e)})",
                               self.path) from e
        model = auto_model(self.path, "text encoder")
        if tokenizer.pad_token is None:  # decoder-style tokenizers; the mask hides padding
            tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
        if tokenizer.pad_token is None:
            raise FeatureError("the text encoder's tokenizer has no padding token", self.path)
        model.requires_grad_(False)
        self._tokenizer = tokenizer
        self._model = model.eval().to(self.device)
        return self._model

    def _max_tokens(self) -> int:
        limit = getattr(self._tokenizer, "model_max_length", None)
        if isinstance(limit, int) and 0 < limit < 1_000_000:
            return min(limit, self.max_length)
        return self.max_length

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of `texts` in order, (len(texts), dim) float32."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        if self.sentence_transformers:
            emb = model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                               show_progress_bar=False)
            emb = np.asarray(emb, dtype=np.float32)
        else:
            emb = self._encode_plain(texts)
        if emb.shape != (len(texts), self.dim):
            raise FeatureError(f"text encoder returned shape {emb.shape}, expected "
                               f"({len(texts)}, {self.dim})", self.path)
        return emb

    def _encode_plain(self, texts: list[str]) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), self.dim), np.float32)
        max_tokens = self._max_tokens()
        with torch.inference_mode():
            for j in range(0, len(order), self.batch_size):
                idx = order[j:j + self.batch_size]
                enc = self._tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                                      max_length=max_tokens, return_tensors="pt")
                enc = {k: v.to(self.device) for k, v in enc.items()
                       if k in ("input_ids", "attention_mask", "token_type_ids")}
                hidden = self._model(**enc).last_hidden_state.float()
                mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out[idx] = F.normalize(pooled, p=2, dim=1).cpu().numpy()
        return out


@register_text("hf", takes_path=True)
def _hf(path: str, batch_size: int, device: str) -> HFTextEncoder:
    return HFTextEncoder(path, batch_size=batch_size, device=device)
