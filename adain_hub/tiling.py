"""Geometry for stylizing a photo in overlapping tiles: where the tiles go, how much memory they take,
how their outputs are blended. No network and no statistics here (see :class:`~adain_hub.Stylizer`).

Everything is in the coordinates of the photo reflection-padded to a multiple of 8 (as
:func:`~adain_hub.images.pad_to_multiple` pads it), so every tile sits on relu4_1's 8-pixel grid and
its features are the very ones the whole photo would give. A tile is its *core* (the tiles' cores
partition the photo) plus a ``HALO`` on every side that is not the photo's edge. VGG-19's receptive
field to relu4_1 reaches 34 px, and the decoder's about 3 feature positions, so features and output
pixels within ``HALO - 64`` px of a core are exact; neighbouring tiles are cross-faded over
``2 * BLEND`` px around the border of their cores, inside that exact zone, with weights that sum to
one (no seam, and no weight map to keep).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
from torch import Tensor

GRID = 8  # relu4_1 is 1/8 of the image
HALO = 96  # px of context on each inner side of a tile (a multiple of GRID)
BLEND = 32  # px on each side of a core border over which two tiles are cross-faded
MIN_TILE = 64  # the smallest core a tile may have (smaller would be mostly halo)
IMAGE_BYTES_PER_PIXEL = 14  # the photo and the result, each as a PIL image (4 B/px) and a numpy array (3)


@dataclass(frozen=True)
class Span:
    """One tile's extent along one axis, in padded-image pixels: ``core`` inside ``ext``, and the
    half-width of the cross-fade at its inner core borders (the same for every tile on the axis)."""

    core: tuple[int, int]
    ext: tuple[int, int]
    blend: int = BLEND


def spans(length: int, tile: int, halo: int = HALO) -> list[Span]:
    """Split ``length`` (a multiple of ``GRID``) into cores of at most ``tile`` px on the grid, of
    near-equal sizes (so tiles keep one shape), each with ``halo`` px more where it is not the edge."""
    cells, tile_cells, halo_cells = length // GRID, max(1, tile // GRID), halo // GRID
    n = math.ceil(cells / tile_cells)
    cuts = [round(i * cells / n) for i in range(n + 1)]
    # cross-fades may not overlap inside a core, or the weights would no longer sum to one
    blend = min(BLEND, min(b - a for a, b in zip(cuts[:-1], cuts[1:])) * GRID // 2)
    return [
        Span((a * GRID, b * GRID), (max(0, a - halo_cells) * GRID, min(cells, b + halo_cells) * GRID), blend)
        for a, b in zip(cuts[:-1], cuts[1:])
    ]


def ramp(span: Span, length: int) -> np.ndarray:
    """Blending weights over ``span.ext``: 1 inside the core, cross-fading linearly over
    ``span.blend`` px either side of each inner core border, so neighbouring tiles' weights sum to 1."""
    (c0, c1), (e0, e1), blend = span.core, span.ext, span.blend
    x = np.arange(e0, e1, dtype=np.float32) + 0.5
    w = np.ones(e1 - e0, dtype=np.float32)
    if c0 > 0:
        w *= np.clip((x - (c0 - blend)) / (2 * blend), 0.0, 1.0)
    if c1 < length:
        w *= np.clip(((c1 + blend) - x) / (2 * blend), 0.0, 1.0)
    return w


def reflect_index(start: int, stop: int, offset: int, size: int) -> np.ndarray:
    """Source indices of padded positions ``start..stop`` where the image sits at ``offset`` and is
    ``size`` long, mirrored at its edges as ``torch.nn.functional.pad(mode="reflect")`` does."""
    i = np.arange(start, stop) - offset
    i = np.abs(i)
    return np.where(i >= size, 2 * (size - 1) - i, i)


def crop(pixels: np.ndarray, rows: Span, cols: Span, top: int, left: int) -> Tensor:
    """The ``ext`` region of a tile from an ``(H, W, 3)`` uint8 photo, reflection-padded where it
    reaches beyond the photo: ``(1, 3, h, w)`` float32 in [0, 1]."""
    h, w = pixels.shape[:2]
    r = reflect_index(*rows.ext, top, h)
    c = reflect_index(*cols.ext, left, w)
    if r[0] >= 0 and r[-1] == r[0] + len(r) - 1 and c[0] >= 0 and c[-1] == c[0] + len(c) - 1:
        region = pixels[r[0] : r[-1] + 1, c[0] : c[-1] + 1]  # a plain slice: no gather copy
    else:
        region = pixels[r][:, c]
    region = np.ascontiguousarray(region)
    if not region.flags.writeable:  # a view of np.asarray(PIL image): torch warns on read-only arrays
        region = region.copy()
    return torch.from_numpy(region).permute(2, 0, 1)[None].float().div_(255.0)


def grid(height: int, width: int, tile: int, halo: int = HALO) -> list[list[tuple[Span, Span]]]:
    """Tiles of a padded ``height x width`` image, row by row: ``[(rows, cols), ...]`` per tile row."""
    return [[(r, c) for c in spans(width, tile, halo)] for r in spans(height, tile, halo)]


def tile_for_budget(
    width: int, height: int, budget_bytes: float, bytes_per_pixel: float, halo: int = HALO
) -> int | None:
    """The largest core side whose tiles, with the photo, the result and one band of blended rows,
    fit ``budget_bytes``; ``None`` when the whole photo fits untiled. Raises ``ValueError`` when not
    even ``MIN_TILE`` fits (a budget too small for this photo)."""
    fixed = IMAGE_BYTES_PER_PIXEL * width * height
    if fixed + bytes_per_pixel * width * height <= budget_bytes:
        return None

    def need(side: int) -> float:
        return tiled_bytes(width, height, side, bytes_per_pixel, halo)

    if need(MIN_TILE) > budget_bytes:
        raise ValueError(
            f"a {width}x{height} photo needs about {need(MIN_TILE) / 2**20:,.0f} MB even in the smallest "
            f"tiles, over the memory budget of {budget_bytes / 2**20:,.0f} MB; raise the budget or lower the size"
        )
    side = MIN_TILE
    while side < max(width, height) and need(side + GRID) <= budget_bytes:
        side += GRID
    return side


def tiled_bytes(width: int, height: int, side: int, bytes_per_pixel: float, halo: int = HALO) -> float:
    """Peak bytes of a ``width x height`` photo run in tiles with cores of ``side``: the photo and the
    result, one band of blended rows, one tile's activations (a tile, and a band, no bigger than the
    photo: a 65536 x 32 strip's are 32 rows high)."""
    ext_h, ext_w = min(side + 2 * halo, height), min(side + 2 * halo, width)
    band = 2 * ext_h * width * 3 * 4  # float32 rows being blended, briefly twice when a row starts
    return IMAGE_BYTES_PER_PIXEL * width * height + band + bytes_per_pixel * ext_h * ext_w


class BandBlender:
    """Accumulates weighted tile outputs one tile row at a time and writes finished rows, cropped of
    the padding, into a uint8 ``(H, W, 3)`` result: memory is one band of rows, not a float canvas."""

    def __init__(self, out: np.ndarray, padded_width: int, top: int, left: int) -> None:
        self.out, self.top, self.left = out, top, left
        self.width = padded_width
        self.y0 = 0
        self.acc = np.zeros((0, padded_width, 3), np.float32)

    def start_row(self, ext: tuple[int, int]) -> None:
        """Begin a tile row spanning padded rows ``ext``; rows above it can get nothing more."""
        y0, y1 = ext
        self._flush(y0)
        acc = np.zeros((y1 - y0, self.width, 3), np.float32)
        keep = self.acc[: max(0, min(y1, self.y0 + len(self.acc)) - y0)]
        acc[: len(keep)] = keep
        self.acc, self.y0 = acc, y0

    def add(self, image: Tensor, rows: Span, cols: Span, height: int, width: int) -> None:
        """Add a decoded tile ``(1, 3, h, w)`` weighted by its ramps (``height x width``: padded size)."""
        w = ramp(rows, height)[:, None, None] * ramp(cols, width)[None, :, None]
        (y0, y1), (x0, x1) = rows.ext, cols.ext
        tile = image[0].permute(1, 2, 0).cpu().numpy()  # a GPU backend decodes on its device
        self.acc[y0 - self.y0 : y1 - self.y0, x0:x1] += tile * w

    def finish(self) -> np.ndarray:
        self._flush(self.y0 + len(self.acc))
        return self.out

    def _flush(self, until: int) -> None:
        """Round rows ``self.y0 .. until`` into the result."""
        n = max(0, min(until - self.y0, len(self.acc)))
        if not n:
            return
        h, w = self.out.shape[:2]
        a = max(self.y0, self.top) - self.y0  # skip padding rows
        b = min(self.y0 + n, self.top + h) - self.y0
        if b > a:
            rows = self.acc[a:b, self.left : self.left + w]
            y = self.y0 + a - self.top
            self.out[y : y + (b - a)] = (np.clip(rows, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        self.acc = self.acc[n:]
        self.y0 += n


def iter_tiles(rows: list[list[tuple[Span, Span]]]) -> Iterator[tuple[Span, Span]]:
    for row in rows:
        yield from row
