"""Any photo, any size: tiles that match an untiled run, whole-image statistics, the memory budget,
and photos too small or too thin for the network. Tiny random model unless a trained one is needed."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from adain_hub import functional as AF
from adain_hub import tiling
from adain_hub.cli import main
from adain_hub.images import ImageError, load_image, load_mask, load_mask_grid, pad_to_multiple
from adain_hub.stylizer import ContentStats, StyleFeatures, Stylizer

from .conftest import BUNDLED_MODEL, FIXTURES, TINY


def _psnr(a: Image.Image, b: Image.Image) -> float:
    x, y = (np.asarray(i, dtype=np.float64) for i in (a, b))
    mse = ((x - y) ** 2).mean()
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


# -- pieces -------------------------------------------------------------------------------------
def test_sums_over_pieces_give_the_whole_maps_statistics():
    feat = torch.randn(1, 16, 20, 24) * 3 + 1
    pieces = [feat[..., :7, :], feat[..., 7:, :10], feat[..., 7:, 10:]]
    sums = [AF.feature_sums(p) for p in pieces]
    mean, std = AF.mean_std_from_sums(*(sum(s[i] for s in sums) for i in range(3)))
    ref_mean, ref_std = AF.calc_mean_std(feat)
    torch.testing.assert_close(mean, ref_mean, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(std, ref_std, atol=1e-5, rtol=1e-5)
    cov_sums = [AF.covariance_sums(p.contiguous()) for p in pieces]
    c_mean, cov = AF.covariance_from_sums(*(sum(s[i] for s in cov_sums) for i in range(3)))
    ref_cmean, ref_cov = AF.feature_covariance(feat)
    torch.testing.assert_close(c_mean, ref_cmean)
    torch.testing.assert_close(cov, ref_cov)
    mask = (torch.rand(1, 1, 20, 24) > 0.5).float()
    w_mean, w_std = AF.mean_std_from_sums(*AF.feature_sums(feat, mask))
    ref = AF.masked_mean_std(feat, mask)
    torch.testing.assert_close(w_mean, ref[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(w_std, ref[1], atol=1e-5, rtol=1e-5)


def test_a_tile_takes_the_whole_images_statistics_not_its_own():
    feat = torch.randn(1, 16, 16, 16)
    feat[..., 8:] += 4.0  # the right half is brighter: its own statistics differ from the whole's
    style = StyleFeatures.from_features(torch.randn(1, 16, 8, 8) * 2 + 1)
    whole = Stylizer.transform(feat, [style])
    mean, std = AF.calc_mean_std(feat)
    tile = feat[..., 8:].contiguous()
    shared = Stylizer.transform(tile, [style], content_stats=ContentStats(mean, std))
    torch.testing.assert_close(shared, whole[..., 8:], atol=1e-5, rtol=1e-5)
    own = Stylizer.transform(tile, [style])  # per-tile statistics: the tile no longer matches
    assert (own - whole[..., 8:]).abs().mean() > 0.5


def test_spans_partition_the_image_on_the_grid_and_ramps_sum_to_one():
    for length, tile in [(512, 128), (1000, 256), (64, 64), (8 * 123, 200), (72, 64), (8 * 17, 64)]:
        found = tiling.spans(length, tile)
        assert found[0].core[0] == 0 and found[-1].core[1] == length
        weight = np.zeros(length, np.float32)
        for a, b in zip(found, found[1:]):
            assert a.core[1] == b.core[0]
        for s in found:
            assert all(v % tiling.GRID == 0 for v in (*s.core, *s.ext))
            assert s.core[1] - s.core[0] <= max(tile // 8 * 8, 8) and 2 * s.blend <= s.core[1] - s.core[0]
            assert s.ext[0] == max(0, s.core[0] - tiling.HALO) and s.ext[1] == min(length, s.core[1] + tiling.HALO)
            weight[s.ext[0] : s.ext[1]] += tiling.ramp(s, length)
        np.testing.assert_allclose(weight, 1.0, atol=1e-6)
    sizes = {s.core[1] - s.core[0] for s in tiling.spans(1000, 256)}
    assert max(sizes) - min(sizes) <= tiling.GRID  # near-equal tiles: one shape for the backend


def test_crop_reflects_as_the_untiled_padding_does():
    pixels = np.random.default_rng(0).integers(0, 256, (21, 30, 3), dtype=np.uint8)
    x = pad_to_multiple(torch.from_numpy(pixels).permute(2, 0, 1)[None].float() / 255)
    top, left = 1, 1  # pad_amounts(21, 30): 3 rows -> 1 top, 2 cols -> 1 left
    rows, cols = tiling.Span((0, 24), (0, 24)), tiling.Span((8, 24), (8, 32))
    torch.testing.assert_close(tiling.crop(pixels, rows, cols, top, left), x[..., 0:24, 8:32])


def test_mask_grid_equals_the_padded_mask_averaged_over_blocks():
    mask = Image.open(FIXTURES / "coffee.png").convert("L")
    size = (203, 117)
    expected = torch.nn.functional.interpolate(pad_to_multiple(load_mask(mask, size)), scale_factor=1 / 8, mode="area")
    torch.testing.assert_close(load_mask_grid(mask, size), expected, atol=1e-5, rtol=1e-5)


# -- tiled against untiled ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "options",
    [{}, {"method": "wct"}, {"alpha": 0.5, "preserve_color": True}, {"weights": [0.7, 0.3]},
     {"masks": FIXTURES / "coffee.png"}, {"masks": [FIXTURES / "coffee.png"]}],
    ids=["adain", "wct", "alpha+colour", "interpolation", "mask-two-styles", "mask-one-style"],
)
def test_tiles_match_the_untiled_result(tiny_model, options):
    two = "weights" in options or (options.get("masks") is not None and not isinstance(options["masks"], list))
    styles = [FIXTURES / "brick.png", FIXTURES / "gravel.png"] if two else FIXTURES / "brick.png"
    whole = Stylizer(tiny_model, backend="fp32", size=None, style_size=128)
    tiled = Stylizer(tiny_model, backend="fp32", size=None, style_size=128, tile=96)
    calls = []
    encode = tiled.backend.encode
    tiled.backend.encode = lambda x: calls.append(tuple(x.shape)) or encode(x)
    a = whole.stylize(FIXTURES / "chelsea.png", styles, **options)
    b = tiled.stylize(FIXTURES / "chelsea.png", styles, **options)
    assert a.size == b.size == (451, 300)
    assert len(calls) >= 2 * 4  # really tiled: two passes over several tiles
    diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
    assert diff.max() <= 2 and _psnr(a, b) > 45


def test_tiles_with_the_trained_model_match_the_untiled_result():
    """On real features (the tiny random model's are nearly flat): 384 px, tiles of 128."""
    from adain_hub import AdaIN

    model = AdaIN.from_pretrained(BUNDLED_MODEL)
    photo = Image.open(FIXTURES / "astronaut.png").convert("RGB").resize((384, 384))
    a = Stylizer(model, backend="fp32", size=None, style_size=128).stylize(photo, FIXTURES / "brick.png")
    b = Stylizer(model, backend="fp32", size=None, style_size=128, tile=128).stylize(photo, FIXTURES / "brick.png")
    assert _psnr(a, b) >= 30


# -- the memory budget ------------------------------------------------------------------------------
def test_the_budget_decides_when_to_tile_and_how_big():
    bpp = 832.0
    assert tiling.tile_for_budget(1000, 1000, 2048 * 2**20, bpp) is None  # 1 megapixel fits untiled
    for w, h in [(4000, 3000), (8000, 6000), (12000, 4000)]:
        side = tiling.tile_for_budget(w, h, 2048 * 2**20, bpp)
        assert side is not None and side % tiling.GRID == 0 and side >= tiling.MIN_TILE
        ext = side + 2 * tiling.HALO
        used = tiling.IMAGE_BYTES_PER_PIXEL * w * h + 2 * ext * w * 12 + bpp * ext * ext
        assert used <= 2048 * 2**20
    with pytest.raises(ValueError, match="memory budget"):
        tiling.tile_for_budget(8000, 6000, 512 * 2**20, bpp)  # the photo alone takes more


def test_a_small_budget_makes_the_stylizer_tile(tiny_model):
    stylizer = Stylizer(tiny_model, backend="fp32", size=None, style_size=64, memory_budget=12)
    assert stylizer.tile_size(451, 300) is not None
    shapes = []
    encode = stylizer.backend.encode
    stylizer.backend.encode = lambda x: shapes.append(tuple(x.shape)) or encode(x)
    out = stylizer.stylize(FIXTURES / "chelsea.png", FIXTURES / "brick.png")
    assert out.size == (451, 300)
    assert max(s[-1] * s[-2] for s in shapes[1:]) < 451 * 300  # no content tile as big as the photo
    with pytest.raises(ValueError, match="memory budget"):
        Stylizer(tiny_model, backend="fp32", size=None, memory_budget=0.1).stylize(
            FIXTURES / "chelsea.png", FIXTURES / "brick.png")


# -- too small, too thin, empty ----------------------------------------------------------------------
@pytest.mark.parametrize("size", [(16, 16), (2000, 20), (20, 2000), (5, 3), (1, 1)])
def test_small_and_thin_photos_are_stylized_at_their_own_size(tiny_model, size):
    stylizer = Stylizer(tiny_model, backend="fp32", size=None, style_size=64)
    photo = Image.open(FIXTURES / "coffee.png").convert("RGB").resize(size)
    shapes = []
    encode = stylizer.backend.encode
    stylizer.backend.encode = lambda x: shapes.append(tuple(x.shape)) or encode(x)
    out = stylizer.stylize(photo, FIXTURES / "brick.png", size=0)
    assert out.size == size
    assert min(shapes[-1][-2:]) >= 32  # the network ran on an enlarged or mirrored-out copy
    assert max(shapes[-1][-2:]) <= max(32, max(size)) + 8  # a strip is padded, never enlarged whole


def test_an_empty_or_oversized_photo_is_one_clear_line(tiny_model):
    stylizer = Stylizer(tiny_model, backend="fp32", size=None, max_pixels=100_000)
    with pytest.raises(ImageError, match="empty"):
        load_image(np.zeros((0, 10, 3), np.uint8), min_side=1)
    with pytest.raises(ImageError, match=r"too large \(451x300 pixels, limit 100,000\)"):
        stylizer.stylize(FIXTURES / "chelsea.png", FIXTURES / "brick.png")


# -- the command line --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    from adain_hub import AdaIN

    folder = tmp_path_factory.mktemp("tiny_model")
    torch.manual_seed(0)
    AdaIN(TINY).save_pretrained(folder)
    return folder


def test_cli_folder_of_mixed_sizes_writes_every_one(capsys, tiny_dir, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    coffee = Image.open(FIXTURES / "coffee.png").convert("RGB")
    sizes = {"icon": (16, 16), "strip": (2000, 20), "tower": (20, 2000), "photo": (600, 400)}
    for name, size in sizes.items():
        coffee.resize(size).save(folder / f"{name}.png")
    out = tmp_path / "out"
    base = ["stylize", str(folder), "--style", str(FIXTURES / "brick.png"), "--backend", "fp32",
            "--model", str(tiny_dir), "--out", str(out)]
    assert main([*base, "--size", "0"]) == 0
    for name, size in sizes.items():
        assert Image.open(out / f"{name}.png").size == size
    assert main([*base, "--size", "64"]) == 0  # the cap holds for every shape; the network pads the thin side
    got = {name: Image.open(out / f"{name}.png").size for name in sizes}
    assert got == {**sizes, "photo": (64, 43), "strip": (64, 1), "tower": (1, 64)}
    assert "error" not in capsys.readouterr().err


def test_cli_size_0_with_forced_tiles_matches_untiled(capsys, tiny_dir, tmp_path):
    base = ["stylize", str(FIXTURES / "chelsea.png"), "--style", str(FIXTURES / "brick.png"), "--backend", "fp32",
            "--model", str(tiny_dir), "--size", "0"]
    assert main([*base, "--out", str(tmp_path / "whole")]) == 0
    assert main([*base, "--tile", "64", "--out", str(tmp_path / "tiled")]) == 0
    a, b = (Image.open(tmp_path / d / "chelsea.png") for d in ("whole", "tiled"))
    assert a.size == b.size == (451, 300)
    assert _psnr(a, b) > 45


@pytest.mark.parametrize("backend", ["bf16", "openvino"])
def test_tiles_match_the_untiled_result_on_every_backend(tiny_model, backend):
    if backend == "openvino":
        pytest.importorskip("openvino")
    whole = Stylizer(tiny_model, backend=backend, size=None, style_size=64)
    tiled = Stylizer(tiny_model, backend=whole.backend, size=None, style_size=64, tile=128)
    a = whole.stylize(FIXTURES / "chelsea.png", FIXTURES / "brick.png", alpha=0.8)
    b = tiled.stylize(FIXTURES / "chelsea.png", FIXTURES / "brick.png", alpha=0.8)
    assert a.size == b.size == (451, 300)
    assert _psnr(a, b) > 40


def test_crop_of_a_read_only_photo_warns_nothing():
    pixels = np.asarray(Image.new("RGB", (64, 40), (10, 20, 30)))  # read-only, as the Stylizer's photo
    assert not pixels.flags.writeable
    span_r, span_c = tiling.spans(40, 64)[0], tiling.spans(64, 64)[0]
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = tiling.crop(pixels, span_r, span_c, 0, 0)
    assert x.shape == (1, 3, 40, 64)


class _OnDevice(torch.Tensor):
    """Features and images as a GPU backend returns them: on its device, so no ``.numpy()``."""

    def numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() first.")

    def cpu(self, *args, **kwargs):
        return torch.Tensor.cpu(self).as_subclass(torch.Tensor)


@pytest.mark.parametrize("with_mask", [False, True])
def test_tiles_work_with_a_backend_that_returns_device_tensors(tiny_model, with_mask):
    from adain_hub.backends import TorchBackend

    class OnDeviceBackend(TorchBackend):
        def encode(self, image):
            return super().encode(image).as_subclass(_OnDevice)

        def decode(self, features):
            return super().decode(features).as_subclass(_OnDevice)

    mask = Image.fromarray(np.tile((np.arange(150) < 70).astype(np.uint8) * 255, (100, 1)))
    kw = dict(masks=mask) if with_mask else {}
    photo = load_image(FIXTURES / "astronaut.png").resize((150, 100))
    styles = [FIXTURES / "brick.png", FIXTURES / "gravel.png"]
    whole = Stylizer(tiny_model, backend="fp32", size=None).stylize(photo, styles, **kw)
    tiled = Stylizer(tiny_model, backend=OnDeviceBackend(tiny_model), size=None, tile=64).stylize(photo, styles, **kw)
    assert _psnr(whole, tiled) > 40
