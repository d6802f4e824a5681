"""Stylize images: load, resize, encode once, transform, decode. Plain inputs in, PIL images out."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal, Sequence

import torch
from PIL import Image
from torch import Tensor

from . import functional as AF
from .backends import Backend, make_backend
from .images import (
    ImageInput,
    fingerprint,
    fit,
    load_image,
    load_mask,
    output_size,
    pad_amounts,
    pad_to_multiple,
    to_pil,
    to_tensor,
)
from .model import AdaIN

if TYPE_CHECKING:
    from .video import Stabilization, VideoInfo

Method = Literal["adain", "wct"]


@dataclass(frozen=True, eq=False)
class StyleFeatures:
    """A style encoded once: relu4_1 features and their statistics, reusable across contents.

    ``mean``/``std`` are ``(1, C, 1, 1)``; ``features`` is kept for WCT, whose covariance is
    computed on first use and cached. ``image`` is the style as it was encoded (``None`` when
    built from bare features): colour preservation recolours it to each photo and encodes again.
    Compared by identity (tensors have no single truth value).
    """

    features: Tensor
    mean: Tensor
    std: Tensor
    image: Image.Image | None = None

    @classmethod
    def from_features(cls, features: Tensor, image: Image.Image | None = None) -> "StyleFeatures":
        mean, std = AF.calc_mean_std(features)
        return cls(features, mean, std, image)

    def covariance(self) -> tuple[Tensor, Tensor]:
        """``(C, 1)`` mean and ``(C, C)`` covariance for WCT, computed once."""
        if "_cov" not in self.__dict__:
            object.__setattr__(self, "_cov", AF.feature_covariance(self.features))
        return self.__dict__["_cov"]


StyleInput = ImageInput | StyleFeatures


class Stylizer:
    """Style transfer with a loaded :class:`AdaIN` model.

    Encoded styles and contents are kept in a small LRU cache keyed by their pixels, so changing
    ``alpha``, weights or masks never re-encodes an image that did not change.

    Args:
        model: the network (``AdaIN.from_pretrained(...)``).
        backend: ``"auto"`` (fastest available), ``"openvino"``, ``"bf16"`` or ``"fp32"``.
        size: default cap on the longer side of the content at which the network runs.
        style_size: cap on the longer side of style images.
        cache_size: how many encoded images to keep.
    """

    def __init__(
        self,
        model: AdaIN,
        backend: str | Backend = "auto",
        size: int | None = 512,
        style_size: int | None = 512,
        cache_size: int = 16,
    ) -> None:
        self.model = model.eval()
        self.backend = make_backend(model, backend) if isinstance(backend, str) else backend
        self.size = size
        self.style_size = style_size
        self._cache: OrderedDict[tuple, Tensor] = OrderedDict()
        self._cache_size = cache_size
        self._cache_lock = threading.Lock()

    # -- encoding ---------------------------------------------------------------------------
    def _encode_cached(self, kind: str, img: Image.Image) -> Tensor:
        key = (kind, fingerprint(img))
        with self._cache_lock:  # threads may share a Stylizer (a web server's workers)
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        feats = self.backend.encode(pad_to_multiple(to_tensor(img)))
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

    def prepare_content(self, content: ImageInput, size: int | None = None) -> Image.Image:
        """The content image at the size it is stylized and returned: RGB, longer side capped at
        ``size``, aspect ratio kept (the network pads it to a multiple of 8 and crops back)."""
        img = load_image(content)
        return fit(img, output_size(*img.size, size if size is not None else self.size))

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
            size: cap on the longer side for this call (default: the stylizer's ``size``).
        """
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if method not in ("adain", "wct"):
            raise ValueError(f"method must be 'adain' or 'wct', got {method!r}")
        style_list = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        if not style_list:
            raise ValueError("need at least one style")
        content_img = self.prepare_content(content, size)
        colour_from = content_img if preserve_color else None
        encoded = [self.encode_style(s, colour_from) for s in style_list]
        c_feat = self._encode_cached("content", content_img)

        regions = self._regions(masks, len(encoded), content_img.size) if masks is not None else None
        regions = [pad_to_multiple(r) for r in regions] if regions is not None else None
        target = self.transform(c_feat, encoded, alpha, weights, regions, method)
        image = self.backend.decode(target)
        w, h = content_img.size
        top, _, left, _ = pad_amounts(h, w)
        return to_pil(image[0, :, top : top + h, left : left + w])

    __call__ = stylize

    @staticmethod
    def transform(
        c_feat: Tensor,
        styles: Sequence[StyleFeatures],
        alpha: float = 1.0,
        weights: Sequence[float] | None = None,
        regions: Sequence[Tensor] | None = None,
        method: Method = "adain",
    ) -> Tensor:
        """The feature-space step between encoder and decoder, on relu4_1 features ``(1, C, h, w)``.

        Interpolates styles by ``weights`` or assigns them to ``regions`` (image-sized masks), then
        blends with the content features: ``alpha * t + (1 - alpha) * c``.
        """
        if regions is not None:
            if method != "adain":
                raise ValueError("masks are supported with method='adain' only")
            if weights is not None:
                raise ValueError("give masks or weights, not both: each region takes its own style whole")
            target = Stylizer._masked_adain(c_feat, list(styles), list(regions))
        else:
            w = AF.normalize_weights(weights, len(styles))
            if method == "adain":
                mean, std = AF.blend_stats([e.mean for e in styles], [e.std for e in styles], w)
                target = AF.adaptive_instance_normalization(c_feat, mean, std)
            else:
                target = sum(wi * AF.whiten_colour(c_feat, *e.covariance()) for wi, e in zip(w, styles))
        return alpha * target + (1.0 - alpha) * c_feat

    def stylize_video(
        self,
        video: str | os.PathLike,
        styles: StyleInput | Sequence[StyleInput],
        dst: str | os.PathLike,
        alpha: float = 1.0,
        weights: Sequence[float] | None = None,
        preserve_color: bool = False,
        size: int | None = None,
        stabilize: bool | Stabilization = True,
        progress: Callable[[int, int], None] | None = None,
    ) -> VideoInfo:
        """Stylize a video file into the mp4 ``dst``, the style encoded once; frame count, frame rate
        and audio kept, size capped at ``size``. ``stabilize=False`` stylizes each frame on its own
        (it flickers). See :func:`adain_hub.video.stylize_video`."""
        from .video import stylize_video

        return stylize_video(self, video, styles, dst, alpha, weights, preserve_color, size, stabilize, progress)

    @staticmethod
    def _regions(masks: Sequence[ImageInput] | ImageInput, n_styles: int, size: tuple[int, int]) -> list[Tensor]:
        mask_list = list(masks) if isinstance(masks, (list, tuple)) else [masks]
        loaded = [load_mask(m, size) for m in mask_list]
        if len(loaded) == 1 and n_styles == 2:
            loaded = [loaded[0], 1.0 - loaded[0]]
        if len(loaded) != n_styles:
            raise ValueError(f"got {len(loaded)} masks for {n_styles} styles; give one per style")
        return loaded

    @staticmethod
    def _masked_adain(c_feat: Tensor, styles: list[StyleFeatures], masks: list[Tensor]) -> Tensor:
        """Each region gets its own style's statistics; content outside all masks is kept."""
        h, w = c_feat.shape[-2:]
        small = [torch.nn.functional.interpolate(m, size=(h, w), mode="area") for m in masks]
        total = torch.stack(small).sum(0)
        if total.max() > 1.0 + 1e-3:
            small = [m / total.clamp_min(1.0) for m in small]
            total = torch.stack(small).sum(0)
        out = c_feat * (1.0 - total)
        for style, m in zip(styles, small):
            if m.sum() <= 0:
                continue
            c_mean, c_std = AF.masked_mean_std(c_feat, (m > 0.5).float() if (m > 0.5).any() else m)
            out = out + m * ((c_feat - c_mean) / c_std * style.std + style.mean)
        return out


def stylize(
    content: ImageInput,
    styles: StyleInput | Sequence[StyleInput],
    model: str = "adain-hub/adain-vgg19",
    **kwargs,
) -> Image.Image:
    """One-call convenience: load ``model`` (folder or Hub id) and stylize. Keep a :class:`Stylizer`
    around instead when stylizing more than once."""
    return Stylizer(AdaIN.from_pretrained(model)).stylize(content, styles, **kwargs)
