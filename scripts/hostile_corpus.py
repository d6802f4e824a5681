"""Write a hostile corpus: 50 files of every kind that breaks or strains an image pipeline, spread among
photos in three class folders (``a/``, ``b/``, ``c/``), the data ``adain stylize-dataset`` and ``adain
stylize`` must get through without a traceback, within the memory budget, naming every file they refuse.

    python scripts/hostile_corpus.py OUT --photos ../shared/data/bench/content ../shared/data/fixtures

The photos are copied as they are (30 by default, cycled if fewer are given; never committed). The 50
hostile files: broken ones (truncated, text, PDF, HTML, ZIP and SVG named as images, garbled, empty,
headers only, decompression-bomb headers in PNG, JPEG, GIF and BMP), odd but valid ones (16-bit grey
and 48-bit colour PNG, CMYK, palette, transparency, EXIF rotations, animated GIF, multi-page, 32-bit
and float TIFF, 1-bit, WebP, BMP, a 16 x 16 icon, a 1 x 1 pixel), extreme aspect ratios (65535 x 1,
1 x 65535, 20000 x 3, 3 x 20000, 8000 x 40, an EXIF-rotated strip) and one 12-megapixel photo.
``KINDS`` says what each file is and whether a pipeline must stylize it (``True``) or refuse it.

Tests build the same corpus from the test fixtures (``tests/test_hostile_data.py``).
"""

from __future__ import annotations

import argparse
import io
import shutil
import struct
import sys
import zlib
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image

CLASSES = ("a", "b", "c")


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width x height`` and holds no pixels: a decompression bomb's header."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IEND", b"")


def png_rgb48(pixels: np.ndarray) -> bytes:
    """A 16-bit-per-channel RGB PNG (PIL cannot write one) of ``(H, W, 3)`` uint16 pixels."""
    h, w = pixels.shape[:2]
    rows = b"".join(b"\x00" + pixels[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", zlib.compress(rows))
            + _png_chunk(b"IEND", b""))


def jpeg_with_size(jpeg: bytes, width: int, height: int) -> bytes:
    """``jpeg`` with its frame header (SOF) claiming ``width x height``: a JPEG bomb's header."""
    data = bytearray(jpeg)
    i = 2
    while i < len(data) - 9:
        marker = data[i + 1]
        if data[i] == 0xFF and marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        i += 2 + struct.unpack(">H", data[i + 2:i + 4])[0]
    raise ValueError("no frame header in this JPEG")


def _encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def _garble(data: bytes, start: int) -> bytes:
    out = bytearray(data)
    for i in range(start, len(out) - 64, 97):
        out[i] ^= 0x5A
    return bytes(out)


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


def _gradient(width: int, height: int) -> Image.Image:
    """An RGB image with content along both axes (a strip of one flat colour would hide errors)."""
    x = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    y = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.stack([np.broadcast_to(x, (height, width)), np.broadcast_to(y, (height, width)),
                    (np.sin(x / 7.0) * 0.5 + 0.5) * 255 + 0 * y], axis=-1)
    return Image.fromarray(rgb.astype(np.uint8))


def hostile_files(photo: Image.Image) -> dict[str, tuple[bool, Callable[[], bytes]]]:
    """The 50 hostile files by name: whether each must be stylized, and how to make its bytes
    (``photo``, an RGB image of a few hundred pixels, is what the valid ones are made of)."""
    rgb = photo.convert("RGB")
    gray = rgb.convert("L")
    jpg = _encode(rgb, "JPEG", quality=90)
    png = _encode(rgb, "PNG")
    gif = _encode(rgb.convert("P"), "GIF")
    rgba = rgb.copy()
    rgba.putalpha(Image.linear_gradient("L").resize(rgb.size))
    arr = np.asarray(rgb)
    files: dict[str, Callable[[], bytes]] = {}
    broken: dict[str, Callable[[], bytes]] = {
        "truncated_half.jpg": lambda: jpg[: len(jpg) // 2],
        "truncated_header.jpg": lambda: jpg[:300],
        "truncated.png": lambda: png[: len(png) // 2],
        "truncated.gif": lambda: gif[: len(gif) // 2],
        "truncated.webp": lambda: _encode(rgb, "WEBP")[:400],
        "text.jpg": lambda: b"shopping list: eggs, milk, bread\n" * 20,
        "document.jpg": lambda: (b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
                                 b"2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
                                 b"trailer << /Root 1 0 R >>\n%%EOF\n"),
        "page.png": lambda: b"<!DOCTYPE html><html><body><img src='photo.png'></body></html>\n",
        "archive.jpg": lambda: b"PK\x03\x04" + bytes(26) + b"photo.jpg" + bytes(64),
        "drawing.png": lambda: (b'<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64">'
                                b'<rect width="64" height="64"/></svg>'),
        "empty.png": lambda: b"",
        "garbled.jpg": lambda: _garble(jpg, 1000),
        "garbled.png": lambda: _garble(png, 20),
        "soi_only.jpg": lambda: b"\xff\xd8",
        "signature_only.png": lambda: b"\x89PNG\r\n\x1a\n",
        "bad_crc.png": lambda: png[:29] + b"\x00\x00\x00\x00" + png[33:],
        "bomb_30000x30000.png": lambda: png_header(30000, 30000),
        "bomb_9000x9000.png": lambda: png_header(9000, 9000),  # 81 Mpx: under PIL's own guard
        "bomb_60000x60000.jpg": lambda: jpeg_with_size(jpg, 60000, 60000),
        "bomb_65535x65535.gif": lambda: gif[:6] + struct.pack("<HH", 65535, 65535) + gif[10:],
        "bomb_50000x50000.bmp": lambda: (b"BM" + struct.pack("<IHHI", 54, 0, 0, 54)
                                         + struct.pack("<IiiHHIIiiII", 40, 50000, 50000, 1, 24, 0, 0, 0, 0, 0, 0)),
        "random.jpg": lambda: np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "bad_strips.tif": lambda: _encode(rgb, "TIFF")[:2000],
    }
    valid: dict[str, Callable[[], bytes]] = {
        "gray16.png": lambda: _encode(Image.fromarray(np.asarray(gray).astype(np.uint16) * 257), "PNG"),
        "rgb48.png": lambda: png_rgb48(arr.astype(np.uint16) * 257),
        "cmyk.jpg": lambda: _encode(rgb.convert("CMYK"), "JPEG"),
        "palette.png": lambda: _encode(rgb.convert("P"), "PNG"),
        "palette_transparent.png": lambda: _encode(rgb.convert("P"), "PNG", transparency=3),
        "rgba.png": lambda: _encode(rgba, "PNG"),
        "la.png": lambda: _encode(gray.convert("LA"), "PNG"),
        "exif_rotated_6.jpg": lambda: _encode(rgb, "JPEG", exif=_exif(6)),
        "exif_rotated_8.jpg": lambda: _encode(rgb, "JPEG", exif=_exif(8)),
        "animated.gif": lambda: _encode(rgb.convert("P"), "GIF", save_all=True,
                                        append_images=[rgb.rotate(180).convert("P")]),
        "pages.tif": lambda: _encode(rgb, "TIFF", save_all=True, append_images=[rgb.rotate(180)]),
        "int32.tif": lambda: _encode(Image.fromarray(np.asarray(gray).astype(np.int32) * 1000), "TIFF"),
        "float32.tif": lambda: _encode(Image.fromarray(np.asarray(gray).astype(np.float32) / 255), "TIFF"),
        "grayscale.jpg": lambda: _encode(gray, "JPEG"),
        "progressive.jpg": lambda: _encode(rgb, "JPEG", progressive=True),
        "bilevel.png": lambda: _encode(gray.convert("1"), "PNG"),
        "photo.webp": lambda: _encode(rgb, "WEBP"),
        "photo.bmp": lambda: _encode(rgb, "BMP"),
        "icon_16x16.png": lambda: _encode(rgb.resize((16, 16)), "PNG"),
        "pixel_1x1.png": lambda: _encode(rgb.resize((1, 1)), "PNG"),
        "strip_65535x1.png": lambda: _encode(_gradient(65535, 1), "PNG"),
        "tower_1x65535.png": lambda: _encode(_gradient(1, 65535), "PNG"),
        "strip_20000x3.png": lambda: _encode(_gradient(20000, 3), "PNG"),
        "tower_3x20000.png": lambda: _encode(_gradient(3, 20000), "PNG"),
        "strip_8000x40.png": lambda: _encode(_gradient(8000, 40), "PNG"),
        "rotated_strip_4000x8.jpg": lambda: _encode(_gradient(4000, 8), "JPEG", exif=_exif(6)),
        "big_4000x3000.jpg": lambda: _encode(rgb.resize((4000, 3000), Image.Resampling.BICUBIC), "JPEG", quality=90),
    }
    files = {name: (False, make) for name, make in broken.items()}
    files.update({name: (True, make) for name, make in valid.items()})
    return files


KINDS = sorted(hostile_files(Image.new("RGB", (8, 8))))


def write_corpus(out: Path, photos: Sequence[Path], count: int = 30, only: Sequence[str] | None = None,
                 extra: dict[str, bytes] | None = None) -> dict[str, bool]:
    """Write the corpus into ``out``: ``count`` photos (cycled from ``photos``) and the hostile files
    (``only`` some of them, by name), dealt in turn into the class folders; ``extra`` files by
    name as they are. Returns each file's path relative to ``out`` and whether it must be stylized."""
    if not photos:
        raise ValueError("give at least one photo")
    for cls in CLASSES:
        (out / cls).mkdir(parents=True, exist_ok=True)
    expected: dict[str, bool] = {}
    for i in range(count):
        src = Path(photos[i % len(photos)])
        rel = f"{CLASSES[i % len(CLASSES)]}/photo_{i:02d}{src.suffix.lower()}"
        shutil.copyfile(src, out / rel)
        expected[rel] = True
    with Image.open(photos[0]) as first:
        base = first.convert("RGB")
    base.thumbnail((320, 320))
    made = hostile_files(base)
    names = [n for n in sorted(made) if only is None or n in only]
    for i, name in enumerate(names):
        must, make = made[name]
        rel = f"{CLASSES[i % len(CLASSES)]}/{name}"
        (out / rel).write_bytes(make())
        expected[rel] = must
    for i, (name, data) in enumerate((extra or {}).items()):
        rel = f"{CLASSES[i % len(CLASSES)]}/{name}"
        (out / rel).write_bytes(data)
    return expected


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="folder to write the corpus into (created)")
    parser.add_argument("--photos", type=Path, nargs="+", required=True,
                        help="photos, or folders of them, to copy among the hostile files")
    parser.add_argument("--count", type=int, default=30, help="how many photos (default 30)")
    args = parser.parse_args(argv)
    photos = sorted(p for src in args.photos for p in ([src] if src.is_file() else src.iterdir())
                    if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    try:
        expected = write_corpus(args.out, photos, args.count)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    good = sum(expected.values())
    print(f"wrote {len(expected)} files to {args.out}: {good} to stylize, {len(expected) - good} to refuse "
          f"({len(expected) - args.count} hostile among {args.count} photos)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
