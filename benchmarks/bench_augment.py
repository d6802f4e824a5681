"""Style augmentation throughput: :class:`StyleAugment` on batches against the per-image
:class:`Stylizer` loop on the same tensors, in the same run.

    python benchmarks/bench_augment.py [--batch 64] [--size 224] [--repeats 3] [--models lite vgg]

The photos are ImageNet-sample images (``../shared/data/train/content/imagenet``, shorter side to 256,
centre 224, as Stylized-ImageNet prepares them; random pixels when that folder is absent), one batch
of ``--batch`` in memory. Every sample is stylized (``p=1``) with a style drawn from the model's
shipped bank and alpha uniform in [0.5, 1]. The baseline stylizes the same tensors one at a time
with styles and alphas drawn alike (``Stylizer.stylize(tensor, bank[k], alpha)``, PIL out, as a user of
the one-image API writes it). Variants run round-robin after one warm-up round; the table gives the
median images/s and the ratio to the loop. On a CUDA GPU a row for batches of ``--gpu-batch`` is added.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Callable

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import cpu_description  # noqa: E402

PHOTOS = ROOT.parent / "shared" / "data" / "train" / "content" / "imagenet"
MODELS = {"lite": ROOT / "model_card_lite", "vgg": ROOT / "model_card"}


def imagenet_batch(n: int, size: int, folder: Path = PHOTOS) -> torch.Tensor:
    """``n`` photos, shorter side to ``size * 8 / 7`` then the centre ``size`` (Resize(256) and
    CenterCrop(224) at 224), as a float batch in [0, 1]; seeded random pixels without the folder."""
    from torchvision.transforms import v2

    from adain_hub.images import iter_image_files, load_image

    files = list(iter_image_files(folder))[:n] if folder.is_dir() else []
    if len(files) < n:
        return torch.rand(n, 3, size, size, generator=torch.Generator().manual_seed(0))
    prepare = v2.Compose([v2.PILToTensor(), v2.Resize(round(size * 8 / 7), antialias=True), v2.CenterCrop(size),
                          v2.ToDtype(torch.float32, scale=True)])
    return torch.stack([prepare(load_image(f)) for f in files])


def variants(model_dir: Path, photos: torch.Tensor, device: str) -> dict[str, tuple[Callable[[], object], int]]:
    """name -> (a call that stylizes images, how many it stylizes)."""
    from adain_hub import AdaIN, StyleAugment, StyleBank, Stylizer
    from adain_hub.backends import cpu_has_bf16

    model = AdaIN.from_pretrained(str(model_dir)).to(device)
    bank = StyleBank.from_pretrained(model)
    g = torch.Generator().manual_seed(0)  # the loop's draws, from StyleAugment's distribution
    picks, alpha = torch.randint(len(bank), (len(photos),), generator=g).tolist(), 0.5 + 0.5 * torch.rand(len(photos))
    loop = Stylizer(model, cache_size=0)
    styles = [bank[k] for k in picks]
    x = photos.to(device)

    def one_by_one() -> None:
        for i in range(len(x)):
            loop.stylize(x[i], styles[i], alpha=float(alpha[i]), size=None)

    out: dict[str, tuple[Callable[[], object], int]] = {f"per-image Stylizer loop ({loop.backend.name})": (one_by_one, len(x))}
    augment = StyleAugment(model, bank, p=1.0, seed=0)
    out[f"StyleAugment, batch {len(x)} ({augment.stylizer.backend.name})"] = (lambda: augment(x), len(x))
    if getattr(loop.backend, "stylize", None):  # the same engine without its fused graph: what fusing wins
        two = Stylizer(model, backend=TwoGraphs(loop.backend), cache_size=0)
        idx = torch.tensor(picks)
        out[f"stylize_batch, batch {len(x)} ({loop.backend.name}, two graphs, AdaIN in PyTorch)"] = (
            lambda: two.stylize_batch(x, bank.mean[idx], bank.std[idx], alpha), len(x))
    if device == "cpu" and cpu_has_bf16():
        eager = StyleAugment(model, bank, p=1.0, seed=0, backend="bf16")
        out[f"StyleAugment, batch {len(x)} (eager bf16)"] = (lambda: eager(x), len(x))
    if device == "cpu" and has_nncf():
        int8 = StyleAugment(model, bank, p=1.0, seed=0, backend="openvino-int8")
        int8.stylizer  # quantized (or read from the cache) before the clock starts
        out[f"StyleAugment, batch {len(x)} (openvino-int8)"] = (lambda: int8(x), len(x))
    return out


def has_nncf() -> bool:
    try:
        import nncf  # noqa: F401
    except ImportError:
        return False
    return True


def fidelity(model_dir: Path, photos: torch.Tensor) -> dict[str, float]:
    """PSNR (dB) of StyleAugment's output with each CPU engine to the same draws in eager fp32."""
    from adain_hub import AdaIN, StyleAugment

    model = AdaIN.from_pretrained(str(model_dir))
    reference = StyleAugment(model, p=1.0, seed=0, backend="fp32")(photos)
    engines = ["auto"] + (["openvino-int8"] if has_nncf() else [])
    out = {}
    for engine in engines:
        augment = StyleAugment(model, p=1.0, seed=0, backend=engine)
        out[f"{engine} ({augment.stylizer.backend.name})"] = float(
            10 * torch.log10(1 / (augment(photos) - reference).pow(2).mean()))
    return out


class TwoGraphs:
    """A backend's encoder and decoder graphs alone (its fused ``stylize`` hidden), so that
    ``Stylizer.stylize_batch`` runs AdaIN in PyTorch between two calls, as before the fused graph."""

    def __init__(self, backend) -> None:
        self.inner, self.name, self.bytes_per_pixel = backend, backend.name, backend.bytes_per_pixel

    def encode(self, image: torch.Tensor) -> torch.Tensor:
        return self.inner.encode(image)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        return self.inner.decode(features)


def measure(methods: dict[str, tuple[Callable[[], object], int]], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in methods}
    for round_ in range(repeats + 1):
        for name, (fn, _) in methods.items():
            start = time.perf_counter()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: methods[name][1] / statistics.median(ts) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batch", type=int, default=64, help="samples per StyleAugment call (default 64)")
    parser.add_argument("--size", type=int, default=224, help="side of the square photos (default 224)")
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds after one warm-up round")
    parser.add_argument("--models", nargs="+", default=["lite", "vgg"], choices=list(MODELS))
    parser.add_argument("--vgg-batch", type=int, default=16, help="batch for VGG-19, 10x slower (default 16)")
    parser.add_argument("--gpu-batch", type=int, default=256, help="batch for the GPU row (default 256)")
    args = parser.parse_args()

    photos = imagenet_batch(max(args.batch, args.vgg_batch), args.size)
    load_before = os.getloadavg()
    rows: list[tuple[str, str, float, float]] = []
    psnr: dict[str, dict[str, float]] = {}
    for name in args.models:
        n = args.batch if name == "lite" else args.vgg_batch
        methods = variants(MODELS[name], photos[:n], "cpu")
        rates = measure(methods, args.repeats)
        base = next(iter(rates.values()))
        rows += [(name, variant, rate, rate / base) for variant, rate in rates.items()]
        psnr[name] = fidelity(MODELS[name], photos[:16])
        if torch.cuda.is_available():
            big = photos[torch.arange(args.gpu_batch) % len(photos)]
            gpu = {k: v for k, v in variants(MODELS[name], big, "cuda").items() if "StyleAugment" in k}
            rows += [(name, f"{variant} on {torch.cuda.get_device_name()}", rate, float("nan"))
                     for variant, rate in measure(gpu, args.repeats).items()]
    load_after = os.getloadavg()

    print(f"## Style augmentation, {args.size}x{args.size}, p=1\n")
    print(f"Machine: {cpu_description()}; torch {torch.__version__}. Median of {args.repeats} interleaved rounds "
          f"after one warm-up; load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}.\n")
    print("| model | variant | images/s | vs the per-image loop |")
    print("|---|---|---:|---:|")
    for model, variant, rate, ratio in rows:
        print(f"| {model} | {variant} | {rate:.1f} | {'—' if ratio != ratio else f'{ratio:.2f}x'} |")
    print("\nPSNR of the output to eager fp32 with the same draws (16 photos):\n")
    for model, engines in psnr.items():
        print(f"- {model}: " + ", ".join(f"{engine} {db:.1f} dB" for engine, db in engines.items()))


if __name__ == "__main__":
    main()
