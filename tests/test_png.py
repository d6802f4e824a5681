"""The CLI's PNG encoder: exact pixels, a valid file (chunk CRCs, one zlib stream whose checksum holds
however many threads deflated it), and files about as small as Pillow's at the same settings."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from adain_hub.png import PNG_SIGNATURE, encode_png, up_filtered

from .conftest import FIXTURES


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """``(type, payload)`` of each chunk, checking every CRC on the way."""
    assert data[:8] == PNG_SIGNATURE
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, payload = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + payload), kind
        out.append((kind, payload))
        pos += 12 + length
    return out


def decoded(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return np.asarray(img)


def noisy(h: int, w: int, channels: int | None = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    pixels = rng.integers(0, 256, shape, dtype=np.uint8)
    pixels[: h // 2, : w // 3] = 200  # flat runs as well as noise
    return pixels


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (9, 1), (37, 53)])
@pytest.mark.parametrize("channels", [3, None])
def test_pixels_read_back_exactly(shape, channels):
    pixels = noisy(*shape, channels)
    assert np.array_equal(decoded(encode_png(pixels)), pixels)
    assert np.array_equal(decoded(encode_png(Image.fromarray(pixels))), pixels)


@pytest.mark.parametrize("threads", [1, 2, 3, 4])
def test_parts_deflated_on_threads_join_into_one_valid_stream(threads):
    pixels = noisy(480, 640)  # 920 KB of scanlines: up to 3 parts of at least 256 KiB
    data = encode_png(pixels, threads=threads)
    found = chunks(data)
    assert [kind for kind, _ in found] == [b"IHDR", b"IDAT", b"IEND"]
    assert struct.unpack(">IIBBBBB", found[0][1]) == (640, 480, 8, 2, 0, 0, 0)
    # zlib itself checks the stream's adler32 against every byte it inflates
    assert zlib.decompress(found[1][1]) == up_filtered(pixels).tobytes()
    assert np.array_equal(decoded(data), pixels)


def test_up_filter_is_the_row_minus_the_row_above_modulo_256():
    rows = np.array([[10, 250, 3], [5, 4, 3], [255, 0, 7]], np.uint8)
    assert up_filtered(rows).tolist() == [[2, 10, 250, 3], [2, 251, 10, 0], [2, 250, 252, 4]]


def test_a_photo_compresses_about_as_well_as_pillows_adaptive_filters():
    """Only the filter differs from Pillow's level 1, run-length settings: a fixed one costs a few percent."""
    for name in ("coffee.png", "chelsea.png", "astronaut.png"):
        with Image.open(FIXTURES / name) as img:
            photo = img.convert("RGB")
        pillow = io.BytesIO()
        photo.save(pillow, format="PNG", compress_level=1, compress_type=zlib.Z_RLE)
        ours = len(encode_png(photo))
        assert ours < 1.15 * len(pillow.getvalue()), name
        assert ours < 0.8 * photo.width * photo.height * 3, name  # and it does compress


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.float32), np.zeros((4, 4, 4), np.uint8),
                                 np.zeros((0, 4, 3), np.uint8), np.zeros(12, np.uint8)])
def test_other_pixels_are_refused_with_a_clear_error(bad):
    with pytest.raises(ValueError, match="encode_png takes|empty image"):
        encode_png(bad)
