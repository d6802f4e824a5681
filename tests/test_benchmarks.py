"""The numbers the benchmarks' conclusions rest on: the FLOP count and the Winograd convolution."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
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


def test_the_training_bench_reads_a_gpu_runs_figure_from_its_log(tmp_path: Path) -> None:
    bench = load("bench_training")
    record = {"step": 42000, "steps_per_s": 123.4, "images_per_s": 1974.4, "window_steps": 250,
              "device": "NVIDIA H200", "loader": "pool", "batch_size": 8, "styles_per_batch": 8}
    log = tmp_path / "train.log"
    log.write_text("training: 100%|...| {not json}\n" + json.dumps(record, indent=1) + "\nmodel saved\n")
    text = "\n".join(bench.gpu_figure(log))
    assert "NVIDIA H200" in text and "123.4 steps/s, 1974 images/s" in text and "meets" in text
    (tmp_path / "empty.log").write_text("no record here {}")
    with pytest.raises(SystemExit, match="no throughput record"):
        bench.gpu_figure(tmp_path / "empty.log")


def test_bench_tiles_photos_have_the_megapixels_they_are_named_for(tmp_path) -> None:
    from PIL import Image

    bench = load("bench_tiles")
    src = Path(__file__).resolve().parent / "fixtures" / "coffee.png"
    for mp, size in [(1, (1152, 864)), (12, (4000, 3000))]:
        with Image.open(bench.make_photo(src, mp, tmp_path)) as img:
            assert img.size == size and abs(img.width * img.height / 1e6 - mp) / mp < 0.01


def test_the_training_bench_times_the_fast_loop_against_the_plain_step() -> None:
    bench = load("bench_training")
    torch.manual_seed(0)
    vgg = AdaIN(AdaINConfig(channels=(4, 8, 8, 16)))
    lite = AdaIN(AdaINConfig(architecture="lite", channels=(4, 8)))
    plain = bench.LoopStep(lite, vgg, batch=2, size=32, bf16=False, judge=None)
    fast = bench.LoopStep(lite, vgg, batch=2, size=32, bf16=False, judge=torch.float32, cache=True, refresh=0.5,
                          cache_size=4)
    before = [p.clone() for p in fast.model.parameters()]
    assert plain.step() > 0 and fast.step() > 0 and fast.step() > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, fast.model.parameters()))  # it trains
    # two fast steps renewed half a batch each per step (one whole batch of 2 per cache), not 2 x 2 crops
    assert [c.renewed for c in fast.caches] == [2, 2]


def test_the_reference_steps_statistics_are_todays_to_float_rounding() -> None:
    from adain_hub import functional as AF

    bench = load("bench_training")
    torch.manual_seed(0)
    x = (torch.randn(2, 5, 6, 7).relu() + 0.1).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    today = AF.style_statistics([x])[0]
    with bench.reference_statistics():
        reference = AF.style_statistics([x])[0]  # the module's own callers see the reference
        assert AF.calc_mean_std is bench._var_mean_statistics
    assert AF.calc_mean_std is not bench._var_mean_statistics  # and only inside the block
    for a, b in zip(today, reference, strict=True):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def test_the_fast_loop_bench_runs_the_kept_host_memory_variants_in_a_worker_of_their_own(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    import argparse
    import importlib

    monkeypatch.syspath_prepend(str(BENCHMARKS))  # the spawned workers import the bench by name
    bench = importlib.import_module("bench_training")
    torch.manual_seed(0)
    AdaIN(AdaINConfig(channels=(4, 8, 8, 16))).save_pretrained(tmp_path / "vgg")
    args = argparse.Namespace(architectures=["vgg19"], sizes=[32], batch=2, steps=1, refresh=0.5,
                              compile=False, threads=1, model=str(tmp_path / "vgg"))
    bench.fast(args)
    rows = [line for line in capsys.readouterr().out.splitlines() if line.startswith("| vgg19 | 32 |")]
    from adain_hub.backends import cpu_has_bf16

    variants = bench._fast_variants(args, cpu_has_bf16())
    names = [name for name, _, _ in variants]
    assert [row.split(" | ")[2] for row in rows] == names and len(names) == 8
    assert sum(kept for _, _, kept in variants) == 2
    # each row against the plain step and today's plain step of the same run
    assert rows[0].split(" | ")[5] == "1.00x" and rows[1].endswith("| 1.00x |")
    assert all(float(row.split(" | ")[3]) > 0 for row in rows)
