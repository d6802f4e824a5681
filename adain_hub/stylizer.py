"""Stylize images: load, resize, encode once, transform, decode. Plain inputs in, PIL images out.

Videos build on this (:mod:`adain_hub.video`, ``stylize_video(stylizer, ...)``); this module knows
nothing of them.

What an input becomes (its output size, the size the network runs it at, whole or in tiles, or
refused) is decided from its header before a pixel is decoded, by :mod:`adain_hub.input_plan`, the
rule every entry point shares. Photos too big for the memory budget run in overlapping tiles
(:mod:`adain_hub.tiling`) with the content statistics of the whole photo, so the result matches an
untiled run.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from . import functional as AF
from . import tiling
from .backends import Backend, make_backend
from .images import (
    MAX_PIXELS,
    ImageInput,
    fingerprint,
    fit,
    load_image,
    load_mask,
    load_mask_grid,
    output_size,
    pad_amounts,
    pad_to_multiple,
    to_pil,
    to_tensor,
    unpad,
)
from .input_plan import Budget, Header, InputPlan, NetworkPlan, network_plan, plan_header, read_header
from .model import AdaIN

Method = Literal["adain", "wct"]


@dataclass(frozen=True, eq=False)
class StyleFeatures:
    """A style encoded once: relu4_1 features and their statistics, reusable across contents.

    ``mean``/``std`` are ``(1, C, 1, 1)``; ``features`` is kept for WCT, whose covariance is
    computed on first use and cached (``None`` for a style known only by its statistics, a
    :class:`~adain_hub.StyleBank`'s). ``image`` is the style as it was encoded (``None`` when
    built from bare features): colour preservation recolours it to each photo and encodes again.
    Compared by identity (tensors have no single truth value).
    """

    features: Tensor | None
    mean: Tensor
    std: Tensor
    image: Image.Image | None = None

    @classmethod
    def from_features(cls, features: Tensor, image: Image.Image | None = None) -> "StyleFeatures":
        mean, std = AF.calc_mean_std(features)
        return cls(features, mean, std, image)

    def covariance(self) -> tuple[Tensor, Tensor]:
        """``(C, 1)`` mean and ``(C, C)`` covariance for WCT, computed once."""
        if self.features is None:
            raise ValueError("WCT needs a style's features, and this style has only its statistics "
                             "(a style bank's): use method='adain', or the painting itself")
        if "_cov" not in self.__dict__:
            object.__setattr__(self, "_cov", AF.feature_covariance(self.features))
        return self.__dict__["_cov"]


StyleInput = ImageInput | StyleFeatures

DEFAULT_MEMORY_BUDGET_MB = 2048
FULL_SIZE_STYLE_SIDE = 1024  # styles' cap when photos run at their own size (CLI --size 0, app "original")
BATCH_PIXELS = 16 * 224 * 224  # see _chunk
COLOUR_REFERENCE_SIDE = 1024  # colour preservation reads the photo's palette from a copy this big


@dataclass(frozen=True, eq=False)
class ContentStats:
    """Statistics of a whole photo's relu4_1 features, so that each tile is transformed with them
    instead of its own: ``mean``/``std`` ``(1, C, 1, 1)``; for WCT ``covariance`` = (mean ``(C, 1)``,
    covariance ``(C, C)``); with masks, ``regions`` = (mean, std) per mask."""

    mean: Tensor
    std: Tensor
    covariance: tuple[Tensor, Tensor] | None = None
    regions: tuple[tuple[Tensor, Tensor], ...] | None = None


class _ContentSums:
    """Running sums over tile cores from which :class:`ContentStats` of the whole photo follow."""

    def __init__(self, method: Method, hard_regions: Sequence[bool] | None) -> None:
        self.method, self.hard = method, hard_regions
        self.sums: tuple[Tensor, ...] | None = None
        self.cov: tuple | None = None  # (positions, sum f, sum f f^T)
        self.regions: list[tuple[Tensor, ...]] | None = None

    def add(self, feat: Tensor, regions: Sequence[Tensor] | None) -> None:
        self.sums = _add(self.sums, AF.feature_sums(feat))
        if self.method == "wct":
            self.cov = _add(self.cov, AF.covariance_sums(feat))
        if regions is not None and self.hard is not None:
            weights = [_region_weight(m.to(feat.device), hard) for m, hard in zip(regions, self.hard)]
            new = [AF.feature_sums(feat, w) for w in weights]
            self.regions = new if self.regions is None else [_add(a, b) for a, b in zip(self.regions, new)]

    def stats(self) -> ContentStats:
        mean, std = AF.mean_std_from_sums(*self.sums)
        cov = AF.covariance_from_sums(*self.cov) if self.cov is not None else None
        regions = tuple(AF.mean_std_from_sums(*r) for r in self.regions) if self.regions is not None else None
        return ContentStats(mean, std, cov, regions)


def _add(a: tuple | None, b: tuple) -> tuple:
    return b if a is None else tuple(x + y for x, y in zip(a, b))


def _region_weight(mask: Tensor, hard: bool) -> Tensor:
    """What a region's content statistics are taken over: its mask thresholded at one half, or the
    soft mask itself when no position reaches one half (a faint mask still has statistics)."""
    return (mask > 0.5).float() if hard else mask


def _check_masks(method: str, weights: Sequence[float] | None) -> None:
    if method != "adain":
        raise ValueError("masks are supported with method='adain' only")
    if weights is not None:
        raise ValueError("give masks or weights, not both: each region takes its own style whole")


class Stylizer:
    """Style transfer with a loaded :class:`AdaIN` model.

    Encoded styles and contents are kept in a small LRU cache keyed by their pixels, so changing
    ``alpha``, weights or masks never re-encodes an image that did not change.

    Args:
        model: the network (``AdaIN.from_pretrained(...)``).
        backend: ``"auto"`` (fastest available), ``"openvino"``, ``"bf16"``, ``"fp16"`` or ``"fp32"``.
        size: default cap on the longer side of the content at which the network runs; ``None`` or
            0: the photo's own size.
        style_size: cap on the longer side of style images.
        cache_size: how many encoded images to keep (0: none, for callers that see each image once).
        memory_budget: MB a stylization may use besides the loaded model: the photo, the result
            and the network's activations. Photos whose untiled run would need more are stylized in
            overlapping tiles sized to fit (raises ``ValueError`` if even small tiles do not).
        tile: force tiles with cores of this many pixels a side (a multiple of 8, at least 64),
            whatever the budget; ``None``: tile only when needed.
        max_pixels: photos with more pixels are refused (decompression bombs, mistakes).
    """

    def __init__(
        self,
        model: AdaIN,
        backend: str | Backend = "auto",
        size: int | None = 512,
        style_size: int | None = 512,
        cache_size: int = 16,
        memory_budget: float = DEFAULT_MEMORY_BUDGET_MB,
        tile: int | None = None,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        if tile is not None and tile < tiling.MIN_TILE:
            raise ValueError(f"tile must be at least {tiling.MIN_TILE} px, got {tile}")
        if memory_budget <= 0:
            raise ValueError(f"memory_budget must be positive (MB), got {memory_budget}")
        self.model = model.eval()
        self.backend = make_backend(model, backend) if isinstance(backend, str) else backend
        self.size = size
        self.style_size = style_size
        self.memory_budget = memory_budget
        self.tile = None if tile is None else tile // tiling.GRID * tiling.GRID
        self.max_pixels = max_pixels
        self._cache: OrderedDict[tuple, Tensor] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    # -- encoding ---------------------------------------------------------------------------
    def _encode_cached(self, kind: str, img: Image.Image) -> Tensor:
        """relu4_1 of ``img``, run as the network takes it (a thin style mirrored out to 32 px)."""
        if self._cache_size == 0:  # nothing kept, so no fingerprint (a hash of every pixel) either
            return self._encode(img)
        key = (kind, fingerprint(img))
        with self._cache_lock:  # threads may share a Stylizer (a web server's workers)
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        feats = self._encode(img)
        with self._cache_lock:
            self._cache[key] = feats
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return feats

    def encode_style(self, style: StyleInput, colour_from: Image.Image | None = None) -> StyleFeatures:
        """Encode a style image once; pass the result to :meth:`stylize` as often as you like.

        With ``colour_from``, the style is first recoloured to that image's palette (colour
        preservation), so the result depends on it; a :class:`StyleFeatures` is then recoloured
        from the image it keeps.
        """
        if isinstance(style, StyleFeatures):
            if colour_from is None:
                return style
            if style.image is None:
                raise ValueError(
                    "preserve_color needs the style's image: pass the image itself, or StyleFeatures "
                    "from Stylizer.encode_style (features built with from_features carry none)"
                )
            img = style.image
        else:
            img = load_image(style)
            img = fit(img, output_size(*img.size, self.style_size))
        original = img
        if colour_from is not None:
            recoloured = AF.coral(to_tensor(img)[0], to_tensor(colour_from)[0])
            img = to_pil(recoloured)
        return StyleFeatures.from_features(self._encode_cached("style", img), original)

    def _encode(self, img: Image.Image) -> Tensor:
        return self.backend.encode(pad_to_multiple(to_tensor(network_plan(*img.size).to_network(img))))

    def prepare_content(self, content: ImageInput, size: int | None = None) -> Image.Image:
        """The content image at the size it is stylized and returned: RGB, longer side capped at
        ``size`` (0: the photo's own size), aspect ratio kept (the network pads it to a multiple of 8
        and crops back; an image under 32 px runs enlarged or mirrored out, see
        :mod:`~adain_hub.input_plan`). :class:`ImageError` for an input it refuses."""
        img, net = self._load_content(content, size)
        return fit(img, net.output)

    def _load_content(self, content: ImageInput, size: int | None,
                      method: Method = "adain") -> tuple[Image.Image, NetworkPlan]:
        """The photo as decoded, once its header's plan accepted it, and how it runs."""
        name = str(content) if isinstance(content, (str, os.PathLike)) else type(content).__name__
        plan = self.plan(content, size, method).check(name)
        img = load_image(content, max_pixels=self.max_pixels, min_side=1)
        if img.size != plan.source:  # a header that did not tell all (a PNG's EXIF after its pixels)
            plan = self.plan(img, size, method).check(name)
        return img, plan.network

    # -- what an input becomes (adain_hub.input_plan) -------------------------------------------
    def bytes_per_pixel(self, method: Method = "adain") -> float:
        """Peak bytes per network pixel of a stylization with this backend and ``method``."""
        bpp = getattr(self.backend, "bytes_per_pixel", 1500.0)
        if method == "wct":  # whitening and colouring hold ~4 float64 copies of the relu4_1 features
            bpp += 4 * 8 * self.model.config.feature_channels / self.model.config.downsample**2
        return bpp

    def budget(self, method: Method = "adain", tiles: bool = True) -> Budget:
        """This stylizer's memory budget as :mod:`~adain_hub.input_plan` takes it; ``tiles=False``
        for runs that take images whole (batches, video frames)."""
        return Budget(self.memory_budget, self.bytes_per_pixel(method), tiles, self.tile if tiles else None,
                      self.max_pixels)

    def plan(self, content: ImageInput | Header, size: int | None = None, method: Method = "adain",
             center_crop: int | None = None, tiles: bool = True) -> InputPlan:
        """What ``content`` becomes at ``size`` (default: the stylizer's; 0: its own size), read from
        its header alone: output size, network size, whole or tiles, or refused with the reason.
        :class:`ImageError` for a file that is not an image at all."""
        header = content if isinstance(content, Header) else read_header(content)
        return plan_header(header, self.budget(method, tiles), size if size is not None else self.size, center_crop)

    def network_plan(self, width: int, height: int, method: Method = "adain", tiles: bool = True) -> NetworkPlan:
        """How an image of ``width x height`` (its output size) runs within this stylizer's budget."""
        return network_plan(width, height, self.budget(method, tiles))

    def tile_size(self, width: int, height: int, method: Method = "adain") -> int | None:
        """Core side of the tiles a ``width x height`` network input runs in; ``None``: untiled."""
        if self.tile is not None:
            return self.tile
        return tiling.tile_for_budget(width, height, self.memory_budget * 2**20, self.bytes_per_pixel(method))

    # -- the transform ----------------------------------------------------------------------
    @torch.inference_mode()
    def stylize(
        self,
        content: ImageInput,
        styles: StyleInput | Sequence[StyleInput],
        alpha: float = 1.0,
        weights: Sequence[float] | None = None,
        masks: Sequence[ImageInput] | ImageInput | None = None,
        preserve_color: bool = False,
        method: Method = "adain",
        size: int | None = None,
        cache: bool = True,
    ) -> Image.Image:
        """Stylize ``content`` with one or more styles.

        Args:
            content: photo (path, bytes, PIL image, or ``(3, H, W)`` tensor in [0, 1]).
            styles: one style or a list; images or :class:`StyleFeatures`.
            alpha: content-style trade-off in [0, 1]; 0 gives back the content (decoded).
            weights: interpolation weights, one per style, scaled to sum to 1 (default equal).
            masks: spatial control, one mask per style (white = that style's region); with two
                styles a single mask is allowed (white = first style, black = second); with one
                style and one mask, outside the mask stays the photo.
            preserve_color: keep the photo's colours (styles recoloured to its palette first).
            method: ``"adain"`` or ``"wct"`` (whitening and colouring; slower, stronger).
            size: cap on the longer side for this call (default: the stylizer's ``size``; 0: the
                photo's own size, in tiles when it is over the memory budget).
            cache: keep the photo's encoding for later calls; ``False`` for images seen once (a
                webcam's frames), which would only push encoded styles out of the cache.
        """
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if method not in ("adain", "wct"):
            raise ValueError(f"method must be 'adain' or 'wct', got {method!r}")
        style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        if not style_list:
            raise ValueError("need at least one style")
        if masks is not None:  # before loading anything: the tiled path reads masks before transform
            _check_masks(method, weights)
        photo, net = self._load_content(content, size, method)
        content_img = net.to_network(photo)
        del photo  # at its own size it may be far bigger than the network's copy
        colour_from = _colour_reference(content_img) if preserve_color else None
        encoded = [self.encode_style(s, colour_from) for s in style_list]
        if net.tile is None:
            result = self._stylize_whole(content_img, encoded, alpha, weights, masks, method, net, cache)
        else:
            pixels = np.asarray(content_img)
            del content_img  # the photo as uint8 is all the tiles need
            result = self._stylize_tiled(pixels, encoded, alpha, weights, masks, method, net.tile, net)
        return net.from_network(result)

    def _stylize_whole(self, content_img: Image.Image, encoded: list[StyleFeatures], alpha: float,
                       weights: Sequence[float] | None, masks: Sequence[ImageInput] | ImageInput | None,
                       method: Method, net: NetworkPlan | None = None, cache: bool = True) -> Image.Image:
        net = net or network_plan(*content_img.size)
        c_feat = self._encode_cached("content", content_img) if cache else self._encode(content_img)
        regions = None
        if masks is not None:  # drawn over the photo, then mirrored out with it
            regions = self._regions(masks, len(encoded), net.scaled, lambda m, size: net.pad(load_mask(m, size)))
            regions = [pad_to_multiple(r) for r in regions]
        target = self.transform(c_feat, encoded, alpha, weights, regions, method)
        w, h = content_img.size
        return to_pil(unpad(self.backend.decode(target), h, w))

    def _stylize_tiled(self, pixels: np.ndarray, encoded: list[StyleFeatures], alpha: float,
                       weights: Sequence[float] | None, masks: Sequence[ImageInput] | ImageInput | None,
                       method: Method, tile: int, net: NetworkPlan | None = None) -> Image.Image:
        """Two passes over overlapping tiles, so memory never holds more than one tile's activations:
        the first gathers the whole photo's content statistics from the tiles' cores, the second
        transforms each tile with them, decodes it and blends it into the result row by row."""
        h, w = pixels.shape[:2]
        top, bottom, left, right = pad_amounts(h, w)
        hp, wp = h + top + bottom, w + left + right
        rows = tiling.grid(hp, wp, tile)
        grids = None
        g = self.model.config.downsample  # features per pixel: 1/8 for VGG, 1/4 for lite (tiles sit on 8 px)
        if masks is not None:  # at the features' resolution for the whole photo: small (1/64 of its pixels)
            def grid_loader(m: ImageInput, size: tuple[int, int]) -> Tensor:
                if net is not None and net.padded != net.scaled:  # a strip: the mask mirrored out with it
                    return torch.nn.functional.avg_pool2d(pad_to_multiple(net.pad(load_mask(m, net.scaled))), g)
                return load_mask_grid(m, size, block=g)

            grids = self._normalise_regions(self._regions(masks, len(encoded), (w, h), grid_loader))

        def features(r: tiling.Span, c: tiling.Span) -> Tensor:
            return self.backend.encode(tiling.crop(pixels, r, c, top, left))

        def cut(t: Tensor, r: tiling.Span, c: tiling.Span, ref: str) -> Tensor:
            (y0, y1), (x0, x1) = getattr(r, ref), getattr(c, ref)
            return t[..., y0 // g : y1 // g, x0 // g : x1 // g]

        sums = _ContentSums(method, [bool((m > 0.5).any()) for m in grids] if grids is not None else None)
        for r, c in tiling.iter_tiles(rows):
            f = features(r, c)
            core = f[..., (r.core[0] - r.ext[0]) // g : (r.core[1] - r.ext[0]) // g,
                     (c.core[0] - c.ext[0]) // g : (c.core[1] - c.ext[0]) // g]
            sums.add(core, [cut(m, r, c, "core") for m in grids] if grids is not None else None)
        stats = sums.stats()

        blender = tiling.BandBlender(np.empty((h, w, 3), np.uint8), wp, top, left)
        for row in rows:
            blender.start_row(row[0][0].ext)
            for r, c in row:
                regions = [cut(m, r, c, "ext") for m in grids] if grids is not None else None
                target = self.transform(features(r, c), encoded, alpha, weights, regions, method, stats)
                blender.add(self.backend.decode(target), r, c, hp, wp)
        return Image.fromarray(blender.finish())

    __call__ = stylize

    @torch.inference_mode()
    def stylize_batch(
        self,
        images: Tensor,
        mean: Tensor,
        std: Tensor,
        alpha: Tensor | float = 1.0,
        index: Tensor | None = None,
    ) -> Tensor:
        """Stylize a batch of same-sized images, each output with its own style statistics and
        alpha: the path for data (datasets, augmentation), where the per-image :meth:`stylize` would
        spend its time converting to and from PIL. OpenVINO runs it as one fused graph on parallel
        streams; eager backends in chunks of about 16 images at 224 px (:data:`BATCH_PIXELS`).

        Args:
            images: ``(B, 3, H, W)`` float in [0, 1], on any device; any ``H, W`` that runs whole
                within the memory budget (:mod:`~adain_hub.input_plan`: padded to the network's multiple
                and cropped back; under 32 px, enlarged or mirrored out), else ``ValueError``.
            mean, std: ``(M, C)`` style statistics (a :class:`~adain_hub.StyleBank`'s rows), one per output.
            alpha: a float, or ``(M,)`` per output.
            index: ``(M,)`` which image each output is of (default ``arange(B)``, ``M = B``).

        Returns ``(M, 3, H, W)`` float32 in [0, 1] on the backend's device.
        """
        if images.dim() != 4 or images.shape[1] != 3:
            raise ValueError(f"expected a (B, 3, H, W) batch, got shape {tuple(images.shape)}")
        h, w = images.shape[-2:]
        m = len(images) if index is None else len(index)
        c = self.model.config.feature_channels
        if mean.shape != (m, c) or std.shape != mean.shape:
            raise ValueError(f"need ({m}, {c}) style means and stds, got {tuple(mean.shape)} and {tuple(std.shape)}")
        alpha = torch.as_tensor(alpha, dtype=torch.float32).flatten().cpu()
        alpha = alpha.expand(m) if alpha.numel() == 1 else alpha
        if alpha.shape != (m,) or not bool(((alpha >= 0) & (alpha <= 1)).all()):
            raise ValueError(f"alpha must be one value or {m} values, each in [0, 1]")
        net = self.network_plan(w, h, tiles=False)  # the rule every entry point shares
        if net.reason:
            raise ValueError(f"a {w}x{h} batch: {net.reason}")
        (sw, sh), (pw, ph) = net.scaled, net.padded
        x = images.float()
        if (sh, sw) != (h, w):  # icons: relu4_1 needs a few positions to take statistics over
            x = torch.nn.functional.interpolate(x, size=(sh, sw), mode="bilinear", align_corners=False)
        x = pad_to_multiple(net.pad(x))  # strips: mirrored out to 32 px, never enlarged whole
        fused = getattr(self.backend, "stylize", None)
        if fused is not None:  # one graph for the whole path (OpenVINO); an image is encoded per output
            x = x if index is None else x.index_select(0, index.to(x.device))
            out = fused(x, mean, std, alpha)
        else:
            feats = torch.cat([self.backend.encode(part) for part in x.split(_chunk(x))])
            if index is not None:
                feats = feats.index_select(0, index.to(feats.device))
            target = AF.adaptive_instance_normalization(
                feats, mean.to(feats.device, torch.float32)[..., None, None],
                std.to(feats.device, torch.float32)[..., None, None])
            target = torch.lerp(feats, target, alpha.to(feats.device).view(-1, 1, 1, 1))
            out = torch.cat([self.backend.decode(part) for part in target.split(_chunk(x))])
        out = net.crop(unpad(out, ph, pw))
        if (sh, sw) != (h, w):
            out = torch.nn.functional.interpolate(out, size=(h, w), mode="bilinear", align_corners=False,
                                                  antialias=True)
        return out.clamp_(0.0, 1.0)

    @staticmethod
    def transform(
        c_feat: Tensor,
        styles: Sequence[StyleFeatures],
        alpha: float = 1.0,
        weights: Sequence[float] | None = None,
        regions: Sequence[Tensor] | None = None,
        method: Method = "adain",
        content_stats: ContentStats | None = None,
    ) -> Tensor:
        """The feature-space step between encoder and decoder, on relu4_1 features ``(1, C, h, w)``.

        Interpolates styles by ``weights`` or assigns them to ``regions`` (image-sized masks, or
        masks at the features' size), then blends with the content features:
        ``alpha * t + (1 - alpha) * c``. ``content_stats`` replaces the statistics of ``c_feat``
        itself (a tile is normalised with those of the whole photo).
        """
        if regions is not None:
            _check_masks(method, weights)
            region_stats = content_stats.regions if content_stats is not None else None
            target = Stylizer._masked_adain(c_feat, list(styles), list(regions), region_stats)
        else:
            w = AF.normalize_weights(weights, len(styles))
            if method == "adain":
                mean, std = AF.blend_stats([e.mean for e in styles], [e.std for e in styles], w)
                own = (content_stats.mean, content_stats.std) if content_stats is not None else None
                target = AF.adaptive_instance_normalization(c_feat, mean, std, content_stats=own)
            else:
                cov = content_stats.covariance if content_stats is not None else None
                target = sum(wi * AF.whiten_colour(c_feat, *e.covariance(), content_cov=cov)
                             for wi, e in zip(w, styles))
        if alpha == 1.0:  # the common case: no blend pass over the features
            return target
        return alpha * target + (1.0 - alpha) * c_feat

    @staticmethod
    def _regions(masks: Sequence[ImageInput] | ImageInput, n_styles: int, size: tuple[int, int],
                 loader=load_mask) -> list[Tensor]:
        mask_list = list(masks) if isinstance(masks, (list, tuple)) else [masks]
        loaded = [loader(m, size) for m in mask_list]
        if len(loaded) == 1 and n_styles == 2:
            loaded = [loaded[0], 1.0 - loaded[0]]
        if len(loaded) != n_styles:
            raise ValueError(f"got {len(loaded)} masks for {n_styles} styles; give one per style")
        return loaded

    @staticmethod
    def _normalise_regions(small: list[Tensor]) -> list[Tensor]:
        """Overlapping masks are scaled to sum to at most one per position."""
        total = torch.stack(small).sum(0)
        if total.max() > 1.0 + 1e-3:
            small = [m / total.clamp_min(1.0) for m in small]
        return small

    @staticmethod
    def _masked_adain(c_feat: Tensor, styles: list[StyleFeatures], masks: list[Tensor],
                      stats: Sequence[tuple[Tensor, Tensor]] | None = None) -> Tensor:
        """Each region gets its own style's statistics; content outside all masks is kept.
        ``stats`` are each region's content (mean, std) when taken elsewhere (over the whole photo)."""
        h, w = c_feat.shape[-2:]
        small = [torch.nn.functional.interpolate(m.to(c_feat.device), size=(h, w), mode="area") for m in masks]
        small = Stylizer._normalise_regions(small)
        total = torch.stack(small).sum(0)
        out = c_feat * (1.0 - total)
        for i, (style, m) in enumerate(zip(styles, small)):
            if m.sum() <= 0:
                continue
            if stats is not None:
                c_mean, c_std = stats[i]
            else:
                c_mean, c_std = AF.masked_mean_std(c_feat, _region_weight(m, bool((m > 0.5).any())))
            out = out + m * ((c_feat - c_mean) / c_std * style.std + style.mean)
        return out


def _chunk(x: Tensor) -> int:
    """Images per pass through an eager backend: about 16 at 224 px. Bigger batches fall out of
    the caches (the lite model at 224 px: 165 images/s at 16, 73 at 64, eager bf16)."""
    return max(1, BATCH_PIXELS // (x.shape[-2] * x.shape[-1]))


def _colour_reference(img: Image.Image) -> Image.Image:
    """The photo, downsized when large, to read its palette from for colour preservation: its
    colour mean and covariance hardly change, and a 48-megapixel covariance would take a GB."""
    size = output_size(*img.size, COLOUR_REFERENCE_SIDE)
    return img if size == img.size else img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


def stylize(
    content: ImageInput,
    styles: StyleInput | Sequence[StyleInput],
    model: str = "adain-hub/adain-lite",
    **kwargs,
) -> Image.Image:
    """One-call convenience: load ``model`` (folder or Hub id) and stylize. Keep a :class:`Stylizer`
    around instead when stylizing more than once."""
    return Stylizer(AdaIN.from_pretrained(model)).stylize(content, styles, **kwargs)
