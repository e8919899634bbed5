"""The rows of the result tables: the paper's Table I with its published numbers, and the
classical baselines' rows. Data only (no imports), so the recipe that trains the models
(`reproduce.py`) and the report that prints them (`evaluation/report.py`) both read it
without importing each other.
"""

from __future__ import annotations

# The rows of the paper's Table I, in its order, with its published numbers (F1, WA, UA).
TABLE_MODELS: dict[str, tuple[str, tuple[float, float, float] | None]] = {
    "bilstm-text": ("Bi-LSTM (text)", (61.7, 57.42, 56.81)),
    "lstm-cnn-text": ("LSTM-CNN (text)", (64.2, 61.85, 61.06)),
    "lstm-speech": ("LSTM (speech)", (53.9, 50.76, 52.05)),
    "cnn-speech": ("CNN (speech)", (56.3, 52.17, 52.98)),
    "lstm-cnn-speech": ("LSTM-CNN (speech)", (62.8, 59.53, 58.2)),
    "bilstm-cnn-fusion": ("Bi-LSTM-CNN (text+speech)", (69.2, 69.38, 70.71)),
    "decision-fusion": ("Decision fusion (text+speech)", None),  # described, not in Table I
}
FUSION_MODEL = "bilstm-cnn-fusion"
# Classical baselines (`--baselines`): rows beside Table I on the same splits and seeds.
BASELINE_MODELS: dict[str, tuple[str, tuple[float, float, float] | None]] = {
    "egemaps-lr": ("eGeMAPS functionals + LR (speech)", None),
    "tfidf-lr": ("TF-IDF + LR (text)", None),
    "embedding-lr": ("MiniLM embedding + LR (text)", None),
    "stacked-fusion": ("Stacked LR fusion (text+speech)", None),
}
ROW_MODELS = {**TABLE_MODELS, **BASELINE_MODELS}

# Table II (`reproduce --task regression`): published PHQ-8 regression results on the
# DAIC-WOZ family, for orientation only (never re-run here). `corpus` is where they were
# scored; the report marks whether that is the corpus of the run. Missing metrics are None.
AVEC_ANCHORS: dict[str, dict] = {
    "avec2017-winner": {
        "name": "AVEC 2017 winner", "corpus": "daic-woz",
        "rmse": 4.94, "mae": 4.11, "ccc": None, "pearson_r": None,
        "source": "Stepanov et al., Depression Severity Estimation from Multiple Modalities "
                  "(AVEC 2017 depression sub-challenge winner, test set; arXiv:1711.06095)",
    },
    "avec2019-baseline": {
        "name": "AVEC 2019 baseline", "corpus": "edaic",
        "rmse": None, "mae": None, "ccc": 0.12, "pearson_r": None,
        "source": "Ringeval et al., AVEC 2019 Workshop and Challenge (DDS baseline, test set)",
    },
    "avec2019-winner": {
        "name": "AVEC 2019 winner", "corpus": "edaic",
        "rmse": 4.73, "mae": None, "ccc": 0.67, "pearson_r": None,
        "source": "Ray et al., Multi-level Attention Network using Text, Audio and Video for "
                  "Depression Prediction (AVEC 2019 DDS winner, test set; arXiv:1909.01417)",
    },
}
