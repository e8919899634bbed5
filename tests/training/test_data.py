"""Batch sharding across DDP ranks."""

from __future__ import annotations

import pytest

from depscreen.features.dataset import LengthBucketSampler
from depscreen.training.data import ShardedBatchSampler


@pytest.mark.parametrize(("n", "batch", "world"), [(3, 4, 2), (10, 4, 2), (10, 4, 3), (33, 4, 2)])
def test_every_rank_gets_as_many_batches_and_all_samples_are_used(
    n: int, batch: int, world: int
) -> None:
    inner = LengthBucketSampler(list(range(1, n + 1)), batch, seed=3)
    inner.set_epoch(4)
    batches = list(inner)
    shards = []
    for rank in range(world):
        sharded = ShardedBatchSampler(inner, rank, world)
        sharded.set_epoch(4)  # forwarded: every rank draws the same epoch's batches
        shards.append(list(sharded))
        assert len(shards[-1]) == len(sharded) == -(-len(batches) // world)
    # Rank r holds batches r, r + world, ... of the epoch; the padding repeats the first ones.
    padded = (batches * world)[: len(shards[0]) * world]
    assert [b for step in zip(*shards, strict=True) for b in step] == padded
    assert {i for shard in shards for b in shard for i in b} == set(range(n))
