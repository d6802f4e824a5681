"""Everything about turning files into tensors and back; the one place that decides what a bad image is.

Used by the Python API, the CLI, the web app and training alike.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import secrets
import warnings
from pathlib import Path
from typing import Callable, Iterable, Iterator, Union

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch import Tensor

ImageInput = Union[str, os.PathLike, bytes, Image.Image, Tensor, np.ndarray]

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".ppm", ".pgm", ".jfif"}
)
MAX_PIXELS = 80_000_000  # refuse decompression bombs before decoding them
MIN_SIDE = 32  # the side the network runs at least: smaller images are enlarged or padded to it (input_plan.py)
ENCODER_MIN_SIDE = 16  # relu4_1 is 1/8 of the input, and its reflection padding needs 2 px there
MAX_STRETCHED_PIXELS = 2048 * 2048  # a long thin image kept encodable above the cap, at most this big


class ImageError(ValueError):
    """An input that is not a usable image; the message says which input and why, in one line."""


def iter_files(folder: str | os.PathLike, suffixes: Iterable[str] | None = None) -> Iterator[Path]:
    """Files anywhere under ``folder`` whose suffix is one of ``suffixes`` (lower case; ``None``:
    every file), sorted; hidden files and folders are skipped (``.thumbnails/``, ``._photo.jpg`` from
    macOS and the like are never inputs)."""
    root, wanted = Path(folder), None if suffixes is None else frozenset(suffixes)
    for path in sorted(root.rglob("*")):
        hidden = any(part.startswith(".") for part in path.relative_to(root).parts)
        if not hidden and (wanted is None or path.suffix.lower() in wanted) and path.is_file():
            yield path


def iter_image_files(folder: str | os.PathLike) -> Iterator[Path]:
    """Image-looking files anywhere under ``folder``, sorted, hidden ones skipped (:func:`iter_files`)."""
    return iter_files(folder, IMAGE_SUFFIXES)


def temporary_path(dst: Path) -> Path:
    """A hidden, unique name beside ``dst`` to write to before renaming onto it, so a reader (or an
    interrupted run) sees the old file or the whole new one, never half of it."""
    return dst.with_name(f".{dst.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")


def write_atomic(path: Path, write: bytes | Callable[[Path], object]) -> None:
    """``write`` (bytes, or a function writing the file it is given) to ``path`` through
    :func:`temporary_path` and a rename: a reader, or an interrupted run, sees the old file or the
    whole new one, never half of it."""
    tmp = temporary_path(path)
    try:
        if isinstance(write, bytes):
            with open(tmp, "xb") as fh:
                fh.write(write)
        else:
            write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _name(src: object) -> str:
    return str(src) if isinstance(src, (str, os.PathLike)) else type(src).__name__


def one_line(exc: BaseException, limit: int = 200) -> str:
    """An exception as a short single line (PIL, torch and OpenVINO messages can span lines), for
    every one-line error the package, the CLI and the app print."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def load_image(src: ImageInput, max_pixels: int = MAX_PIXELS, min_side: int = MIN_SIDE) -> Image.Image:
    """Open any supported input as an upright 8-bit RGB image.

    Handles EXIF rotation, the first frame of animated or multi-page files, transparency
    (composited on white), grayscale, palette, CMYK, 16-bit, 32-bit and float images. Arrays
    (``(H, W[, 3|4])``) and tensors (``(3, H, W)``), ``uint8`` or floats in [0, 1], pass the same
    checks. Raises
    :class:`ImageError` for missing, unreadable, truncated, oversized or too small inputs, with
    the input's name in the one-line message.
    """
    name = _name(src)
    opened, frame = None, 0
    if not isinstance(src, (str, os.PathLike, bytes, Image.Image, Tensor, np.ndarray)):
        raise ImageError(f"{name}: not an image (give a path, bytes, a PIL image, an array or a tensor)")
    if isinstance(src, Image.Image):
        img = src
    elif isinstance(src, (Tensor, np.ndarray)):
        img = _array_to_pil(src, name, max_pixels)
    else:
        img = opened = _open(src)
    try:
        w, h = img.size
        if w * h > max_pixels:
            raise ImageError(f"{name}: image is too large ({w}x{h} pixels, limit {max_pixels:,})")
        if min(w, h) == 0:
            raise ImageError(f"{name}: image is empty ({w}x{h} pixels)")
        if min(w, h) < min_side:
            raise ImageError(f"{name}: image is too small to stylize ({w}x{h}, need at least {min_side} px a side)")
        frame = img.tell() if getattr(img, "n_frames", 1) > 1 else 0
        try:
            with warnings.catch_warnings():  # a damaged file's plugin warnings: the error below says it
                warnings.simplefilter("ignore", UserWarning)
                if frame:
                    img.seek(0)
                img.load()
            # a tRNS colour key counts in files we read; a caller's image may have been flattened
            # already (convert("RGB") keeps info["transparency"])
            return _to_rgb(ImageOps.exif_transpose(img), colour_key=opened is not None)
        except Exception as exc:  # PIL's plugins raise many types on garbled data; all mean "bad file"
            raise ImageError(f"{name}: cannot decode image ({one_line(exc)})") from None
    finally:
        if opened is not None:  # only files we opened; a caller's image stays usable
            opened.close()
        elif frame:  # and on the frame the caller left it at
            img.seek(frame)


def image_format(src: str | os.PathLike | bytes) -> str:
    """What kind of image a file or encoded bytes hold (``"JPEG"``, ``"PNG"``, ``"ICO"``, ...), read
    from the content's header, whatever the name says (a JPEG without extension, an ``.ico``); the
    same one-line :class:`ImageError` as :func:`load_image` for anything that is not an image."""
    with _open(src) as img:
        return img.format or "image"


def image_mode(src: str | os.PathLike | bytes) -> str:
    """The PIL mode of a file or encoded bytes from its header alone (nothing decoded), with the
    same one-line :class:`ImageError` as :func:`load_image` for missing, unreadable or bomb files."""
    with _open(src) as img:
        return img.mode


def image_header(src: str | os.PathLike | bytes) -> tuple[int, int, str]:
    """``(width, height, mode)`` of a file or encoded bytes from its header alone, upright (an EXIF
    rotation of a quarter turn swaps the sides, as :func:`load_image` turns the pixels), with the same
    one-line :class:`ImageError` as :func:`load_image` for missing, unreadable or bomb files. Nothing
    is decoded: a PNG's EXIF is read only when it comes before the pixels, as a camera writes it."""
    with _open(src) as img:
        w, h = img.size
        orientation = 1
        if "exif" in img.info or img.format in ("JPEG", "MPO", "TIFF", "WEBP"):
            try:
                with warnings.catch_warnings():  # a damaged TIFF's plugin warnings: load_image decides
                    warnings.simplefilter("ignore", UserWarning)
                    orientation = int(img.getexif().get(0x0112, 1) or 1)
            except Exception:  # a garbled EXIF block is not the image's fault; load_image decides
                orientation = 1
        return (h, w, img.mode) if orientation in (5, 6, 7, 8) else (w, h, img.mode)


def _array_to_pil(arr: Tensor | np.ndarray, name: str, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Pixels in the layout each library uses: numpy arrays ``(H, W)`` or ``(H, W, 3|4)`` as PIL
    and gradio give them; tensors ``(H, W)``, ``(1|3, H, W)`` or ``(1, 3, H, W)`` as torchvision
    does. ``uint8`` is 0..255, floats are [0, 1]. The size is checked before any conversion."""
    try:
        hwc = isinstance(arr, np.ndarray) and arr.ndim == 3 and arr.shape[-1] in (3, 4)
        h, w = (arr.shape[:2] if hwc else arr.shape[-2:]) if arr.ndim >= 2 else (0, 0)
        if h * w > max_pixels:
            raise ImageError(f"{name}: image is too large ({w}x{h} pixels, limit {max_pixels:,})")
        if isinstance(arr, np.ndarray):
            if arr.dtype == np.uint8 and (arr.ndim == 2 or hwc):
                return Image.fromarray(np.ascontiguousarray(arr))  # as PIL and gradio hand them over
            t = torch.tensor(arr.transpose(2, 0, 1) if hwc else arr)  # a copy: read-only arrays welcome
        else:
            t = arr.detach().cpu()
        if t.dtype == torch.uint8:
            t = t.float() / 255.0
        elif not t.is_floating_point():
            raise ValueError(f"pixel type {t.dtype}; use uint8 or floats in [0, 1]")
        if not bool(torch.isfinite(t).all()):
            raise ValueError("NaN or infinite pixel values")
        if t.numel() and (float(t.min()) < -1e-3 or float(t.max()) > 1 + 1e-3):
            raise ValueError(f"float pixels must be in [0, 1], got {float(t.min()):g} to {float(t.max()):g}"
                             + (" (0..255 data? divide by 255)" if float(t.max()) > 2 else ""))
        if t.dim() == 2:
            t = t[None]
        if t.dim() == 3 and t.shape[0] == 4:  # RGBA: composite on white, as for files
            rgb, alpha = t[:3], t[3:].clamp(0, 1)
            t = rgb * alpha + (1.0 - alpha)
        return to_pil(t)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ImageError):
            raise
        raise ImageError(f"{name}: not an image array ({one_line(exc)})") from None


def _open(src: str | os.PathLike | bytes) -> Image.Image:
    """Open lazily (header only), so size checks happen before any pixel is decoded."""
    name = _name(src)
    if not isinstance(src, bytes):
        path = Path(src)
        if not path.exists():
            raise ImageError(f"{name}: no such file")
        if path.is_dir():
            raise ImageError(f"{name}: is a folder, not an image")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between its own limit and twice it; load_image checks the caller's
            # max_pixels against the header before any pixel is decoded.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # and its plugins warn about damaged headers ("Truncated File Read" in a TIFF) before
            # deciding: load_image decides, in one line, so a hostile file prints nothing else
            warnings.simplefilter("ignore", UserWarning)
            return Image.open(io.BytesIO(src) if isinstance(src, bytes) else src)
    except Image.DecompressionBombError as exc:
        match = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(match.group(1)):,} pixels" if match else "too many pixels"
        raise ImageError(f"{name}: image is too large ({size}); refusing a possible decompression bomb") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image, or a damaged or unsupported one") from None
    except OSError as exc:
        raise ImageError(f"{name}: cannot open ({exc.strerror or one_line(exc)})") from None


def _unit_scale(arr: np.ndarray, is_float: bool) -> np.ndarray:
    """Map 32-bit int or float pixels to [0, 1] by the range they were evidently stored in:
    [0, 1] floats as they are; 8-bit data (integers, or floats up to 255 that go beyond 8, as tools
    write 0..255 pixels to float TIFFs) by 255; whole numbers up to 65535 by 65535; anything else
    (HDR floats a little above 1, negative values) stretched from its min to its max. Stretching
    everything would change the brightness of ordinary images that merely sit in a wide container."""
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return np.zeros_like(arr)
    lo, hi = float(finite.min()), float(finite.max())
    if lo >= 0.0 and hi <= 1.0 and is_float:
        return arr
    whole = not is_float or bool(np.all(finite == np.round(finite)))
    if lo >= 0.0 and hi <= 255.0 and (whole or hi > 8.0):
        return arr / 255.0
    if lo >= 0.0 and hi <= 65535.0 and whole:
        return arr / 65535.0
    return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)


def _to_rgb(img: Image.Image, colour_key: bool = True) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB without clipping high bit depths to white; with
    ``colour_key``, an RGB or L image's tRNS colour key makes those pixels transparent."""
    mode = img.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        arr = arr / 65535.0 if mode.startswith("I;16") else _unit_scale(arr, mode == "F")
        arr = np.nan_to_num(arr, nan=0.0, posinf=1.0, neginf=0.0).clip(0, 1)
        return Image.fromarray((arr * 255 + 0.5).astype(np.uint8)).convert("RGB")
    if mode == "P" or (colour_key and mode in ("RGB", "L") and "transparency" in img.info):
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def fingerprint(img: Image.Image) -> str:
    """Identity of an image's pixels, for caches that must not re-encode an unchanged image."""
    return hashlib.blake2b(img.tobytes(), digest_size=16).hexdigest() + f"{img.size}"


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
    # one float pass and one rounding copy straight into the (H, W, 3) layout PIL wants (clamping
    # to [0, 255] after scaling is the same as to [0, 1] before; the uint8 copy truncates)
    scaled = t.float().mul(255.0).add_(0.5).clamp_(0.0, 255.0)
    arr = torch.empty((t.shape[1], t.shape[2], 3), dtype=torch.uint8, device=t.device)
    arr.copy_(scaled.permute(1, 2, 0))
    return Image.fromarray(arr.cpu().numpy())


def working_size(
    width: int, height: int, max_side: int | None, multiple: int = 8, min_side: int = ENCODER_MIN_SIDE
) -> tuple[int, int]:
    """Size to run the network at: longer side capped at ``max_side`` (never upscaled), both sides a
    multiple of ``multiple`` so the decoder gives back exactly that size.

    The shorter side never drops below ``min_side``, the least the encoder can take, so a very
    wide or tall image (over 32:1 at a 512 cap) runs above the cap instead of failing, up to
    ``MAX_STRETCHED_PIXELS`` or the capped area, whichever is larger; beyond that (a 2,500,000 x 32
    strip, say) it raises ``ValueError`` rather than take unbounded memory.
    """
    scale = 1.0 if not max_side else min(1.0, max_side / max(width, height))
    if min(width, height) * scale < min_side:
        scale = min(1.0, min_side / min(width, height))
        area = width * height * scale * scale
        if max_side and area > max(MAX_STRETCHED_PIXELS, max_side * max_side):
            raise ValueError(
                f"a {width}x{height} image is too long and thin to stylize at {max_side} px: keeping its "
                f"short side at {min_side} px would make it {round(width * scale)}x{round(height * scale)}"
            )
    w = max(min_side, int(round(width * scale / multiple)) * multiple)
    h = max(min_side, int(round(height * scale / multiple)) * multiple)
    return w, h


def output_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """Size a stylized image comes out at: the input's, longer side capped at ``max_side`` (``None`` or
    0: no cap; never upscaled), aspect ratio kept, each side at least 1 px. The cap holds for every
    shape: a 65535x1 strip at 256 comes out 256x1, not above the cap (the network reaches its minimum
    side by padding, :mod:`adain_hub.input_plan`). Sizes are not rounded to the network's multiple of
    8 (:func:`pad_to_multiple` pads and crops back), so photos are not stretched."""
    scale = 1.0 if not max_side else min(1.0, max_side / max(width, height))
    if scale == 1.0:
        return width, height
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def pad_amounts(height: int, width: int, multiple: int = 8) -> tuple[int, int, int, int]:
    """``(top, bottom, left, right)`` padding that makes both sides multiples of ``multiple``, split
    evenly between opposite sides."""
    ph, pw = -height % multiple, -width % multiple
    return ph // 2, ph - ph // 2, pw // 2, pw - pw // 2


def pad_to_multiple(x: Tensor, multiple: int = 8) -> Tensor:
    """Reflection-pad ``(N, C, H, W)`` by :func:`pad_amounts`: the encoder halves the size three
    times, so the network runs on multiples of 8 and the caller crops the output back."""
    top, bottom, left, right = pad_amounts(*x.shape[-2:], multiple)
    if not (top or bottom or left or right):
        return x
    return torch.nn.functional.pad(x, (left, right, top, bottom), mode="reflect")


def unpad(x: Tensor, height: int, width: int, multiple: int = 8) -> Tensor:
    """The ``height x width`` image :func:`pad_to_multiple` padded, cut back out of ``(N, C, H', W')``
    (the decoder's output of a padded input)."""
    top, _, left, _ = pad_amounts(height, width, multiple)
    return x[..., top : top + height, left : left + width]


def fit(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize to exactly ``size`` with a good filter (no-op when it already has that size)."""
    return img if img.size == size else img.resize(size, Image.Resampling.LANCZOS)


def load_mask_grid(src: ImageInput, size: tuple[int, int], multiple: int = 8, block: int | None = None) -> Tensor:
    """A mask at ``size``, reflection-padded to ``multiple`` as :func:`pad_to_multiple` pads the photo,
    averaged over ``block x block`` blocks (default ``multiple``): ``(1, 1, H_pad / block, W_pad / block)``,
    the resolution of the model's features (relu4_1: 8; lite: 4). The same as
    ``interpolate(pad_to_multiple(load_mask(...)), mode="area")`` without a float copy at the photo's
    size (192 MB at 48 megapixels)."""
    block = block or multiple
    if multiple % block:
        raise ValueError(f"block {block} must divide multiple {multiple}")
    top, bottom, left, right = pad_amounts(size[1], size[0], multiple)
    if isinstance(src, Tensor):
        mask = pad_to_multiple(load_mask(src, size), multiple)
        return torch.nn.functional.avg_pool2d(mask, block)
    img = load_image(src, min_side=1)
    gray = np.asarray(img.convert("L").resize(size, Image.Resampling.BILINEAR))
    gray = np.pad(gray, ((top, bottom), (left, right)), mode="reflect") if top or bottom or left or right else gray
    hp, wp = gray.shape
    blocks = gray.reshape(hp // block, block, wp // block, block).sum(axis=(1, 3), dtype=np.uint32)
    return torch.from_numpy((blocks / (255.0 * block * block)).astype(np.float32))[None, None]


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
