"""Length-aware building blocks: masks, masked pooling, packed LSTMs, masked 2-D pooling.

The contract these keep: a sequence's output depends only on its valid steps, never on how
much zero padding the batch added (so a session scores the same whatever it is batched with),
and any length >= 0 works, including 1 and lengths shorter than a convolution's receptive
field. A length of 0 (a missing modality) gives all-zero features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def lengths_to_mask(lengths: Tensor, max_len: int) -> Tensor:
    """(B,) lengths -> (B, max_len) bool mask, True on valid steps."""
    steps = torch.arange(max_len, device=lengths.device)  # (T,)
    return steps[None, :] < lengths[:, None]  # (B, T)


def ensure_min_steps(x: Tensor, min_steps: int = 1) -> Tensor:
    """Zero-pads the time axis (dim 1) of `x` (B, T, ...) to at least `min_steps` steps."""
    if x.size(1) >= min_steps:
        return x
    pad = [0, 0] * (x.dim() - 2) + [0, min_steps - x.size(1)]
    return F.pad(x, pad)


def masked_max_pool(x: Tensor, mask: Tensor) -> Tensor:
    """Max over time of (B, T, D) ignoring padding (mask (B, T)); empty rows give zeros."""
    filled = x.masked_fill(~mask[:, :, None], float("-inf"))  # (B, T, D)
    pooled = filled.max(dim=1).values  # (B, D)
    return torch.where(mask.any(dim=1, keepdim=True), pooled, torch.zeros_like(pooled))


def masked_mean_pool(x: Tensor, mask: Tensor) -> Tensor:
    """Mean over time of (B, T, D) over valid steps only (mask (B, T)); empty rows give zeros."""
    m = mask[:, :, None].to(x.dtype)  # (B, T, 1)
    return (x * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)  # (B, D)


def pool_time(x: Tensor, lengths: Tensor, mode: str, last: Tensor | None = None) -> Tensor:
    """Pools (B, T, D) over valid steps: "max", "mean", or "last" (the given final states)."""
    if mode == "last":
        if last is None:
            raise ValueError("pooling 'last' needs the final states")
        return last
    mask = lengths_to_mask(lengths, x.size(1))  # (B, T)
    if mode == "max":
        return masked_max_pool(x, mask)
    if mode == "mean":
        return masked_mean_pool(x, mask)
    raise ValueError(f"unknown pooling '{mode}'")


def run_lstm(lstm: nn.LSTM, x: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
    """Runs a batch_first LSTM on padded `x` (B, T, E) with packing so padding is never read.

    Returns the outputs (B, T, H * dirs), zero beyond each length, and the final states of
    the last layer (B, H * dirs) — forward state at the last valid step, backward state at
    step 0. Rows of length 0 give zeros.
    """
    x = ensure_min_steps(x)
    T = x.size(1)
    # Packing needs lengths >= 1 on the CPU; rows of length 0 are zeroed afterwards.
    packed_lengths = lengths.clamp(min=1, max=T).to("cpu", torch.int64)
    packed = pack_padded_sequence(x, packed_lengths, batch_first=True, enforce_sorted=False)
    out, (h_n, _) = lstm(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, H*dirs)
    # h_n: (layers*dirs, B, H), already back in batch order.
    last = torch.cat([h_n[-2], h_n[-1]], dim=-1) if lstm.bidirectional else h_n[-1]
    present = (lengths > 0)[:, None].to(out.dtype)  # (B, 1)
    return out * present[:, :, None], last * present


def masked_pool2d(
    x: Tensor, lengths: Tensor, pool_time: int, pool_freq: int
) -> tuple[Tensor, Tensor]:
    """Max-pools (B, C, T, F) by (pool_time, pool_freq) without letting padding in.

    Time is padded up to a multiple of `pool_time` (so even T=1 pools), padded frames are set
    to -inf before pooling (a window half in padding sees only its valid frames, exactly as if
    the batch had no padding) and zeroed after. New lengths are ceil(lengths / pool_time).
    """
    extra = (-x.size(2)) % pool_time
    if extra:
        x = F.pad(x, (0, 0, 0, extra))  # (B, C, T', F), T' a multiple of pool_time
    valid = lengths_to_mask(lengths, x.size(2))[:, None, :, None]  # (B, 1, T', 1)
    x = F.max_pool2d(x.masked_fill(~valid, float("-inf")), (pool_time, pool_freq))
    new_lengths = torch.div(lengths + pool_time - 1, pool_time, rounding_mode="floor")
    new_valid = lengths_to_mask(new_lengths, x.size(2))[:, None, :, None]
    return x.masked_fill(~new_valid, 0.0), new_lengths  # (B, C, T'/pool_time, F/pool_freq)
