"""The numbers the benchmarks' conclusions rest on: the FLOP count and the Winograd convolution."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import torch

from adain_hub import AdaIN, AdaINConfig

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def load(name: str) -> ModuleType:
    sys.path.insert(0, str(BENCHMARKS))
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_conv_gflop_counts_the_vgg_encoder_by_hand() -> None:
    bench = load("bench_inference")
    c1, c2, c3, c4 = 4, 6, 8, 10
    model = AdaIN(AdaINConfig(channels=(c1, c2, c3, c4)))
    s = 32
    # 1x1 RGB conv, conv1_1..1_2 at s, conv2_x at s/2, conv3_x at s/4, conv4_1 at s/8; 2 FLOP a MAC.
    by_hand_3x3 = 2 * 9 * (
        s**2 * (3 * c1 + c1 * c1)
        + (s // 2) ** 2 * (c1 * c2 + c2 * c2)
        + (s // 4) ** 2 * (c2 * c3 + 3 * c3 * c3)
        + (s // 8) ** 2 * c3 * c4
    )
    by_hand_1x1 = 2 * s**2 * 3 * 3
    total, three_by_three = bench.conv_gflop(model.encoder, torch.rand(1, 3, s, s))
    assert abs(total * 1e9 - (by_hand_3x3 + by_hand_1x1)) < 1e-3
    assert abs(three_by_three * 1e9 - by_hand_3x3) < 1e-3
    # Hooks are removed: a second count is the same, not doubled.
    assert bench.conv_gflop(model.encoder, torch.rand(1, 3, s, s))[0] == total


def test_winograd_conv_equals_conv2d() -> None:
    wino = load("bench_winograd")
    torch.manual_seed(0)
    x, w = torch.randn(1, 5, 18, 26), torch.randn(7, 5, 3, 3)
    out = wino.winograd_conv(x, wino.transform_weights(w))
    ref = torch.nn.functional.conv2d(x, w)
    assert out.shape == ref.shape == (1, 7, 16, 24)
    assert torch.allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_bench_tiles_photos_have_the_megapixels_they_are_named_for(tmp_path) -> None:
    from PIL import Image

    bench = load("bench_tiles")
    src = Path(__file__).resolve().parent / "fixtures" / "coffee.png"
    for mp, size in [(1, (1152, 864)), (12, (4000, 3000))]:
        with Image.open(bench.make_photo(src, mp, tmp_path)) as img:
            assert img.size == size and abs(img.width * img.height / 1e6 - mp) / mp < 0.01
