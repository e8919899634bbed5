"""Tiny randomly initialised pretrained encoders, saved in `save_pretrained` layout.

`make_tiny_ssl(folder, model_type)` writes a speech encoder (wavlm, wav2vec2, hubert,
data2vec-audio, whisper) with its feature extractor; `make_tiny_text_encoder(folder)` writes
a 2-layer BERT with a word-piece tokenizer built from a small vocabulary (or, with
`sentence_transformers=True`, the same wrapped as a sentence-transformers folder). Nothing
is downloaded; the weights are random but fixed by `seed`, so two calls with the same
arguments give byte-identical weight files.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Speech encoders keep the standard conv front end (kernels 10,3,3,3,3,2,2 / strides
# 5,2,2,2,2,2,2: a 400-sample receptive field, 320-sample = 20 ms hop) with few channels.
_CONV = {"conv_dim": (16,) * 7, "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
         "conv_stride": (5, 2, 2, 2, 2, 2, 2)}
# Which tiny models use layer-normalised conv features (padded batches with an attention
# mask) and which group norm (no mask: batched only with inputs of equal length).
_LAYER_NORM = {"wavlm": True, "wav2vec2": False, "hubert": True, "data2vec-audio": True,
               "unispeech": True, "unispeech-sat": False, "wav2vec2-conformer": True}
SSL_MODEL_TYPES = tuple(_LAYER_NORM) + ("whisper",)


def _speech_config(model_type: str, hidden: int, layers: int):
    import transformers as tf

    common = dict(hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                  intermediate_size=2 * hidden, num_conv_pos_embeddings=16,
                  num_conv_pos_embedding_groups=2, vocab_size=16)
    if model_type == "data2vec-audio":
        common.update(num_conv_pos_embeddings=5, conv_pos_kernel_size=5)
        return tf.Data2VecAudioConfig(**common, **_CONV)
    cls = {"wavlm": tf.WavLMConfig, "wav2vec2": tf.Wav2Vec2Config, "hubert": tf.HubertConfig,
           "unispeech": tf.UniSpeechConfig, "unispeech-sat": tf.UniSpeechSatConfig,
           "wav2vec2-conformer": tf.Wav2Vec2ConformerConfig}[model_type]
    norm = "layer" if _LAYER_NORM[model_type] else "group"
    return cls(**common, **_CONV, feat_extract_norm=norm, do_stable_layer_norm=norm == "layer")


def make_tiny_ssl(folder: str | Path, model_type: str = "wavlm", seed: int = 0,
                  hidden: int = 32, layers: int = 2) -> Path:
    """A random `model_type` speech encoder + feature extractor saved in `folder`."""
    import torch
    import transformers as tf

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    if model_type == "whisper":
        config = tf.WhisperConfig(d_model=hidden, encoder_layers=layers, decoder_layers=1,
                                  encoder_attention_heads=2, decoder_attention_heads=2,
                                  encoder_ffn_dim=2 * hidden, decoder_ffn_dim=2 * hidden,
                                  num_mel_bins=80, max_source_positions=1500,
                                  max_target_positions=32, vocab_size=64, pad_token_id=0,
                                  bos_token_id=1, eos_token_id=2, decoder_start_token_id=3,
                                  suppress_tokens=None, begin_suppress_tokens=None)
        model = tf.WhisperModel(config)
        extractor = tf.WhisperFeatureExtractor(feature_size=80)
    else:
        if model_type not in _LAYER_NORM:
            raise ValueError(f"no tiny builder for {model_type!r}")
        config = _speech_config(model_type, hidden, layers)
        model = tf.AutoModel.from_config(config)
        extractor = tf.Wav2Vec2FeatureExtractor(
            feature_size=1, sampling_rate=16000, padding_value=0.0, do_normalize=True,
            return_attention_mask=_LAYER_NORM[model_type])
    model.eval()
    model.save_pretrained(folder)
    extractor.save_pretrained(folder)
    return folder


_WORDS = ("i feel tired all the time sleep well it is hard fine yes no ok good bad day night "
          "work home family friends sad happy really not very much little").split()


def make_tiny_text_encoder(folder: str | Path, seed: int = 0, hidden: int = 32,
                           sentence_transformers: bool = False) -> Path:
    """A random 2-layer BERT + word-piece tokenizer in `folder` (plain Hugging Face layout,
    or a sentence-transformers folder with mean pooling and normalisation)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if not sentence_transformers:
        return _write_bert(folder, seed, hidden)
    from sentence_transformers import SentenceTransformer

    try:  # sentence-transformers >= 5.x moved the building blocks
        from sentence_transformers.sentence_transformer import modules as models
    except ImportError:
        from sentence_transformers import models

    with tempfile.TemporaryDirectory() as tmp:
        word = models.Transformer(str(_write_bert(Path(tmp), seed, hidden)), max_seq_length=64)
        width = getattr(word, "get_embedding_dimension", None) or word.get_word_embedding_dimension
        pooling = models.Pooling(width(), pooling_mode="mean")
        st = SentenceTransformer(modules=[word, pooling, models.Normalize()], device="cpu")
        st.save(str(folder))
    return folder


def _write_bert(folder: Path, seed: int, hidden: int) -> Path:
    import torch
    import transformers as tf

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + list("0123456789'.,?!")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *_WORDS, *letters,
             *("##" + c for c in letters)]
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = tf.BertTokenizerFast(vocab_file=str(vocab_file), do_lower_case=True,
                                     model_max_length=128)
    torch.manual_seed(seed)
    config = tf.BertConfig(vocab_size=len(vocab), hidden_size=hidden, num_hidden_layers=2,
                           num_attention_heads=2, intermediate_size=2 * hidden,
                           max_position_embeddings=128)
    model = tf.BertModel(config)
    model.eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
