"""Would Winograd convolution beat the direct convolution here? One 3x3 layer of each width, timed.

    .venv/bin/python benchmarks/bench_winograd.py [--repeats 5]

Winograd F(4,3) computes a 4x4 output tile of a 3x3 convolution with 36 multiplies per channel
pair instead of 144, so on paper it cuts the network's work 4x (``bench_inference.py`` prints that
bound). This measures what is left of it in practice on the CPU: a plain PyTorch implementation
(tile extraction, input transform as one GEMM, 36 batched GEMMs, output transform as one GEMM)
against ``conv2d`` with channels_last (oneDNN), for the four widths and resolutions of VGG's
relu1..relu4 blocks at a 512 px input. Rows run round-robin; error is relative L2 to ``conv2d``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import Tensor

# F(4,3) transform matrices (Lavin & Gray 2016).
BT = torch.tensor([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                   [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=torch.float64)
G = torch.tensor([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                  [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=torch.float64)
AT = torch.tensor([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0],
                   [0, 1, -1, 8, -8, 1]], dtype=torch.float64)
KB = torch.kron(BT, BT).float()  # (36, 36): vec(B^T d B) = KB @ vec(d)
KA = torch.kron(AT, AT).float()  # (16, 36): vec(A^T m A) = KA @ vec(m)


def transform_weights(w: Tensor) -> Tensor:
    """(K, C, 3, 3) filters -> (36, C, K) Winograd-domain filters, computed once per layer."""
    u = torch.einsum("ai,kcij,bj->abck", G, w.double(), G)
    return u.reshape(36, w.shape[1], w.shape[0]).float().contiguous()


def winograd_conv(xp: Tensor, u: Tensor) -> Tensor:
    """3x3 'valid' convolution of a padded (1, C, H+2, W+2) input, H and W multiples of 4."""
    c, h, w = xp.shape[1], xp.shape[2] - 2, xp.shape[3] - 2
    th, tw = h // 4, w // 4
    tiles = xp[0].unfold(1, 6, 4).unfold(2, 6, 4).permute(1, 2, 0, 3, 4).reshape(th * tw * c, 36)
    v = (tiles @ KB.T).reshape(th * tw, c, 36).permute(2, 0, 1)  # (36, tiles, C)
    m = torch.bmm(v, u)  # (36, tiles, K)
    k = u.shape[2]
    y = (KA @ m.reshape(36, -1)).reshape(4, 4, th, tw, k)
    return y.permute(4, 2, 0, 3, 1).reshape(1, k, h, w)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    print("| layer | direct conv2d channels_last ms | Winograd F(4,3) ms | speed-up | rel. error |")
    print("|---|---:|---:|---:|---:|")
    for c, side in ((64, 512), (128, 256), (256, 128), (512, 64)):
        x = torch.randn(1, c, side + 2, side + 2)
        w = torch.randn(c, c, 3, 3) / (3 * c**0.5)
        xc, wc, u = x.to(memory_format=torch.channels_last), w.to(memory_format=torch.channels_last), transform_weights(w)
        runs = {"direct": lambda: torch.nn.functional.conv2d(xc, wc), "winograd": lambda: winograd_conv(x, u)}
        times: dict[str, list[float]] = {name: [] for name in runs}
        for round_ in range(args.repeats + 1):
            for name, fn in runs.items():
                start = time.perf_counter()
                fn()
                if round_:
                    times[name].append(time.perf_counter() - start)
        ref, out = torch.nn.functional.conv2d(x, w), winograd_conv(x, u)
        err = ((out - ref).norm() / ref.norm()).item()
        direct, wino = (statistics.median(times[n]) * 1e3 for n in ("direct", "winograd"))
        print(f"| {c}->{c} at {side}^2 | {direct:.0f} | {wino:.0f} | {direct / wino:.2f}x | {err:.1e} |")


if __name__ == "__main__":
    main()
