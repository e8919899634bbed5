"""A model rebuilt from a bundle's or run's config and weights, checked before it is trusted:
the config is sized on the meta device and compared with the weights present before anything
is allocated, the weights must be finite and fit the config exactly. No code from the file
runs (safetensors, no pickles)."""

from __future__ import annotations

from pathlib import Path

from depscreen.errors import ConfigError
from depscreen.inference.archive import BundleError


def build_model(name: str, config: dict, state: dict, where: Path, task: str = "binary"):
    """Rebuild a registered model (with the score head of `task`) and load its weights
    (strictly); no code from the file runs."""
    import torch

    from depscreen.models import create_model

    try:
        # Sized on the meta device first: a forged config asking for a huge layer allocates
        # nothing before it is compared with the weights actually present.
        with torch.device("meta"):
            shape_only = create_model(name, task=task, **config)
        needed = sum(t.numel() for t in shape_only.state_dict().values())
        present = sum(t.numel() for t in state.values())
        if needed > present:
            raise BundleError(f"the model config needs {needed:,} weights but the weights file "
                              f"holds {present:,}; the bundle does not fit together", where)
        model = create_model(name, task=task, **config)
    except ConfigError as e:
        raise BundleError(f"the model config is not valid for this depscreen ({e.reason})",
                          where) from None
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise BundleError(f"the weights hold non-finite values (tensor {key!r})", where)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0][:160]
        raise BundleError(f"the weights do not fit the model config ({first})", where) from None
    model.eval()
    return model


def load_tensors(data: bytes, where: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    try:
        return load_safetensors(data)
    except (SafetensorError, ValueError, RuntimeError) as e:
        raise BundleError(f"the weights are not a valid safetensors file ({e})", where) from None
