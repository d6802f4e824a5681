"""Style augmentation for another model's training: :class:`StyleAugment`, a batched transform.

Stylized-ImageNet (Geirhos et al., ICLR 2019) and domain-generalization methods stylize training
images with AdaIN so a network learns shapes rather than textures; style randomization (Jackson et
al., CVPR-W 2019) draws random styles instead of paintings. This module does both on whole
batches: the stylized subset goes through the network in one call (:meth:`Stylizer.stylize_batch`),
without gradients, in the fastest precision the device has, and each sample gets its own style and
alpha.
"""

from __future__ import annotations

import os
from typing import Sequence

import torch
from torch import Tensor, nn
from torch.utils.data import get_worker_info

from .cores import available_cores
from .int8 import INT8, data_backend
from .model import AdaIN
from .style_bank import StyleBank, StyleBankError
from .stylizer import DEFAULT_MEMORY_BUDGET_MB, Stylizer

RANDOM = "random"


class StyleAugment(nn.Module):
    """Stylize each sample of a batch with probability ``p``: a torchvision v2 transform.

    Args:
        model: a loaded :class:`AdaIN` (its device is where the work runs; ``.to(device)`` moves it).
        styles: a :class:`StyleBank`, a folder of paintings (encoded once, here), or ``"random"``:
            style statistics drawn from the Gaussian fitted to ``bank`` (no paintings needed).
            Default: the model's shipped bank.
        p: probability that a sample is stylized.
        alpha: ``(lo, hi)``: each stylized sample's alpha is uniform in it; or one number.
        seed: the same seed gives the same outputs for the same inputs, call after call, bit for
            bit on one machine (in DataLoader workers, from the seed and the worker's seed);
            ``None`` draws from torch's global generator (which a DataLoader seeds per worker).
        bank: for ``styles="random"``, the bank whose Gaussian is sampled (default: the model's).
        backend: the :class:`Stylizer` backend (default ``"auto"``: OpenVINO on CPUs, fp16 on CUDA), or
            ``"openvino-int8"`` (:mod:`adain_hub.int8`: calibrated on the bank, ~2x VGG-19 on CPUs
            without AMX, ~35 dB from fp32; needs NNCF).
        memory_budget: MB one image's pass through the network may take (:mod:`~adain_hub.input_plan`:
            a batch runs whole, so a size over it raises ``ValueError`` saying so).

    Input ``(B, 3, H, W)`` or ``(3, H, W)``, uint8 or float in [0, 1], any ``H, W`` within the
    memory budget (under 32 px, run enlarged or mirrored out, the rule ``adain stylize`` follows);
    output of the same shape, dtype and device. Unstylized samples are returned untouched. A float
    batch holding NaN or infinite values raises ``ValueError`` saying how many (a model would
    otherwise learn from a flat image).
    """

    def __init__(
        self,
        model: AdaIN,
        styles: StyleBank | str | os.PathLike | None = None,
        p: float = 0.5,
        alpha: float | Sequence[float] = (0.5, 1.0),
        seed: int | None = None,
        bank: StyleBank | None = None,
        backend: str = "auto",
        memory_budget: float = DEFAULT_MEMORY_BUDGET_MB,
    ) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        lo, hi = (float(alpha), float(alpha)) if isinstance(alpha, (int, float)) else tuple(map(float, alpha))
        if not 0.0 <= lo <= hi <= 1.0:
            raise ValueError(f"alpha must be a number or (lo, hi) with 0 <= lo <= hi <= 1, got {alpha}")
        self.model = model.eval()
        if not memory_budget > 0:
            raise ValueError(f"memory_budget must be positive (MB), got {memory_budget}")
        self.p, self.alpha, self.seed, self.backend_name = float(p), (lo, hi), seed, backend
        self.memory_budget = float(memory_budget)
        self.random = isinstance(styles, str) and styles == RANDOM
        if self.random:
            source = bank if bank is not None else StyleBank.from_pretrained(model)
            source.check(model, "the bank to draw random styles from")
            source.sample(1)  # fails now, not in a DataLoader worker, if it cannot be sampled
        elif isinstance(styles, StyleBank):
            source = styles
            source.check(model, "this style bank")
        elif styles is None:
            source = StyleBank.from_pretrained(model)
        else:
            source = StyleBank.from_images(model, styles, backend="auto" if backend == INT8 else backend)
        self.bank = source.to("cpu")  # styles are drawn on the CPU; the network's device gets them per call
        self.generator = torch.Generator().manual_seed(seed) if seed is not None else None
        self._stylizer: Stylizer | None = None

    def extra_repr(self) -> str:
        styles = "random" if self.random else f"{len(self.bank)} styles"
        return f"styles={styles}, p={self.p}, alpha={self.alpha}, seed={self.seed}"

    # -- pickling and devices: the compiled backend is rebuilt where it is used ---------------
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_stylizer"] = None
        if state.get("generator") is not None:  # generators do not pickle; their state does
            state["generator"] = ("state", state["generator"].get_state())
        return state

    def __setstate__(self, state: dict) -> None:
        generator = state.get("generator")
        if isinstance(generator, tuple):
            g = torch.Generator()
            g.set_state(generator[1])
            state["generator"] = g
        super().__setstate__(state)

    def _apply(self, fn, recurse: bool = True):  # .to(), .cuda(), .half(): the backend follows
        self._stylizer = None
        return super()._apply(fn, recurse)

    @property
    def stylizer(self) -> Stylizer:
        """Built on first use in each process: in a DataLoader worker, an OpenVINO engine gets its
        share of the cores (all of them in every worker would oversubscribe the CPU)."""
        if self._stylizer is None:
            worker = get_worker_info()
            threads = max(1, available_cores() // worker.num_workers) if worker is not None else None
            backend = data_backend(self.model, self.backend_name, threads, bank=self.bank)  # int8: calibrated on it
            self._stylizer = Stylizer(self.model, backend=backend, cache_size=0,
                                      memory_budget=getattr(self, "memory_budget", DEFAULT_MEMORY_BUDGET_MB))
        return self._stylizer

    def _worker_generator(self) -> torch.Generator | None:
        """The seeded generator; in a DataLoader worker, re-seeded once from the seed and the
        worker's own seed (which the DataLoader draws from torch's generator each epoch and makes
        differ by worker): forked workers would otherwise all draw the same styles, epoch after
        epoch. ``torch.manual_seed`` before the loop makes the epochs repeat."""
        worker = get_worker_info()
        if self.generator is not None and worker is not None and getattr(self, "_worker_seed", None) != worker.seed:
            self.generator.manual_seed((self.seed * 1_000_003 + worker.seed) % 2**63)
            self._worker_seed = worker.seed
        return self.generator

    # -- the transform ----------------------------------------------------------------------
    def draw(self, n: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """What ``n`` samples get: which are stylized ``(n,)`` bool, and for those the style
        ``mean``/``std`` ``(k, C)`` and ``alpha`` ``(k,)``; all drawn on the CPU, so a seed gives the
        same draws on every device."""
        g = self._worker_generator()
        chosen = torch.rand(n, generator=g) < self.p
        k = int(chosen.sum())
        lo, hi = self.alpha
        alpha = lo + (hi - lo) * torch.rand(k, generator=g)
        if self.random:
            mean, std = self.bank.sample(k, generator=g)
        else:
            pick = torch.randint(len(self.bank), (k,), generator=g)
            mean, std = self.bank.mean[pick], self.bank.std[pick]
        return chosen, mean, std, alpha

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        if not isinstance(images, Tensor) or images.dim() not in (3, 4) or images.shape[-3] != 3:
            shape = tuple(images.shape) if isinstance(images, Tensor) else type(images).__name__
            raise ValueError(f"StyleAugment takes (B, 3, H, W) or (3, H, W) RGB tensors, got {shape}")
        if images.is_floating_point() is False and images.dtype != torch.uint8:
            raise ValueError(f"StyleAugment takes uint8 or float images, got {images.dtype}")
        if images.is_floating_point():  # before any draw: a refused batch leaves the seed's sequence as it was
            bad = int((~torch.isfinite(images)).sum())
            if bad:
                raise ValueError(f"StyleAugment got {bad:,} NaN or infinite values in a batch of shape "
                                 f"{tuple(images.shape)}; fix the data or the transform before it")
        single = images.dim() == 3
        batch = images.unsqueeze(0) if single else images
        chosen, mean, std, alpha = self.draw(len(batch))
        if not bool(chosen.any()):
            return images
        picked = chosen.nonzero().squeeze(1).to(batch.device)
        x = batch.index_select(0, picked)
        x = x.float().div(255.0) if batch.dtype == torch.uint8 else x.float()
        styled = self.stylizer.stylize_batch(x, mean, std, alpha).to(batch.device)
        if batch.dtype == torch.uint8:
            styled = styled.mul(255.0).round_().to(torch.uint8)
        out = batch.clone()
        out.index_copy_(0, picked, styled.to(batch.dtype))
        out = out.squeeze(0) if single else out
        return _like(out, images)


def _like(out: Tensor, like: Tensor) -> Tensor:
    """``out`` as the same tensor subclass as the input (a torchvision ``tv_tensors.Image`` stays one)."""
    return out if type(like) is Tensor else out.as_subclass(type(like))


__all__ = ["StyleAugment", "StyleBankError"]
