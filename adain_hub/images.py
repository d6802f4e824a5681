"""Everything about turning files into tensors and back; the one place that decides what a bad image is.

Used by the Python API, the CLI, the web app and training alike.
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path
from typing import Iterator, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

ImageInput = Union[str, os.PathLike, bytes, Image.Image, Tensor, np.ndarray]

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".jfif"}
)
MAX_PIXELS = 80_000_000  # refuse decompression bombs before decoding them
MIN_SIDE = 32  # the encoder divides by 8 and reflection-pads: smaller images have no usable features


class ImageError(ValueError):
    """An input that is not a usable image; the message says which input and why, in one line."""


def iter_image_files(folder: str | os.PathLike) -> Iterator[Path]:
    """Image-looking files directly or recursively under ``folder``, sorted, hidden files skipped."""
    root = Path(folder)
    for path in sorted(root.rglob("*")):
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith("."):
            yield path


def _name(src: object) -> str:
    return str(src) if isinstance(src, (str, os.PathLike)) else type(src).__name__


def load_image(src: ImageInput, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """Open any supported input as an upright 8-bit RGB image.

    Handles EXIF rotation, the first frame of animated or multi-page files, transparency
    (composited on white), grayscale, palette, CMYK, 16-bit and float images. Raises
    :class:`ImageError` for missing, unreadable, truncated, oversized or too small inputs.
    """
    if isinstance(src, Image.Image):
        img = src
    elif isinstance(src, Tensor) or isinstance(src, np.ndarray):
        return to_pil(torch.as_tensor(src))
    else:
        img = _open(src, max_pixels)
    w, h = img.size
    if w * h > max_pixels:
        raise ImageError(f"{_name(src)}: image is too large ({w}x{h} pixels, limit {max_pixels:,})")
    if min(w, h) < min_side:
        raise ImageError(f"{_name(src)}: image is too small to stylize ({w}x{h}, need at least {min_side} px a side)")
    try:
        if getattr(img, "n_frames", 1) > 1:
            img.seek(0)
        img.load()
        img = ImageOps.exif_transpose(img)
        return _to_rgb(img)
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"{_name(src)}: cannot decode image ({exc})") from None


def _open(src: str | os.PathLike | bytes, max_pixels: int) -> Image.Image:
    """Open lazily (header only), so size checks happen before any pixel is decoded."""
    try:
        if isinstance(src, bytes):
            return Image.open(io.BytesIO(src))
        path = Path(src)
        if not path.exists():
            raise ImageError(f"{path}: no such file")
        if path.is_dir():
            raise ImageError(f"{path}: is a folder, not an image")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(path)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{_name(src)}: image is too large (decompression bomb guard)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{_name(src)}: not an image, or a format that cannot be read") from None
    except OSError as exc:
        raise ImageError(f"{_name(src)}: cannot open ({exc.strerror or exc})") from None


def _to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB without clipping high bit depths to white."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F") or mode.startswith("I;16"):
        arr = np.asarray(img, dtype=np.float64)
        if mode.startswith("I;16"):
            arr = arr / 65535.0
        else:
            lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
            if mode == "F" and lo >= 0.0 and hi <= 1.0:
                pass  # already a [0, 1] float image
            elif hi > lo:
                arr = (arr - lo) / (hi - lo)
            else:
                arr = np.zeros_like(arr)
        arr = np.nan_to_num(arr).clip(0, 1)
        return Image.fromarray((arr * 255 + 0.5).astype(np.uint8)).convert("RGB")
    if mode == "P":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def to_tensor(img: Image.Image) -> Tensor:
    """PIL RGB image -> ``(1, 3, H, W)`` float32 tensor in [0, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).unsqueeze(0).float().div_(255.0)


def to_pil(tensor: Tensor) -> Image.Image:
    """``(3, H, W)`` or ``(1, 3, H, W)`` tensor in [0, 1] (values outside are clamped) -> PIL RGB."""
    t = tensor.detach()
    if t.dim() == 4:
        if t.shape[0] != 1:
            raise ValueError(f"to_pil takes one image, got a batch of {t.shape[0]}")
        t = t[0]
    if t.dim() == 3 and t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    if t.dim() != 3 or t.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) image tensor, got shape {tuple(tensor.shape)}")
    arr = (t.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().numpy()
    return Image.fromarray(arr)


def working_size(width: int, height: int, max_side: int | None, multiple: int = 8) -> tuple[int, int]:
    """Size to run the network at: longer side capped at ``max_side`` (never upscaled), both sides a
    multiple of ``multiple`` so the decoder gives back exactly that size."""
    scale = 1.0 if not max_side else min(1.0, max_side / max(width, height))
    w = max(multiple, int(round(width * scale / multiple)) * multiple)
    h = max(multiple, int(round(height * scale / multiple)) * multiple)
    return w, h


def fit(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize to exactly ``size`` with a good filter (no-op when it already has that size)."""
    return img if img.size == size else img.resize(size, Image.Resampling.LANCZOS)


def load_mask(src: ImageInput, size: tuple[int, int]) -> Tensor:
    """A mask image -> ``(1, 1, H, W)`` float tensor in [0, 1] at ``size`` (white = on)."""
    img = src if isinstance(src, Tensor) else load_image(src, min_side=1)
    if isinstance(img, Tensor):
        mask = img.float()
        while mask.dim() < 4:
            mask = mask.unsqueeze(0)
        mask = mask[:, :1] if mask.shape[1] != 1 else mask
        return torch.nn.functional.interpolate(mask, size=(size[1], size[0]), mode="bilinear").clamp(0, 1)
    gray = img.convert("L").resize(size, Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(gray, dtype=np.float32) / 255.0)[None, None]
