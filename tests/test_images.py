"""Image handling: every odd-but-valid file becomes the right upright RGB image, every bad one a
one-line ImageError naming it. Odd files are generated from the fixtures in tmp_path."""

from __future__ import annotations

import gc
import io
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain_hub.images import (
    ENCODER_MIN_SIDE,
    ImageError,
    iter_image_files,
    load_image,
    output_size,
    pad_amounts,
    pad_to_multiple,
    to_pil,
    to_tensor,
    working_size,
)

FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="module")
def gray() -> np.ndarray:
    return np.asarray(Image.open(FIXTURES / "gravel.png").convert("L"))


@pytest.fixture(scope="module")
def rgb() -> Image.Image:
    return Image.open(FIXTURES / "chelsea.png").convert("RGB")  # 451 x 300: not square


def opened(path: Path) -> Image.Image:
    """The image at ``path``, read whole and its file closed."""
    with Image.open(path) as img:
        img.load()
        return img


def _arr(img: Image.Image) -> np.ndarray:
    return np.asarray(img).astype(np.int16)


def _assert_gray_equal(out: Image.Image, gray: np.ndarray, tol: int = 0) -> None:
    assert out.mode == "RGB" and out.size == (gray.shape[1], gray.shape[0])
    a = _arr(out)
    assert (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all(), "gray must stay gray"
    assert np.abs(a[..., 0] - gray).max() <= tol


# -- grayscale and high bit depths: content kept, never clipped to white or stretched ------------
def test_grayscale_keeps_equal_channels_and_values(tmp_path, gray):
    Image.fromarray(gray).save(tmp_path / "l.png")
    _assert_gray_equal(load_image(tmp_path / "l.png"), gray)


def test_bilevel(tmp_path, gray):
    Image.fromarray(gray).convert("1").save(tmp_path / "bw.png")
    out = _arr(load_image(tmp_path / "bw.png"))
    assert set(np.unique(out)) <= {0, 255} and 0.2 < (out == 255).mean() < 0.8


def test_16bit_is_not_clipped_to_white(tmp_path, gray):
    Image.fromarray(gray.astype(np.uint16) * 257).save(tmp_path / "i16.png")  # full 16-bit range
    assert opened(tmp_path / "i16.png").mode == "I;16"
    _assert_gray_equal(load_image(tmp_path / "i16.png"), gray)
    # a naive .convert("RGB") clips every value above 255: nearly all white
    assert (_arr(opened(tmp_path / "i16.png").convert("RGB")) == 255).mean() > 0.9


@pytest.mark.parametrize("scale", [1, 257], ids=["8bit-range", "16bit-range"])
def test_32bit_int_keeps_brightness(tmp_path, gray, scale):
    Image.fromarray(gray.astype(np.int32) * scale).save(tmp_path / "i32.tif")
    assert opened(tmp_path / "i32.tif").mode == "I"
    _assert_gray_equal(load_image(tmp_path / "i32.tif"), gray, tol=1)


@pytest.mark.parametrize("scale", [1 / 255, 1.0], ids=["unit-range", "255-range"])
def test_float_keeps_brightness(tmp_path, gray, scale):
    Image.fromarray(gray.astype(np.float32) * np.float32(scale)).save(tmp_path / "f.tif")
    assert opened(tmp_path / "f.tif").mode == "F"
    _assert_gray_equal(load_image(tmp_path / "f.tif"), gray, tol=1)


@pytest.mark.parametrize("top", [1.2, 4.0, 300.0], ids=["slightly-over-1", "hdr", "hdr-wide"])
def test_hdr_floats_above_one_are_stretched_not_darkened(tmp_path, gray, top):
    hdr = gray.astype(np.float32) / np.float32(255.0) * np.float32(top) + np.float32(0.01)  # not whole numbers
    Image.fromarray(hdr).save(tmp_path / "hdr.tif")
    out = _arr(load_image(tmp_path / "hdr.tif"))[..., 0]
    assert out.max() == 255 and np.corrcoef(out.ravel(), gray.ravel())[0, 1] > 0.999


def test_float_tiffs_of_0_to_255_data_keep_their_brightness(tmp_path, gray):
    data = gray.astype(np.float32) * np.float32(0.5) + np.float32(40.25)  # 40.25..167.75, not whole numbers
    Image.fromarray(data).save(tmp_path / "f.tif")
    out = _arr(load_image(tmp_path / "f.tif"))[..., 0]
    assert np.abs(out - data / 1.0).max() <= 1  # divided by 255, not stretched to 0..255


def test_float_outside_known_ranges_is_stretched(tmp_path, gray):
    hdr = gray.astype(np.float32) * 10.0 - 1000.0  # negative values: no natural range
    Image.fromarray(hdr).save(tmp_path / "hdr.tif")
    out = _arr(load_image(tmp_path / "hdr.tif"))[..., 0]
    assert out.min() == 0 and out.max() == 255
    assert np.corrcoef(out.ravel(), gray.ravel())[0, 1] > 0.999


# -- palettes, transparency, CMYK ---------------------------------------------------------------
def test_palette_without_transparency(tmp_path, rgb):
    pal = rgb.convert("P")
    pal.save(tmp_path / "p.png")
    out = load_image(tmp_path / "p.png")
    assert out.mode == "RGB" and out.size == rgb.size
    assert (_arr(out) == _arr(pal.convert("RGB"))).all()


@pytest.mark.parametrize("suffix", [".png", ".gif"])
def test_palette_transparency_becomes_white(tmp_path, rgb, suffix):
    pal = rgb.convert("P")
    index = int(np.bincount(np.asarray(pal).ravel()).argmax())  # the commonest colour turns transparent
    pal.save(tmp_path / f"pt{suffix}", transparency=index)
    out = _arr(load_image(tmp_path / f"pt{suffix}"))
    clear = np.asarray(pal) == index
    assert (out[clear] == 255).all()
    opaque = _arr(pal.convert("RGB"))[~clear]
    assert np.abs(out[~clear] - opaque).max() <= 1 and not (opaque == 255).all()


@pytest.mark.parametrize("mode", ["RGB", "L"])
def test_trns_colour_key_becomes_white(tmp_path, rgb, mode):
    img = rgb.convert(mode)
    key = img.getpixel((0, 0))
    img.save(tmp_path / "key.png", transparency=key)
    out = _arr(load_image(tmp_path / "key.png"))
    clear = (_arr(img) == np.array(key)).reshape(img.height, img.width, -1).all(-1)
    assert clear.any() and (out[clear] == 255).all()
    assert (out[~clear] == _arr(img.convert("RGB"))[~clear]).all()


def test_a_callers_flattened_image_keeps_its_colour_key_pixels(tmp_path, rgb):
    key = rgb.getpixel((0, 0))
    rgb.save(tmp_path / "key.png", transparency=key)
    flattened = Image.open(tmp_path / "key.png").convert("RGB")  # PIL keeps info["transparency"]
    assert "transparency" in flattened.info
    assert load_image(flattened).getpixel((0, 0)) == key


def test_rgba_is_composited_on_white(tmp_path, rgb):
    alpha = np.zeros((rgb.height, rgb.width), np.uint8)
    alpha[:, 150:300] = 128
    alpha[:, 300:] = 255
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(alpha))
    rgba.save(tmp_path / "rgba.png")
    out, src = _arr(load_image(tmp_path / "rgba.png")), _arr(rgb)
    assert (out[:, :150] == 255).all()
    assert (out[:, 300:] == src[:, 300:]).all()
    half = src[:, 150:300] * 128 / 255 + 255 * 127 / 255
    assert np.abs(out[:, 150:300] - half).max() <= 1


def test_la_is_composited_on_white(tmp_path, gray):
    alpha = np.full_like(gray, 255)
    alpha[:, :100] = 0
    la = Image.merge("LA", [Image.fromarray(gray), Image.fromarray(alpha)])
    la.save(tmp_path / "la.png")
    out = _arr(load_image(tmp_path / "la.png"))
    assert (out[:, :100] == 255).all()
    assert (out[:, 100:, 0] == gray[:, 100:]).all() and (out[..., 0] == out[..., 2]).all()


@pytest.mark.parametrize("suffix", [".jpg", ".tif"])
def test_cmyk(tmp_path, rgb, suffix):
    rgb.convert("CMYK").save(tmp_path / f"cmyk{suffix}")
    assert opened(tmp_path / f"cmyk{suffix}").mode == "CMYK"
    out = load_image(tmp_path / f"cmyk{suffix}")
    assert out.mode == "RGB" and out.size == rgb.size
    assert np.abs(_arr(out) - _arr(rgb)).mean() < 6  # JPEG is lossy; colours not inverted


# -- orientation and multi-frame files ----------------------------------------------------------
def test_exif_rotation_is_applied(tmp_path, rgb):
    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: the camera was turned; show rotated 90 degrees clockwise
    rgb.save(tmp_path / "rotated.jpg", exif=exif, quality=95)
    out = load_image(tmp_path / "rotated.jpg")
    assert out.size == (rgb.height, rgb.width)
    right = _arr(rgb.transpose(Image.Transpose.ROTATE_270))
    wrong = _arr(rgb.transpose(Image.Transpose.ROTATE_90))
    assert np.abs(_arr(out) - right).mean() < 4 < np.abs(_arr(out) - wrong).mean()


def test_animated_gif_gives_first_frame(tmp_path):
    frames = [Image.new("RGB", (64, 48), c) for c in [(255, 0, 0), (0, 0, 255), (0, 255, 0)]]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    with Image.open(tmp_path / "anim.gif") as img:
        assert img.n_frames == 3
    out = _arr(load_image(tmp_path / "anim.gif"))
    assert out.shape == (48, 64, 3) and (out == [255, 0, 0]).all()
    with Image.open(tmp_path / "anim.gif") as img:  # a caller's image, on its third frame
        img.seek(2)
        assert (_arr(load_image(img)) == [255, 0, 0]).all()
        assert img.tell() == 2  # left where the caller had it


def test_multipage_tiff_gives_first_page(tmp_path, rgb):
    second = Image.open(FIXTURES / "coffee.png").convert("RGB")
    rgb.save(tmp_path / "pages.tif", save_all=True, append_images=[second])
    with Image.open(tmp_path / "pages.tif") as img:
        assert img.n_frames == 2
    out = load_image(tmp_path / "pages.tif")
    assert out.size == rgb.size and (_arr(out) == _arr(rgb)).all()


def test_files_are_closed_after_loading(tmp_path, rgb):
    """A folder of thousands of images must not leak a file handle per image, good or bad."""
    frames = [rgb.convert("P"), rgb.rotate(90).convert("P")]
    frames[0].save(tmp_path / "anim.gif", save_all=True, append_images=frames[1:], transparency=0)
    truncated, _ = make_bad_file("truncated_png", tmp_path)
    gc.collect()  # earlier tests' garbage (sockets, pipes) is not this test's business
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        load_image(tmp_path / "anim.gif")
        with pytest.raises(ImageError):
            load_image(truncated)
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning) and str(tmp_path) in str(w.message)]
    assert not leaks


# -- other inputs -------------------------------------------------------------------------------
def test_bytes_pil_array_and_tensor_inputs(rgb):
    buf = io.BytesIO()
    rgb.save(buf, format="PNG")
    expected = _arr(rgb)
    assert (_arr(load_image(buf.getvalue())) == expected).all()
    assert (_arr(load_image(rgb)) == expected).all()
    assert (_arr(load_image(np.asarray(rgb))) == expected).all()
    assert (_arr(load_image(to_tensor(rgb)[0])) == expected).all()
    with pytest.raises(ImageError, match="too small"):
        load_image(torch.rand(3, 16, 16))
    with pytest.raises(ImageError, match="not an image array"):
        load_image(torch.rand(5, 64, 64))


def test_oversized_arrays_are_refused_before_any_conversion(monkeypatch):
    huge = np.zeros((9000, 10000, 3), np.uint8)  # 90 Mpx: a float copy would be 1 GB

    def no_copy(*args, **kwargs):
        raise AssertionError("converted before the size check")

    monkeypatch.setattr(Image, "fromarray", no_copy)
    monkeypatch.setattr(torch.Tensor, "float", no_copy)
    monkeypatch.setattr(torch, "tensor", no_copy)
    with pytest.raises(ImageError, match="too large"):
        load_image(huge)
    with pytest.raises(ImageError, match="too large"):
        load_image(torch.from_numpy(huge).permute(2, 0, 1))


def test_arrays_and_tensors_in_each_librarys_layout(rgb):
    expected = _arr(rgb)
    chw_uint8 = torch.from_numpy(np.asarray(rgb).copy()).permute(2, 0, 1)  # torchvision.io.read_image
    assert (_arr(load_image(chw_uint8)) == expected).all()
    assert (_arr(load_image(np.asarray(rgb).astype(np.float32) / 255)) == expected).all()  # HWC floats
    gray = np.asarray(rgb.convert("L"))
    assert (_arr(load_image(gray.astype(np.float32) / 255))[..., 0] == gray).all()  # (H, W) floats
    with pytest.raises(ImageError, match="NaN"):
        load_image(torch.full((3, 64, 64), float("nan")))
    with pytest.raises(ImageError, match="pixel type"):
        load_image(torch.zeros(3, 64, 64, dtype=torch.int32))
    with pytest.raises(ImageError, match=r"in \[0, 1\], got 0 to \d+ \(0..255 data\? divide by 255\)"):
        load_image(to_tensor(rgb)[0] * 255)
    for wrong in (123, None, [1, 2, 3]):
        with pytest.raises(ImageError, match="not an image"):
            load_image(wrong)


# -- bad inputs: ImageError, one line, naming the file -----------------------------------------
def _png_header(width: int, height: int) -> bytes:
    """A valid, tiny PNG that claims ``width x height`` pixels: a decompression bomb's header."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _garble(data: bytes, start: int) -> bytes:
    out = bytearray(data)
    for i in range(start, len(out) - 64, 97):
        out[i] ^= 0x5A
    return bytes(out)


def make_bad_file(kind: str, folder: Path) -> tuple[Path, str]:
    """A bad input of the given kind in ``folder`` and a phrase its error message must contain."""
    png = (FIXTURES / "chelsea.png").read_bytes()
    jpg = (FIXTURES / "rocket.jpg").read_bytes()
    make: dict[str, tuple[str, bytes | None, str]] = {
        "missing": ("missing.jpg", None, "no such file"),
        "text_as_jpg": ("notes.jpg", b"shopping list: eggs, milk\n", "not an image"),
        "empty": ("empty.png", b"", "not an image"),
        "truncated_png": ("cut.png", png[: len(png) // 2], "truncated"),
        "truncated_jpg": ("cut.jpg", jpg[: len(jpg) // 2], "truncated"),
        "garbled_png": ("garbled.png", _garble(png, 20), "not an image"),
        "garbled_jpg": ("garbled.jpg", _garble(jpg, 1000), "cannot decode"),
        "bomb": ("bomb.png", _png_header(30000, 30000), "too large"),
        "too_small": ("tiny.png", None, "too small"),
        "folder": ("album.jpg", None, "folder"),
    }
    name, data, phrase = make[kind]
    path = folder / name
    if kind == "too_small":
        Image.open(FIXTURES / "chelsea.png").resize((20, 40)).save(path)
    elif kind == "folder":
        path.mkdir()
    elif data is not None:
        path.write_bytes(data)
    return path, phrase


BAD_KINDS = ["missing", "text_as_jpg", "empty", "truncated_png", "truncated_jpg", "garbled_png",
             "garbled_jpg", "bomb", "too_small", "folder"]


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_bad_inputs_raise_one_line_image_error(tmp_path, kind):
    path, phrase = make_bad_file(kind, tmp_path)
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and phrase in message
    assert "\n" not in message and len(message) < 300
    assert isinstance(info.value, ValueError)  # callers may catch ValueError


def test_bomb_is_refused_before_decoding(tmp_path):
    bomb = _png_header(30000, 30000)
    assert len(bomb) < 200
    with pytest.raises(ImageError, match="900,000,000 pixels"):
        load_image(bomb)
    below_pil_guard = _png_header(9000, 9000)  # 81 Mpx: under PIL's own limit, over ours
    with pytest.raises(ImageError, match="too large"):
        load_image(below_pil_guard)
    over_pil_warning = _png_header(9500, 9500)  # 90 Mpx: PIL only warns; a caller's higher limit wins
    with pytest.raises(ImageError, match="cannot decode"):  # the fake header has no such pixels
        load_image(over_pil_warning, max_pixels=100_000_000)


def test_the_cap_holds_for_long_thin_images_too():
    assert output_size(8000, 40, 512) == (512, 3)  # the cap applied: the network pads, never enlarges a strip
    assert output_size(65535, 1, 256) == (256, 1) and output_size(1, 65535, 256) == (1, 256)
    assert output_size(20000, 3, 256) == (256, 1)  # each side at least 1 px
    assert output_size(2_500_000, 32, None) == (2_500_000, 32)  # no cap: the image's own size
    with pytest.raises(ValueError, match="too long and thin"):  # adain eval's working size still refuses
        working_size(2_500_000, 32, 512)


# -- sizes and folders --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "size, cap, expected",
    [((600, 400), 100, (96, 64)), ((451, 300), None, (448, 304)), ((100, 60), 512, (96, 64)),
     ((640, 427), 128, (128, 88))],
)
def test_working_size_caps_and_rounds(size, cap, expected):
    assert working_size(*size, cap) == expected


@pytest.mark.parametrize(
    "size, cap, expected",
    [((600, 400), 100, (100, 67)), ((451, 300), None, (451, 300)), ((451, 300), 256, (256, 170)),
     ((100, 60), 512, (100, 60)), ((2000, 40), 512, (512, 10)), ((2000, 20), 512, (512, 5)),
     ((16, 16), 512, (16, 16)), ((2000, 20), None, (2000, 20))],
)
def test_output_size_caps_and_keeps_the_aspect_ratio(size, cap, expected):
    assert output_size(*size, cap) == expected


@pytest.mark.parametrize("h, w", [(300, 451), (16, 23), (64, 64), (33, 17)])
def test_pad_to_multiple_reflects_evenly_and_crops_back(h, w):
    x = torch.rand(1, 3, h, w)
    padded = pad_to_multiple(x)
    top, bottom, left, right = pad_amounts(h, w)
    assert padded.shape[-2:] == (h + top + bottom, w + left + right)
    assert padded.shape[-2] % 8 == 0 and padded.shape[-1] % 8 == 0
    assert max(top, bottom, left, right) <= 4 and abs(top - bottom) <= 1 and abs(left - right) <= 1
    torch.testing.assert_close(padded[..., top : top + h, left : left + w], x)
    if left:  # mirrored about the first column, not repeated
        torch.testing.assert_close(padded[..., top : top + h, left - 1], x[..., 1])


def test_working_size_keeps_extreme_aspect_ratios_encodable(tiny_model):
    w, h = working_size(2000, 40, 512)  # plain capping would give 512 x 8: too small for relu4_1
    assert h >= ENCODER_MIN_SIDE and w % 8 == 0 and h % 8 == 0 and w / h == pytest.approx(50, rel=0.05)
    img = to_tensor(Image.new("RGB", (w, h), (90, 120, 200)))
    with torch.no_grad():
        out = tiny_model.decode(tiny_model.encode(img)[-1])
    assert out.shape[-2:] == (h, w)
    assert to_pil(out.clamp(0, 1)).size == (w, h)


def test_iter_image_files_is_sorted_recursive_and_skips_hidden(tmp_path):
    for rel in ["b.jpg", "a.PNG", "sub/c.webp", "notes.txt", ".hidden.jpg", ".thumbs/d.jpg", "sub/e.tiff"]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"x")
    (tmp_path / "folder.jpg").mkdir()
    found = [p.relative_to(tmp_path).as_posix() for p in iter_image_files(tmp_path)]
    assert found == ["a.PNG", "b.jpg", "sub/c.webp", "sub/e.tiff"]
