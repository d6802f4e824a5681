"""What an input becomes, decided from its header before a pixel is decoded: the one rule that
``adain stylize``, ``adain stylize-dataset`` (folders and ``datasets`` sources), the app, video,
:class:`~adain_hub.StyleAugment` and the fine-tune's checks share, so that each gives the same answer
for the same file.

The rule, in order:

1. **The header** (``PIL`` opens lazily: size and mode before decoding). Refused: more pixels than
   ``max_pixels`` (a decompression bomb), no pixels, or a decode that alone would need more than the
   memory budget (``DECODE_BYTES``: 16-bit and float images take about 40 bytes a pixel on the way to
   8-bit RGB).
2. **The output size**: ``center_crop`` C gives C x C; otherwise the longer side capped at ``size``
   (never upscaled), the aspect ratio kept, each side at least 1 px
   (:func:`~adain_hub.images.output_size`). The cap holds for every shape: a 65535 x 1 strip comes out
   256 x 1 at 256.
3. **The network size**, a function of the output size alone (so a dataset's tiled path, which hands
   the stylizer pixels already at their output size, plans the same network run): an image under
   ``MIN_SIDE`` (32 px) on its longer side, an icon, is enlarged until it is 32; a side still under 32,
   a strip's, is padded to 32 by mirroring the image (``numpy``'s ``symmetric`` mode, which works for a
   1 px side too) and cropped back after. A strip is never enlarged as a whole to raise its shorter
   side: that took a 65535 x 1 PNG to 2,097,120 x 32 pixels and 9.9 GiB.
4. **Memory**: whole when the network run fits ``Budget.megabytes`` (the photo, the result and the
   network's activations, :func:`~adain_hub.tiling.tile_for_budget`), else in tiles sized to it, else
   refused with the reason. Where tiles are impossible (a batch, a video frame) an input that would
   need them is refused.

A refusal is a one-line reason without the input's name (``InputPlan.reason``); callers raise it as
an :class:`~adain_hub.images.ImageError` with the name in front (:meth:`InputPlan.check`), so a file's
refusal reads the same in ``adain stylize``'s error line and in a dataset's manifest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from . import tiling
from .images import MAX_PIXELS, MIN_SIDE, ImageError, ImageInput, fit, image_header, output_size

# Peak bytes per source pixel of decoding to 8-bit RGB (load_image), measured on 6-megapixel files with
# ru_maxrss (PIL holds RGB as 4 bytes a pixel, and converting copies; high bit depths go through float64)
DECODE_BYTES = {"1": 12.0, "L": 12.0, "RGB": 14.0, "CMYK": 14.0, "YCbCr": 14.0, "LAB": 14.0, "HSV": 14.0}
DECODE_BYTES_DEFAULT = 26.0  # palette, alpha: converted through RGBA and composited on white
DECODE_BYTES_DEEP = 40.0  # 16-bit, 32-bit integer and float images

T = TypeVar("T", np.ndarray, Tensor)


def decode_bytes_per_pixel(mode: str) -> float:
    """Peak bytes per source pixel that decoding an image of PIL ``mode`` takes."""
    if mode.startswith("I") or mode == "F":
        return DECODE_BYTES_DEEP
    return DECODE_BYTES.get(mode, DECODE_BYTES_DEFAULT)


@dataclass(frozen=True)
class Header:
    """What the header says: the upright size and PIL mode (arrays and tensors: their shape, RGB)."""

    width: int
    height: int
    mode: str = "RGB"


@dataclass(frozen=True)
class Budget:
    """What one stylization may use: ``megabytes`` besides the loaded model, at ``bytes_per_pixel``
    of network input (the backend's measured peak); ``tiles``: whether it can run in tiles (a batch
    or a video frame cannot); ``tile``: a forced tile side; ``max_pixels``: the bomb limit."""

    megabytes: float
    bytes_per_pixel: float
    tiles: bool = True
    tile: int | None = None
    max_pixels: int = MAX_PIXELS


@dataclass(frozen=True)
class NetworkPlan:
    """How an image of ``output`` size runs through the network: enlarged to ``scaled`` (an icon),
    mirrored out to ``padded`` (a side under ``MIN_SIDE``), whole (``tile`` None) or in tiles with
    cores of ``tile`` px, about ``megabytes`` at its peak; or refused (``reason``)."""

    output: tuple[int, int]
    scaled: tuple[int, int]
    padded: tuple[int, int]
    tile: int | None = None
    megabytes: float = 0.0
    reason: str = ""

    @property
    def padding(self) -> tuple[int, int, int, int]:
        """``(top, bottom, left, right)`` pixels mirrored around the scaled image, split evenly."""
        (sw, sh), (pw, ph) = self.scaled, self.padded
        return (ph - sh) // 2, ph - sh - (ph - sh) // 2, (pw - sw) // 2, pw - sw - (pw - sw) // 2

    def to_network(self, img: Image.Image) -> Image.Image:
        """An image at ``output`` size (or any size: it is resized) as the network takes it."""
        img = fit(img, self.scaled)
        if self.padded == self.scaled:
            return img
        return Image.fromarray(self.pad(np.asarray(img.convert("RGB"))))

    def from_network(self, img: Image.Image) -> Image.Image:
        """The network's result at ``padded`` size, cropped of the padding and brought to ``output``."""
        top, _, left, _ = self.padding
        if self.padded != self.scaled:
            img = img.crop((left, top, left + self.scaled[0], top + self.scaled[1]))
        return fit(img, self.output)

    def pad(self, x: T) -> T:
        """Mirror ``x`` out to ``padded``: an ``(H, W[, C])`` array or a ``(..., H, W)`` tensor."""
        top, bottom, left, right = self.padding
        if not (top or bottom or left or right):
            return x
        if isinstance(x, np.ndarray):
            return x[symmetric_index(x.shape[0], top, bottom)][:, symmetric_index(x.shape[1], left, right)]
        rows = torch.from_numpy(symmetric_index(x.shape[-2], top, bottom)).to(x.device)
        cols = torch.from_numpy(symmetric_index(x.shape[-1], left, right)).to(x.device)
        return x.index_select(-2, rows).index_select(-1, cols)

    def crop(self, x: Tensor) -> Tensor:
        """The scaled image cut back out of a ``(..., H, W)`` tensor at ``padded`` size."""
        top, _, left, _ = self.padding
        return x[..., top : top + self.scaled[1], left : left + self.scaled[0]]


@dataclass(frozen=True)
class InputPlan:
    """What an input becomes: its ``source`` size (upright), how its ``network`` run goes (with the
    output size), the ``decode_megabytes`` its decoding peaks at; or refused, ``reason`` saying why."""

    source: tuple[int, int]
    network: NetworkPlan | None
    decode_megabytes: float = 0.0
    reason: str = ""

    @property
    def output(self) -> tuple[int, int] | None:
        return self.network.output if self.network is not None else None

    @property
    def megabytes(self) -> float:
        """The most it holds at once: its decoding, or its network run, whichever is larger."""
        return max(self.decode_megabytes, self.network.megabytes if self.network is not None else 0.0)

    def check(self, name: str) -> "InputPlan":
        """Itself, or an :class:`ImageError` naming the input and the reason it is refused."""
        if self.reason:
            raise ImageError(f"{name}: {self.reason}")
        return self


def symmetric_index(length: int, before: int, after: int) -> np.ndarray:
    """Source positions of ``before + length + after`` positions mirrored about the edges, edge
    included (``numpy.pad(mode="symmetric")``), for any padding, a 1 px side's too."""
    i = np.arange(-before, length + after) % (2 * length)
    return np.where(i >= length, 2 * length - 1 - i, i)


def decode_megabytes(header: Header) -> float:
    """The peak memory of decoding an image of ``header`` to 8-bit RGB."""
    return decode_bytes_per_pixel(header.mode) * header.width * header.height / 2**20


def decode_refusal(header: Header, need: float, megabytes: float) -> str:
    """Why an image whose decoding needs ``need`` MB is refused at a budget of ``megabytes``."""
    return (f"cannot stylize (decoding a {header.width}x{header.height} {header.mode} image needs about "
            f"{need:,.0f} MB, over the memory budget of {megabytes:,.0f} MB)")


def network_plan(width: int, height: int, budget: Budget | None = None) -> NetworkPlan:
    """How an image of ``width x height`` (its output size) runs through the network within
    ``budget`` (``None``: the geometry alone, never refused)."""
    longest = max(width, height)
    scale = MIN_SIDE / longest if longest < MIN_SIDE else 1.0  # an icon: enlarged until 32 px long
    scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
    padded = (max(scaled[0], MIN_SIDE), max(scaled[1], MIN_SIDE))  # a strip: mirrored out to 32 px
    plan = NetworkPlan((width, height), scaled, padded)
    if budget is None:
        return plan
    pw, ph = (-(-side // tiling.GRID) * tiling.GRID for side in padded)  # the multiple of 8 it runs at
    bpp = budget.bytes_per_pixel
    whole = (tiling.IMAGE_BYTES_PER_PIXEL + bpp) * pw * ph / 2**20
    if budget.tile is not None:  # forced tiles (a user's --tile)
        return NetworkPlan(plan.output, scaled, padded, budget.tile, whole)
    try:
        tile = tiling.tile_for_budget(pw, ph, budget.megabytes * 2**20, bpp)
    except ValueError as exc:
        return NetworkPlan(plan.output, scaled, padded, None, whole, f"cannot stylize ({exc})")
    if tile is None:
        return NetworkPlan(plan.output, scaled, padded, None, whole)
    if not budget.tiles:
        return NetworkPlan(plan.output, scaled, padded, None, whole, (
            f"cannot stylize (a {pw}x{ph} image needs about {whole:,.0f} MB, over the memory budget of "
            f"{budget.megabytes:,.0f} MB, and runs whole here; lower the size)"))
    return NetworkPlan(plan.output, scaled, padded, tile, tiling.tiled_bytes(pw, ph, tile, bpp) / 2**20)


def plan_header(header: Header, budget: Budget, size: int | None = None,
                center_crop: int | None = None) -> InputPlan:
    """What an image of ``header`` becomes at ``size`` (the cap on its longer side; ``None`` or 0:
    its own size) or ``center_crop``, within ``budget`` (see the module docstring)."""
    w, h = header.width, header.height
    if w * h > budget.max_pixels:
        return InputPlan((w, h), None, reason=f"image is too large ({w}x{h} pixels, limit {budget.max_pixels:,})")
    if min(w, h) <= 0:
        return InputPlan((w, h), None, reason=f"image is empty ({w}x{h} pixels)")
    decode = decode_megabytes(header)
    if center_crop:
        out = (center_crop, center_crop)
        decode += 4 * min(crop_resize_pixels(w, h, center_crop), CROP_FIRST_PIXELS) / 2**20
    else:
        out = output_size(w, h, size)
    if decode > budget.megabytes:
        return InputPlan((w, h), None, decode, decode_refusal(header, decode, budget.megabytes))
    net = network_plan(*out, budget)
    return InputPlan((w, h), net, decode, net.reason)


def read_header(src: ImageInput) -> Header:
    """The :class:`Header` of any input :func:`~adain_hub.images.load_image` takes, without decoding
    a file; an :class:`ImageError` (one line, named) for a file that is not an image at all."""
    if isinstance(src, Image.Image):
        w, h = src.size
        return Header(w, h, src.mode)
    if isinstance(src, (Tensor, np.ndarray)):
        hwc = isinstance(src, np.ndarray) and src.ndim == 3 and src.shape[-1] in (3, 4)
        h, w = (src.shape[:2] if hwc else src.shape[-2:]) if src.ndim >= 2 else (0, 0)
        return Header(int(w), int(h))
    if isinstance(src, (str, os.PathLike, bytes)):
        return Header(*image_header(src))
    raise ImageError(f"{type(src).__name__}: not an image (give a path, bytes, a PIL image, an array or a tensor)")


def plan_input(src: ImageInput, budget: Budget, size: int | None = None,
               center_crop: int | None = None) -> InputPlan:
    """:func:`plan_header` of ``src``'s header (nothing decoded); :class:`ImageError` for a file that
    is not an image. A refusal is in the plan's ``reason``."""
    return plan_header(read_header(src), budget, size, center_crop)


# -- the centre crop (Stylized-ImageNet) ---------------------------------------------------------
RESIZE_PER_CROP = 256 / 224  # the shorter side to 256, then the centre 224 (scaled alike for other crops)
CROP_FIRST_PIXELS = 2048 * 2048  # past this, the crop's region is cut out before resizing, not after


def crop_resize_size(width: int, height: int, crop: int) -> tuple[int, int]:
    """torchvision's ``Resize(round(crop * 256 / 224))`` size of a ``width x height`` image."""
    short = round(crop * RESIZE_PER_CROP)
    return (short, int(short * height / width)) if width <= height else (int(short * width / height), short)


def crop_resize_pixels(width: int, height: int, crop: int) -> int:
    """Pixels of that resized image, which the centre crop would make before cutting."""
    rw, rh = crop_resize_size(width, height, crop)
    return rw * rh
