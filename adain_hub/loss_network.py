"""The frozen VGG-19 that judges training, as a copy in the step's precision.

Training spends most of a step in this network (the output's forward and backward pass, and the
targets' forward passes), never changes its weights, and only ever needs gradients with respect
to its input. So the training loop runs a frozen copy of it whose weights are stored in the
precision the step computes in (bf16 where the CPU or GPU has it: autocast would otherwise cast
every weight again on every call). The model's own encoder and its checkpoint keys are left as
they are.

``padding`` chooses how the copy pads before each 3x3 convolution. ``"reflect"`` (the default) is
the network as trained and as the evaluation judges with. ``"concat"`` is the same reflection built
from two concatenations; it was meant to be cheaper and measured slower on an AMX Xeon
(``benchmarks/bench_training.py --compare fast``: 0.90-0.96x the step with ``F.pad``), so it is
kept for that comparison only. ``"zero"`` lets each convolution pad with zeros itself: no separate
padding pass forward or backward (a VGG-19 forward at 128 px took 0.063 s against 0.113 s with
``F.pad``), at the price of a judge that differs from the evaluation's one pixel deep at every
border and every scale, so it must earn its place in a same-seed quality comparison.
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


PADDINGS = ("reflect", "concat", "zero")


def _swap_padding(module: nn.Module, padding: str) -> None:
    for name, child in module.named_children():
        if isinstance(child, nn.Sequential) and len(child) == 2 and isinstance(child[0], nn.ReflectionPad2d) \
                and tuple(child[0].padding) == (1, 1, 1, 1) and isinstance(child[1], nn.Conv2d) \
                and child[1].kernel_size == (3, 3) and tuple(child[1].padding) == (0, 0):
            if padding == "concat":
                child[0] = ReflectPad1()
            else:  # the convolution pads with zeros itself
                child[0] = nn.Identity()
                child[1].padding = (1, 1)
        else:
            _swap_padding(child, padding)


class OwnPrecision(nn.Module):
    """``network`` run with autocast off, whatever the caller has on: its weights and inputs are
    already in the precision it computes in, and CPU autocast runs reflection padding in float32,
    so under it every padded map was cast up and back down (a 128 px lite training step on a
    2-core AMX Xeon took 0.226 s with those casts and 0.201 s without, in a one-off A/B)."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def forward(self, x: Tensor) -> list[Tensor]:
        with torch.autocast(x.device.type, enabled=False):
            return self.network(x)


def judge_copy(network: nn.Module, dtype: torch.dtype = torch.float32, padding: str = "reflect") -> nn.Module:
    """A frozen copy of ``network`` (a VGG :class:`~adain_hub.model.Encoder`) with weights in
    ``dtype``, its 3x3 convolutions padded as ``padding`` says (``"reflect"``, ``"concat"`` or
    ``"zero"``: see the module's docstring), channels_last, in eval mode, computing in ``dtype``
    even under autocast (:class:`OwnPrecision`); give it inputs in ``dtype``."""
    if padding not in PADDINGS:
        raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    judge = copy.deepcopy(network)
    if padding != "reflect":
        _swap_padding(judge, padding)
    return OwnPrecision(judge.to(dtype=dtype, memory_format=torch.channels_last).eval().requires_grad_(False))
