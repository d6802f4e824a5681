"""Training throughput: fp32 NCHW against bf16 autocast + channels_last (the training default).

    .venv/bin/python benchmarks/bench_training.py [--sizes 128 256] [--steps 3] [--threads N]

One step = :class:`adain_hub.training.StyleTransferLoss` on 8 contents x 8 styles (random tensors;
throughput does not depend on the pixels), ``content + 10 * style`` loss, backward, Adam on the
decoder. The two variants alternate step by step after one warm-up step each, so load from other
processes hits both alike. On CPUs without native bf16 (no AMX / AVX512-BF16), bf16 is emulated
and very slow; ``--max-step-seconds`` keeps such a run from taking hours: a variant whose step
takes longer is reported from its warm-up step and left out at larger sizes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from contextlib import nullcontext
from pathlib import Path

import torch

from adain_hub import AdaIN
from adain_hub.training import StyleTransferLoss

ROOT = Path(__file__).resolve().parent.parent


class Variant:
    """A model copy with its own optimizer, stepping in fp32 or in bf16 autocast + channels_last."""

    def __init__(self, source: AdaIN, bf16: bool, batch: int, size: int) -> None:
        self.bf16 = bf16
        model = AdaIN(source.config)
        model.load_state_dict(source.state_dict())
        self.memory_format = torch.channels_last if bf16 else torch.contiguous_format
        self.model = model.to(memory_format=self.memory_format).train()
        self.loss = StyleTransferLoss(self.model)
        self.optimizer = torch.optim.Adam(self.model.decoder.parameters(), lr=1e-4)
        g = torch.Generator().manual_seed(size)
        self.content = torch.rand(batch, 3, size, size, generator=g).contiguous(memory_format=self.memory_format)
        self.style = torch.rand(batch, 3, size, size, generator=g).contiguous(memory_format=self.memory_format)

    def step(self) -> float:
        start = time.perf_counter()
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if self.bf16 else nullcontext()
        with autocast:
            content_loss, style_loss, _, _ = self.loss(self.content, self.style)
            loss = content_loss + 10.0 * style_loss
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if not torch.isfinite(loss):
            raise RuntimeError(f"non-finite loss {loss.item()}")
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="square crop sizes")
    parser.add_argument("--batch", type=int, default=8, help="contents per step (with as many styles)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per variant after one warm-up step")
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--max-step-seconds", type=float, default=60.0,
                        help="time no further steps of a variant whose warm-up step took longer")
    parser.add_argument("--model", default=str(ROOT / "model_card"))
    args = parser.parse_args()
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    source = AdaIN.from_pretrained(args.model)

    rows = []
    too_slow: dict[str, int] = {}  # variant -> crop size at which one step went over the limit
    load_before = os.getloadavg()
    for size in args.sizes:
        variants = {
            name: Variant(source, bf16=bf16, batch=args.batch, size=size)
            for name, bf16 in (("fp32 NCHW", False), ("bf16 autocast + channels_last", True))
            if name not in too_slow
        }
        warmup = {name: v.step() for name, v in variants.items()}
        print(f"{size} px warm-up: " + ", ".join(f"{n} {t:.1f} s" for n, t in warmup.items()), file=sys.stderr)
        # A variant whose warm-up step is over the limit (emulated bf16 on CPUs without native
        # bf16 can be 10-100x slower) is reported from that one step and not run at larger sizes.
        timed = {name: v for name, v in variants.items() if warmup[name] <= args.max_step_seconds}
        too_slow.update({name: size for name in variants if name not in timed})
        times: dict[str, list[float]] = {name: [] for name in timed}
        for _ in range(args.steps):
            for name, v in timed.items():
                times[name].append(v.step())
        medians = {name: statistics.median(times[name]) if name in times else warmup[name] for name in variants}
        fp32 = medians.get("fp32 NCHW")
        for name in ("fp32 NCHW", "bf16 autocast + channels_last"):
            if name not in medians:
                rows.append(f"| {size} | {name} (not run: over {args.max_step_seconds:g} s/step at "
                            f"{too_slow[name]} px) | — | — | — |")
                continue
            s = medians[name]
            note = "" if name in times else f" (warm-up step only, over {args.max_step_seconds:g} s)"
            ratio = f"{fp32 / s:.2f}x" if fp32 else "—"
            rows.append(f"| {size} | {name}{note} | {s:.2f} | {1 / s:.3f} | {ratio} |")
    load_after = os.getloadavg()

    print(f"## Training throughput, batch {args.batch} contents x {args.batch} styles, {threads} threads\n")
    print(f"torch {torch.__version__}; median of {args.steps} interleaved steps after one warm-up step.")
    print(f"Load average (1 min) before: {load_before[0]:.2f}, after: {load_after[0]:.2f}.\n")
    print("| crop px | variant | s/step | steps/s | speed-up vs fp32 |")
    print("|---:|---|---:|---:|---:|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
