"""Models of the paper behind one registry.

    from depscreen.models import create_model, list_models
    model = create_model("bilstm-cnn-fusion", text={"vocab_size": 2000})
    logits = model(batch)  # (B, 2)

Registered: `bilstm-text`, `lstm-cnn-text` (text); `lstm-speech`, `cnn-speech`,
`lstm-cnn-speech` (speech); `bilstm-cnn-fusion` (the paper's feature-level fusion) and
`decision-fusion` (calibrated late fusion); the classical baselines `egemaps-lr`, `tfidf-lr`,
`embedding-lr` and `stacked-fusion` (models/classical.py, models/decision_fusion.py). See
each module for its batch keys and config; `model_info(name)` says what a model declares
about itself (modalities, fusion, fitting, calibration, heads, warm start, features).
"""

from depscreen.models.base import NUM_CLASSES, DepressionModel, ModelConfig
from depscreen.models.registry import (
    create_model,
    list_models,
    model_class,
    model_info,
    register_model,
)

# Imported for their @register_model side effect (after the registry exists).
from depscreen.models import (  # noqa: E402, I001  isort: skip
    classical,
    decision_fusion,
    feature_fusion,
    speech,
    text,
)

__all__ = [
    "NUM_CLASSES",
    "classical",
    "DepressionModel",
    "ModelConfig",
    "create_model",
    "decision_fusion",
    "feature_fusion",
    "list_models",
    "model_class",
    "model_info",
    "register_model",
    "speech",
    "text",
]
