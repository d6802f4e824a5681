"""Full-resolution stylization: time per megapixel and peak RSS, tiled against untiled.

    .venv/bin/python benchmarks/bench_tiles.py                       # 1, 12, 48 MP; default backend
    .venv/bin/python benchmarks/bench_tiles.py --megapixels 1 3 --backend fp32
    .venv/bin/python benchmarks/bench_tiles.py --psnr                # tiled against untiled, 1024 px

Each measurement runs in a fresh Python process (``ru_maxrss`` is a process's peak, so processes
must not share one), which loads the model, encodes the style once, then times one
``Stylizer.stylize(path, style, size=0)``: decoding the JPEG, both tile passes (or the one untiled
pass), blending, and the PIL image out; wall time and this process's CPU time (user + system, all
threads: on a shared machine it moves less than wall time does). Rows:

- **tiled**: the default ``Stylizer`` (``memory_budget`` 2048 MB) with its tiles forced even where
  the photo would fit untiled (then with cores of ``--small-tile`` px), so every size is tiled;
- **untiled**: the same with an unbounded budget, one pass over the whole photo. Skipped where the
  untiled run would need more than ``--untiled-limit-gb`` (default: half the memory this machine has
  available now, so the benchmark never pushes other people's processes into the OOM killer).

Photos are the first bench photo (or a fixture) resized to 4:3 at each size and saved as JPEG.
Peak RSS includes the Python interpreter, torch, the backend and the model (the "baseline" column,
measured after loading them), which the memory budget does not count.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH_DATA = Path("/work/shared/data/bench")
# untiled peak RSS per pixel, to skip runs that would not fit: OpenVINO measured ~660 B/px at 3 MP here;
# eager PyTorch ~1,100 (and the 14.6 GB at 12 MP, before tiling existed, is ~1,250)
UNTILED_BYTES_PER_PIXEL = {"openvino": 750, "auto": 750}
UNTILED_BYTES_PER_PIXEL_OTHER = 1250


def photo_source() -> tuple[Path, Path]:
    if (BENCH_DATA / "content" / "00.jpg").is_file() and (BENCH_DATA / "style" / "00.jpg").is_file():
        return BENCH_DATA / "content" / "00.jpg", BENCH_DATA / "style" / "00.jpg"
    return ROOT / "tests/fixtures/astronaut.png", ROOT / "tests/fixtures/brick.png"


def make_photo(src: Path, megapixels: float, folder: Path) -> Path:
    from PIL import Image

    w = int(round(math.sqrt(megapixels * 1e6 * 4 / 3) / 8)) * 8
    h = w * 3 // 4
    path = folder / f"photo_{megapixels:g}mp.jpg"
    if not path.exists():
        Image.open(src).convert("RGB").resize((w, h), Image.Resampling.BICUBIC).save(path, quality=92)
    return path


def available_bytes() -> int:
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def child(args: argparse.Namespace) -> None:
    """One measurement in this process; prints one JSON line."""
    import torch

    from adain_hub import AdaIN
    from adain_hub.stylizer import DEFAULT_MEMORY_BUDGET_MB, Stylizer

    torch.set_num_threads(args.threads)
    model = AdaIN.from_pretrained(ROOT / "model_card")
    budget = 1e9 if args.mode == "untiled" else DEFAULT_MEMORY_BUDGET_MB
    stylizer = Stylizer(model, backend=args.backend, size=None, style_size=512, cache_size=0, memory_budget=budget)
    from PIL import Image

    with Image.open(args.photo) as img:
        w, h = img.size
    tile = stylizer.tile_size(w, h)
    if args.mode == "tiled" and tile is None:
        tile = args.small_tile
    stylizer.tile = tile if args.mode == "tiled" else None
    style = stylizer.encode_style(args.style)
    stylizer.stylize(Image.new("RGB", (64, 64)), style)  # warm-up: first-call costs are not per pixel
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    start, cpu = time.perf_counter(), time.process_time()
    out = stylizer.stylize(args.photo, style, size=0)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert out.size == (w, h)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "cpu": cpu, "peak": peak, "baseline": baseline, "tile": tile,
                      "backend": stylizer.backend.name, "size": [w, h]}))


def run_child(photo: Path, style: Path, mode: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--child", "--photo", str(photo), "--style", str(style), "--mode", mode,
           "--backend", args.backend, "--threads", str(args.threads), "--small-tile", str(args.small_tile)]
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def tiled_psnr(src: Path, style: Path, side: int, tile: int, backends: list[str]) -> None:
    """PSNR of a ``side`` x ``side`` photo stylized in ``tile`` px tiles against one untiled run,
    per backend: the figure behind "tiles match an untiled run" in the README."""
    import numpy as np
    from PIL import Image

    from adain_hub import AdaIN
    from adain_hub.stylizer import Stylizer

    model = AdaIN.from_pretrained(ROOT / "model_card")
    photo = Image.open(src).convert("RGB").resize((side, side), Image.Resampling.LANCZOS)
    print(f"\n{side}x{side} photo ({src.name} resized), tiles of {tile} px against untiled:\n")
    print("| backend | PSNR dB | max difference (0..255) |")
    print("|---|---:|---:|")
    for backend in backends:
        whole = Stylizer(model, backend=backend, size=None, style_size=512)
        tiled = Stylizer(model, backend=whole.backend, size=None, style_size=512, tile=tile)
        encoded = whole.encode_style(style)
        a = np.asarray(whole.stylize(photo, encoded), np.float64)
        b = np.asarray(tiled.stylize(photo, encoded), np.float64)
        mse = max(((a - b) ** 2).mean(), 1e-12)
        print(f"| {whole.backend.name} | {10 * np.log10(255.0**2 / mse):.1f} | {np.abs(a - b).max():.0f} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--megapixels", nargs="+", type=float, default=[1, 12, 48])
    p.add_argument("--backend", default="auto")
    p.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)))
    p.add_argument("--small-tile", type=int, default=512, help="tile core when the photo fits the budget untiled")
    p.add_argument("--untiled-limit-gb", type=float, default=None)
    p.add_argument("--psnr", nargs="*", default=None, metavar="BACKEND",
                   help="instead: PSNR of a 1024x1024 photo in 256 px tiles against untiled, per backend "
                        "(default: auto fp32)")
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--photo", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--style", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=["tiled", "untiled"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        child(args)
        return
    if args.psnr is not None:
        tiled_psnr(*photo_source(), 1024, 256, args.psnr or ["auto", "fp32"])
        return
    limit = (args.untiled_limit_gb * 2**30) if args.untiled_limit_gb else available_bytes() / 2
    src, style = photo_source()
    load = os.getloadavg()[0]
    print(f"backend {args.backend}, {args.threads} threads; untiled runs up to {limit / 2**30:.1f} GB estimated; "
          f"load average {load:.1f} at start", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_tiles_") as tmp:
        for mp in args.megapixels:
            photo = make_photo(src, mp, Path(tmp))
            for mode in ("untiled", "tiled"):
                from PIL import Image

                with Image.open(photo) as img:
                    w, h = img.size
                need = UNTILED_BYTES_PER_PIXEL.get(args.backend, UNTILED_BYTES_PER_PIXEL_OTHER) * w * h
                if mode == "untiled" and need > limit:
                    r = {"skipped": f"needs ~{need / 2**30:.0f} GB (over budget and this machine's "
                                    f"{limit / 2**30:.0f} GB limit)"}
                else:
                    r = run_child(photo, style, mode, args)
                r.update(mode=mode, w=w, h=h)
                rows.append(r)
                print(json.dumps(r), flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end\n")
    print("| photo | megapixels | mode | tile core (px) | wall s | wall s / MP | CPU s / MP | peak RSS (GiB) "
          "| baseline RSS (GiB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        mp = r["w"] * r["h"] / 1e6
        head = f"| {r['w']}x{r['h']} | {mp:.1f} | {r['mode']} |"
        if "skipped" in r or "error" in r:
            print(f"{head} — | — | — | — | {r.get('skipped') or r.get('error')} | — |")
            continue
        print(f"{head} {r['tile'] or '—'} | {r['seconds']:.1f} | {r['seconds'] / mp:.2f} | {r['cpu'] / mp:.2f} | "
              f"{r['peak'] / 2**30:.2f} | {r['baseline'] / 2**30:.2f} |")


if __name__ == "__main__":
    main()
