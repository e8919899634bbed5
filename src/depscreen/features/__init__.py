"""Features: prepared sessions -> model inputs, cached on disk.

    audio.py    LogMelConfig, logmel (librosa-equivalent log-Mel, fast), utterance windows,
                per-session normalisation
    text.py     tokenize, Vocabulary (train split only), TextConfig, SentenceEncoder (offline)
    cache.py    extract_corpus (parallel, atomic, memory-mapped), sentence_embeddings
    dataset.py  build_samples -> UtteranceDataset, collate, LengthBucketSampler
    representations.py  the registry of speech and text representations (`FeatureChoice`);
                egemaps.py, ssl_speech.py, text.py (minilm) and hf_text.py register theirs
    pretrained.py  offline loading shared by ssl_speech.py and hf_text.py

Import the submodules directly; nothing heavy (torch, sentence-transformers) loads from here.
"""

# Imported for their @register_speech / @register_text side effect, in the order `--help`
# lists them (log-Mel and tokens register in representations.py itself).
from depscreen.features import egemaps, ssl_speech, text, hf_text  # noqa: E402, F401, I001  isort: skip
