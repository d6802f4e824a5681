"""The frozen VGG-19 that judges training, as a copy in the step's precision.

Training spends most of a step in this network (the output's forward and backward pass, and the
targets' forward passes), never changes its weights, and only ever needs gradients with respect
to its input. So the training loop runs a frozen copy of it whose weights are stored in the
precision the step computes in (bf16 where the CPU or GPU has it: autocast would otherwise cast
every weight again on every call). The model's own encoder and its checkpoint keys are left as
they are.

``cheap_padding`` swaps ``nn.ReflectionPad2d(1)`` for two concatenations (the same values). It was
meant to make the padding cheap, and measured slower on an AMX Xeon (``benchmarks/bench_training.py
--compare fast``: 0.90-0.96x the step with ``F.pad``), so it is off by default and kept for that
comparison.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor, nn


class ReflectPad1(nn.Module):
    """Reflection padding by one pixel on each side, as ``nn.ReflectionPad2d(1)``, built from slices
    and concatenation: plain copies, in any memory format and dtype, whose backward is slicing."""

    def forward(self, x: Tensor) -> Tensor:
        if x.shape[-1] < 2 or x.shape[-2] < 2:
            raise ValueError(f"reflection padding needs at least 2 pixels a side, got {tuple(x.shape[-2:])}")
        x = torch.cat([x[:, :, 1:2], x, x[:, :, -2:-1]], dim=2)
        return torch.cat([x[:, :, :, 1:2], x, x[:, :, :, -2:-1]], dim=3)


def _swap_padding(module: nn.Module) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.ReflectionPad2d) and tuple(child.padding) == (1, 1, 1, 1):
            setattr(module, name, ReflectPad1())
        else:
            _swap_padding(child)


def judge_copy(network: nn.Module, dtype: torch.dtype = torch.float32, cheap_padding: bool = False) -> nn.Module:
    """A frozen copy of ``network`` (a VGG :class:`~adain_hub.model.Encoder`) with weights in
    ``dtype``, cheap reflection padding (unless ``cheap_padding=False``, for comparison),
    channels_last, in eval mode; give it inputs in ``dtype``."""
    judge = copy.deepcopy(network)
    if cheap_padding:
        _swap_padding(judge)
    return judge.to(dtype=dtype, memory_format=torch.channels_last).eval().requires_grad_(False)
