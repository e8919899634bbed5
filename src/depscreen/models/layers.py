"""Length-aware building blocks: masks, masked pooling, LSTMs, frame filling and stacking.

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
    """Runs a batch_first LSTM on padded `x` (B, T, E) so that padding never changes a result.

    Returns the outputs (B, T, H * dirs), zero beyond each length, and the final states of
    the last layer (B, H * dirs) — forward state at the last valid step, backward state at
    step 0. Rows of length 0 give zeros.

    A bidirectional LSTM is run on a packed sequence (its backward direction must start at
    each row's last valid step). A unidirectional one is causal: its state at step t depends
    on steps <= t only, so it runs on the padded batch as is and its final state is read at
    each row's last valid step. That is the same result (padding comes after every valid
    step) from the fused full-batch kernel, several times faster on CPU than the packed path
    when lengths differ, for a few wasted steps on padding. Padded steps must be finite.
    """
    x = ensure_min_steps(x)
    B, T = x.size(0), x.size(1)
    lengths = lengths.clamp(min=0, max=T)
    present = (lengths > 0)[:, None].to(x.dtype)  # (B, 1)
    if not lstm.bidirectional:
        out, _ = lstm(x)  # (B, T, H)
        rows = torch.arange(B, device=x.device)
        last = out[rows, (lengths - 1).clamp(min=0)]  # (B, H): state at the last valid step
        valid = lengths_to_mask(lengths, T)[:, :, None]  # (B, T, 1)
        return out.masked_fill(~valid, 0.0), last * present
    # Packing needs lengths >= 1 on the CPU; rows of length 0 are zeroed afterwards.
    packed_lengths = lengths.clamp(min=1).to("cpu", torch.int64)
    packed = pack_padded_sequence(x, packed_lengths, batch_first=True, enforce_sorted=False)
    out, (h_n, _) = lstm(packed)
    out, _ = pad_packed_sequence(out, batch_first=True, total_length=T)  # (B, T, H*dirs)
    # h_n: (layers*dirs, B, H), already back in batch order.
    last = torch.cat([h_n[-2], h_n[-1]], dim=-1)
    return out * present[:, :, None], last * present


def ceil_div(lengths: Tensor, k: int) -> Tensor:
    """ceil(lengths / k) for (B,) long lengths: the valid steps left after a stride or pool of k."""
    return torch.div(lengths + k - 1, k, rounding_mode="floor")


class _FillFramesInplace(torch.autograd.Function):
    """x[:, :, lo:hi] masked-filled in place; backward zeroes the gradient of filled frames.

    Autograd's own in-place path (CopySlices) clones the whole gradient and then copies
    the slice back; this clones it once. Does the same as the out-of-place version.
    """

    @staticmethod
    def forward(ctx, x: Tensor, fill: Tensor, lo: int, hi: int, value: float) -> Tensor:
        x[:, :, lo:hi].masked_fill_(fill, value)
        ctx.mark_dirty(x)
        ctx.save_for_backward(fill)
        ctx.lo, ctx.hi = lo, hi
        return x

    @staticmethod
    def backward(ctx, grad: Tensor) -> tuple[Tensor, None, None, None, None]:
        (fill,) = ctx.saved_tensors
        grad = grad.clone(memory_format=torch.preserve_format)
        grad[:, :, ctx.lo : ctx.hi].masked_fill_(fill, 0.0)
        return grad, None, None, None, None


def fill_frames(
    x: Tensor, start: Tensor, stop: Tensor, value: float, inplace: bool = False
) -> Tensor:
    """`x` (B, C, T, F) with frames start[b] <= t < stop[b] of each row b set to `value`.

    Only the time slice [min(start), max(stop)) is touched, and nothing at all when no row
    has such a frame, so masking the few frames at each row's end costs next to nothing
    however long the batch is. `inplace=True` writes into `x` (for an intermediate result
    that nothing else uses, such as a conv, pool or ELU output).
    """
    T = x.size(2)
    start = start.clamp(max=T)
    stop = torch.maximum(stop.clamp(max=T), start)
    lo, hi = int(start.min()), int(stop.max())
    if lo >= hi:
        return x
    steps = torch.arange(lo, hi, device=x.device)  # (n,)
    fill = (steps[None, :] >= start[:, None]) & (steps[None, :] < stop[:, None])  # (B, n)
    fill = fill[:, None, :, None]  # (B, 1, n, 1)
    if inplace:
        return _FillFramesInplace.apply(x, fill, lo, hi, value)
    return torch.cat([x[:, :, :lo], x[:, :, lo:hi].masked_fill(fill, value), x[:, :, hi:]], 2)


def masked_pool2d(
    x: Tensor, lengths: Tensor, pool_time: int, pool_freq: int
) -> tuple[Tensor, Tensor]:
    """Max-pools (B, C, T, F) by (pool_time, pool_freq) without letting padding in.

    A partial window at the end of either axis is pooled over what it holds (ceil mode), so
    even T=1 pools. The frames of a window that straddles a row's end are set to -inf before
    pooling (it sees only its valid frames, exactly as if the batch had no padding), and the
    output frames past the new lengths ceil(lengths / pool_time) are zeroed.
    """
    x = fill_frames(x, lengths, ceil_div(lengths, pool_time) * pool_time, float("-inf"))
    x = F.max_pool2d(x, (pool_time, pool_freq), ceil_mode=True)
    new_lengths = ceil_div(lengths, pool_time)
    return fill_frames(x, new_lengths, torch.full_like(lengths, x.size(2)), 0.0), new_lengths


def stack_frames(x: Tensor, lengths: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """(B, T, D) -> (B, ceil(T / k), k * D): each step holds k consecutive frames.

    A row's last step is completed with zero frames, so frames past each length must be zero
    (as they are in an unpadded batch); new lengths are ceil(lengths / k).
    """
    if k == 1:
        return x, lengths
    B, T, D = x.shape
    extra = (-T) % k
    if extra:
        x = F.pad(x, (0, 0, 0, extra))  # (B, T', D), T' a multiple of k
    return x.reshape(B, (T + extra) // k, k * D), ceil_div(lengths, k)
