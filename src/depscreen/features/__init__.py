"""Features: prepared sessions -> model inputs, cached on disk.

    audio.py    LogMelConfig, logmel (librosa-equivalent log-Mel, fast), utterance windows,
                per-session normalisation
    text.py     tokenize, Vocabulary (train split only), TextConfig, SentenceEncoder (offline)
    cache.py    extract_corpus (parallel, atomic, memory-mapped), sentence_embeddings
    dataset.py  build_samples -> UtteranceDataset, collate, LengthBucketSampler

Import the submodules directly; nothing heavy (torch, sentence-transformers) loads from here.
"""
