"""Training crops kept with what the frozen loss network says of them, so that it says it once.

What the loss network makes of a training crop (relu4_1 of a photo, from which the content
target is built; the per-layer mean and std of a painting, which are all the style loss and
AdaIN read of it) does not change while the decoder trains. Today's loop computes both for every
crop of every step: two forward passes of VGG-19 out of the three a step makes. A
:class:`TargetCache` holds ``size`` crops with their targets and hands out random batches of them;
each step, ``refresh`` of the oldest crops (on average: in whole batches, so the network runs at
its batch size) are replaced by new ones from the pool. With a cache of 2,048 crops and 2 new
crops a step, each crop lives 1,024 steps and is drawn 8 x 1,024 / 2,048 = 4 times, and the loss
network's target passes shrink to a quarter of a batch a step.
"""

from __future__ import annotations

import random
from typing import Callable, Sequence

import torch
from torch import Tensor

from . import functional as AF

Draw = Callable[[int], tuple[Tensor, list[str]]]
Describe = Callable[[Tensor], Tensor]


def flatten_stats(stats: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
    """Per-layer ``(mean, std)`` (each ``(N, C_i, 1, 1)``) as one ``(N, 2 * sum C_i)`` float tensor."""
    return torch.cat([t.flatten(1).float() for pair in stats for t in pair], dim=1)


def unflatten_stats(flat: Tensor, channels: Sequence[int]) -> list[tuple[Tensor, Tensor]]:
    """The inverse of :func:`flatten_stats`, given the layers' channel counts."""
    if flat.shape[1] != 2 * sum(channels):
        raise ValueError(f"statistics of {flat.shape[1]} values do not match channels {tuple(channels)}")
    out, start = [], 0
    for c in channels:
        mean = flat[:, start : start + c].reshape(-1, c, 1, 1)
        std = flat[:, start + c : start + 2 * c].reshape(-1, c, 1, 1)
        out.append((mean, std))
        start += 2 * c
    return out


def style_targets(features: Sequence[Tensor]) -> Tensor:
    """What a style cache keeps of a painting crop's VGG features: their flattened statistics."""
    return flatten_stats(AF.style_statistics(features))


class TargetCache:
    """``size`` crops from ``draw`` (``n -> (crops, names)``; uint8 crops from a pool are kept as
    such, a quarter of the memory) with ``describe(prepare(crops))`` of each, handed out as
    ``prepare``-d random batches by :meth:`next` (``prepare``: crops as the network takes them).

    ``refresh`` new crops per step replace the oldest, in chunks of ``batch`` (so ``describe``
    always sees a whole batch); 0 keeps the first crops for good. ``describe`` runs without
    gradients and its results are stored as it returns them.
    """

    def __init__(self, draw: Draw, describe: Describe, *, size: int, batch: int, refresh: float,
                 seed: int, prepare: Callable[[Tensor], Tensor] = lambda crops: crops) -> None:
        if size < batch or batch <= 0:
            raise ValueError(f"a target cache must hold at least one batch ({batch}), got {size}")
        if not 0 <= refresh <= batch:
            raise ValueError(f"target refresh must be between 0 and the batch size ({batch}), got {refresh}")
        self.draw, self.describe, self.prepare = draw, describe, prepare
        self.size, self.batch, self.refresh = size, batch, refresh
        self.rng = random.Random(seed)
        self.crops: Tensor | None = None
        self.values: Tensor | None = None
        self.names: list[str] = []
        self._oldest = 0  # the ring's next slot to overwrite
        self._credit = 0.0
        self.described = 0  # crops the loss network has judged, the fill included
        for start in range(0, size, batch):
            self._put(start, min(batch, size - start))
        self.filled = self.described

    def _put(self, start: int, n: int) -> None:
        crops, names = self.draw(n)
        with torch.no_grad():
            values = self.describe(self.prepare(crops))
        if self.crops is None:  # allocated from the first chunk, on its device, in its dtypes
            self.crops = crops.new_empty((self.size, *crops.shape[1:]))
            self.values = values.new_empty((self.size, *values.shape[1:]))
            self.names = [""] * self.size
        self.crops[start : start + n] = crops
        self.values[start : start + n] = values
        self.names[start : start + n] = names
        self.described += n

    def next(self, n: int) -> tuple[Tensor, list[str], Tensor]:
        """``n`` distinct random cached crops, their names and their targets; then the step's refresh."""
        picks = self.rng.sample(range(self.size), n)
        index = torch.tensor(picks, device=self.crops.device)
        batch = (self.prepare(self.crops.index_select(0, index)), [self.names[i] for i in picks],
                 self.values.index_select(0, index))
        self._credit += self.refresh
        while self._credit >= self.batch:  # after the draw: this step's batch is never overwritten under it
            self._credit -= self.batch
            n_new = min(self.batch, self.size - self._oldest)
            self._put(self._oldest, n_new)
            self._oldest = (self._oldest + n_new) % self.size
        return batch

    @property
    def renewed(self) -> int:
        """Crops judged since the fill: what the loss network's target passes cost the steps."""
        return self.described - self.filled
