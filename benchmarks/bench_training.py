"""Training throughput: the decode-once pool loop against the old per-step decoding loop, on real
data in one run; or (``--compare precision``) fp32 NCHW against bf16 autocast + channels_last.

    .venv/bin/python benchmarks/bench_training.py                          # loops, ../shared/data
    .venv/bin/python benchmarks/bench_training.py --gpu-log throughput.json  # ... and a GPU run's figure
    .venv/bin/python benchmarks/bench_training.py --compare precision [--sizes 128 256] [--steps 3]
    .venv/bin/python benchmarks/bench_training.py --compare fast [--sizes 128 256] [--architectures lite vgg19] [--compile]

``--compare fast``: the plain step (the loss network runs as it is under autocast and judges every
crop of every step), once with the channel statistics as issue 15 measured it (the reference) and
once with today's, against the fast loop's pieces added one at a time: a frozen judge copy with
weights in the step's precision run outside autocast, its padding by concatenation, cached targets
(:class:`adain_hub.targets.TargetCache`, ``--refresh`` of a batch renewed per step), and freed host
memory kept in the process (:func:`adain_hub.host_memory.retain_freed_memory`, as
``train_accelerate.py`` runs: a setting of the whole process, so those variants live in a second
worker process; one process computes at a time). Batch 8 x 8, identity loss on, random crops; all
variants alternate step by step after a warm-up step each.

``--compare loops`` (default) times two things, old and new alternating:
  the data path alone: batches of 8 content + 8 style crops (``--data-size``, default 256 px from
  images at most 512 px on their shorter side) from ``crop_loader`` (decode, resize and crop every
  image on the host, every step) against ``ImagePool.sample`` + the float conversion the loop does
  (the pool's one-off fill is reported on its own); and the whole loop: ``train()`` with
  ``loader="stream"`` against ``loader="pool"``, the real VGG model at ``--size`` px (small: a
  256 px step takes tens of seconds on a 2-core CPU), steps/s read from each run's throughput.json.
``--gpu-log`` reads a GPU run's ``throughput.json`` (or a log holding it) and prints its figure.

``--compare precision``: one step = :class:`adain_hub.training.StyleTransferLoss` on 8 contents x 8 styles (random tensors;
throughput does not depend on the pixels), ``content + 10 * style`` loss, backward, Adam on the
decoder. The two variants alternate step by step after one warm-up step each, so load from other
processes hits both alike. On CPUs without native bf16 (no AMX / AVX512-BF16), bf16 is emulated
and very slow; ``--max-step-seconds`` keeps such a run from taking hours: a variant whose step
takes longer is reported from its warm-up step and left out at larger sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path
from unittest import mock

import torch

from adain_hub import AdaIN
from adain_hub import functional as AF
from adain_hub.data import CropSpec, crop_loader, image_pool
from adain_hub.training import StyleTransferLoss, TrainConfig, to_device_batch, train

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

        def loss() -> torch.Tensor:
            content_loss, style_loss, _, _ = self.loss(self.content, self.style)
            return content_loss + 10.0 * style_loss

        update(self.optimizer, loss, self.bf16)
        return time.perf_counter() - start


def update(optimizer: torch.optim.Optimizer, loss_fn, bf16: bool) -> None:
    """One optimizer step on ``loss_fn()``, computed under bf16 autocast or in fp32."""
    with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else nullcontext():
        loss = loss_fn()
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    if not torch.isfinite(loss):
        raise RuntimeError(f"non-finite loss {loss.item()}")


def precision(args: argparse.Namespace) -> None:
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


def _var_mean_statistics(feat: torch.Tensor, eps: float = AF.EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """``calc_mean_std`` as it was when issue 15 measured the plain step: the map reshaped (a copy, for a
    channels_last map) and cast to a float32 copy, then ``var_mean``. Same values to float32 rounding."""
    n, c = feat.shape[:2]
    var, mean = torch.var_mean(feat.reshape(n, c, -1).float(), dim=2, correction=0)
    return mean.view(n, c, 1, 1), (var + eps).sqrt().view(n, c, 1, 1)


@contextmanager
def reference_statistics():
    """The step's channel statistics computed as the issue's reference step computed them."""
    with mock.patch.object(AF, "calc_mean_std", _var_mean_statistics):
        yield


class LoopStep:
    """One training step as a loop variant runs it, on random crops (the time does not depend on the
    pixels): model copy, Adam, ``content + 10 style + 50 identity`` under bf16 autocast (fp32 on CPUs
    without native bf16) and channels_last, as ``train()`` does. ``judge``: ``None`` measures with
    the loss network as it is (the plain step), else a frozen copy in ``judge`` dtype, padded as
    ``padding`` says (:func:`~adain_hub.loss_network.judge_copy`); ``cache``: the step's photos and
    paintings come from a :class:`~adain_hub.targets.TargetCache` renewing ``refresh`` of a batch per
    step; ``compile``: the loss module under ``torch.compile``; ``reference_stats``: the channel
    statistics as the issue's reference step computed them (:func:`reference_statistics`)."""

    def __init__(self, source: AdaIN, vgg: AdaIN, batch: int, size: int, bf16: bool, judge: torch.dtype | None,
                 padding: str = "reflect", cache: bool = False, refresh: float = 0.25, cache_size: int = 64,
                 compile: bool = False, reference_stats: bool = False) -> None:
        from adain_hub.targets import TargetCache

        self.bf16, self.batch, self.reference_stats = bf16, batch, reference_stats
        model = AdaIN(source.config)
        model.load_state_dict(source.state_dict())
        self.model = model.to(memory_format=torch.channels_last).train()
        loss_network = None if model.is_vgg else vgg.encoder.to(memory_format=torch.channels_last)
        self.loss = StyleTransferLoss(self.model, loss_network, identity=True, judge_dtype=judge,
                                      judge_padding=padding)
        self.optimizer = torch.optim.Adam([p for p in self.model.parameters() if p.requires_grad], lr=1e-4)
        # as train(--compile) does: the forward and backward compiled, the targets' passes left eager
        self.forward = torch.compile(self.loss) if compile else self.loss
        g = torch.Generator().manual_seed(size)

        def draw(n: int):
            return torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g), [""] * n

        prepare = lambda crops: to_device_batch(crops, torch.device("cpu"))  # noqa: E731
        self.caches = None
        if cache:
            self.caches = (TargetCache(draw, self.loss.content_features, size=cache_size, batch=batch,
                                       refresh=refresh * batch, seed=0, prepare=prepare),
                           TargetCache(draw, self.loss.style_targets, size=cache_size, batch=batch,
                                       refresh=refresh * batch, seed=1, prepare=prepare))
        self.draw, self.prepare = draw, prepare

    def step(self) -> float:
        start = time.perf_counter()
        if self.caches is not None:
            content, _, c_feat = self.caches[0].next(self.batch)
            style, _, s_stats = self.caches[1].next(self.batch)
        else:
            content, style = self.prepare(self.draw(self.batch)[0]), self.prepare(self.draw(self.batch)[0])
            c_feat = s_stats = None

        def loss() -> torch.Tensor:
            losses = self.forward(content, style, c_feat, s_stats)
            return losses.content + 10.0 * losses.style + 50.0 * losses.identity

        with reference_statistics() if self.reference_stats else nullcontext():
            update(self.optimizer, loss, self.bf16)
        return time.perf_counter() - start


def _fast_variants(args: argparse.Namespace, bf16: bool) -> list[tuple[str, dict, bool]]:
    """The ``--compare fast`` variants: (row name, :class:`LoopStep` options, freed host memory retained)."""
    judge = torch.bfloat16 if bf16 else torch.float32
    fast = dict(judge=judge, cache=True, refresh=args.refresh)
    variants = [
        ("plain step as issue 15 measured it (loss network under autocast, every crop judged, statistics by "
         "`var_mean` of a float32 copy)", dict(judge=None, reference_stats=True), False),
        ("plain step with today's statistics (`--loop plain` now)", dict(judge=None), False),
        (f"+ frozen judge copy in {'bf16' if bf16 else 'fp32'}, run outside autocast (F.pad reflection padding)",
         dict(judge=judge), False),
        ("+ reflection padding by concatenation", dict(judge=judge, padding="concat"), False),
        (f"judge copy (F.pad) + cached targets, {args.refresh:g} of a batch renewed per step (the fast loop)",
         fast, False),
        ("the fast loop with zero padding in the judge (`--judge-padding zero`)", dict(fast, padding="zero"), False),
        ("the fast loop, freed host memory kept (`retain_freed_memory`, as `train_accelerate.py` runs it)",
         fast, True),
        ("the fast loop, host memory kept + zero padding", dict(fast, padding="zero"), True),
    ]
    if args.compile:
        variants += [("the fast loop + `torch.compile` of the step (`--compile`)", dict(fast, compile=True), False),
                     ("the fast loop, zero padding + `torch.compile`", dict(fast, padding="zero", compile=True), False)]
    return variants


def _fast_worker(conn, model: str, architecture: str, batch: int, size: int, threads: int,
                 variants: list[tuple[str, dict]], retain: bool) -> None:
    """One process holding some of the variants; steps the one the parent names, answers its time.
    Variants that keep freed host memory need a process of their own: the setting is process-wide."""
    from adain_hub import AdaINConfig
    from adain_hub.backends import cpu_has_bf16
    from adain_hub.host_memory import retain_freed_memory

    if retain and not retain_freed_memory():
        raise RuntimeError("retain_freed_memory() did not apply (not glibc?)")
    torch.set_num_threads(threads)
    vgg = AdaIN.from_pretrained(model)
    bf16 = cpu_has_bf16()
    torch.manual_seed(0)  # the same fresh lite network in every worker
    source = vgg if architecture == "vgg19" else AdaIN(AdaINConfig(architecture="lite"))
    steps = {name: LoopStep(source, vgg, batch, size, bf16, **options) for name, options in variants}
    conn.send("ready")
    while (name := conn.recv()) is not None:
        conn.send(steps[name].step())


def fast(args: argparse.Namespace) -> None:
    """The plain step against the fast loop's pieces, added one at a time, interleaved step by step.
    Each group of variants lives in a worker process (one with freed host memory kept, one without);
    only one process computes at a time, so the interleaving is as fair as within one process."""
    import multiprocessing

    from adain_hub.backends import cpu_has_bf16

    threads = args.threads or len(os.sched_getaffinity(0))
    bf16 = cpu_has_bf16()
    context = multiprocessing.get_context("spawn")
    rows = []
    load_before = os.getloadavg()
    variants = _fast_variants(args, bf16)
    for architecture in args.architectures:
        for size in args.sizes:
            workers = {}
            for retain in (False, True):
                group = [(name, options) for name, options, r in variants if r is retain]
                parent, child = context.Pipe()
                process = context.Process(target=_fast_worker, args=(child, args.model, architecture, args.batch,
                                                                    size, threads, group, retain), daemon=True)
                process.start()
                workers[retain] = (parent, process)
            for parent, _ in workers.values():
                if parent.recv() != "ready":
                    raise RuntimeError("a benchmark worker failed to start")

            def step(name: str, retain: bool) -> float:
                conn = workers[retain][0]
                conn.send(name)
                return conn.recv()

            for name, _, retain in variants:
                step(name, retain)  # warm-up (a compiled variant compiles here)
                if args.compile:
                    step(name, retain)  # ... and the recompile for the second shape dynamo sees, if any
            times: dict[str, list[float]] = {name: [] for name, _, _ in variants}
            for _ in range(args.steps):
                for name, _, retain in variants:
                    times[name].append(step(name, retain))
            for parent, process in workers.values():
                parent.send(None)
                process.join()
            medians = {name: statistics.median(t) for name, t in times.items()}
            reference, today = list(medians.values())[:2]
            for name, s in medians.items():
                rows.append(f"| {architecture} | {size} | {name} | {s:.3f} | {1 / s:.2f} | {reference / s:.2f}x "
                            f"| {today / s:.2f}x |")
            print(f"{architecture} {size} px done", file=sys.stderr)
    load_after = os.getloadavg()
    print(f"## Training step: plain against the fast loop, batch {args.batch} contents x {args.batch} styles, "
          f"identity loss on, {threads} threads\n")
    print(f"torch {torch.__version__}; native bf16: {bf16} (the step runs in "
          f"{'bf16 autocast' if bf16 else 'fp32'}); median of {args.steps} interleaved steps after one warm-up each.")
    print(f"Load average (1 min) before: {load_before[0]:.2f}, after: {load_after[0]:.2f}.\n")
    print("| model | crop px | step | s/step | steps/s | vs the issue's plain step | vs today's plain step |")
    print("|---|---:|---|---:|---:|---:|---:|")
    print("\n".join(rows))


def _time_batches(next_batch, n: int) -> float:
    """Seconds for ``n`` batches (after one untimed)."""
    next_batch()
    start = time.perf_counter()
    for _ in range(n):
        next_batch()
    return time.perf_counter() - start


def data_path(args: argparse.Namespace) -> list[str]:
    """Images/s of the old and the new data path, interleaved rounds; rows of a markdown table."""
    spec = CropSpec(resize=512, crop=args.data_size, skip_grayscale=True)
    style_spec = CropSpec(resize=512, crop=args.data_size, skip_grayscale=False)
    cpu = torch.device("cpu")
    old_c = iter(crop_loader(args.content, spec, args.batch, seed=0, threads=args.decode_threads))
    old_s = iter(crop_loader(args.style, style_spec, args.batch, seed=1, balance_by="label",
                             threads=args.decode_threads))
    started = time.perf_counter()
    pool_c = image_pool(args.content, spec, capacity=4096, seed=0, threads=args.decode_threads)
    pool_s = image_pool(args.style, style_spec, capacity=4096, seed=1, balance_by="label", threads=args.decode_threads)
    fill = time.perf_counter() - started
    sc, ss = pool_c.summary(), pool_s.summary()

    def old() -> None:
        for loader in (old_c, old_s):
            to_device_batch(next(loader)[0], cpu)

    def new() -> None:
        for pool in (pool_c, pool_s):
            to_device_batch(pool.sample(args.batch)[0], cpu)

    def new_host() -> None:  # what is left on the host when the pool lives on a GPU
        for pool in (pool_c, pool_s):
            pool.sample(args.batch)

    times: dict[str, list[float]] = {"old": [], "new": [], "host": []}
    for _ in range(args.rounds):
        times["old"].append(_time_batches(old, args.data_batches))
        times["new"].append(_time_batches(new, args.data_batches))
        times["host"].append(_time_batches(new_host, args.data_batches))
    images = 2 * args.batch * args.data_batches
    rate = {k: images / statistics.median(v) for k, v in times.items()}
    return [
        f"Data path alone: {args.batch} contents + {args.batch} styles a batch, {args.data_size} px crops, "
        f"{args.data_batches} batches x {args.rounds} interleaved rounds, {args.decode_threads} decode threads.\n",
        "| loader | images/s | batches/s | vs old |", "|---|---:|---:|---:|",
        f"| old: `crop_loader` (decode + resize + crop on the host, every image, every step) | {rate['old']:.0f} | "
        f"{rate['old'] / (2 * args.batch):.1f} | 1.0x |",
        f"| new: `ImagePool.sample` + float conversion | {rate['new']:.0f} | {rate['new'] / (2 * args.batch):.1f} | "
        f"{rate['new'] / rate['old']:.0f}x |",
        f"| new, crops only (`ImagePool.sample`, uint8; the float conversion is the device's work on a GPU) | "
        f"{rate['host']:.0f} | {rate['host'] / (2 * args.batch):.1f} | {rate['host'] / rate['old']:.0f}x |",
        f"\nThe pools' one-off fill: {fill:.1f} s for {sc.images} photos ({sc.megabytes:.0f} MB) and {ss.images} "
        f"paintings in {ss.labels} styles ({ss.megabytes:.0f} MB); refused: "
        f"{', '.join(f'{r} {n}' for r, n in {**sc.refused, **ss.refused}.items()) or 'none'}.\n",
    ]


def whole_loop(args: argparse.Namespace, workdir: Path) -> list[str]:
    """Steps/s of ``train()`` with each loader, alternating runs; rows of a markdown table."""
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState

    results: dict[str, list[float]] = {"stream": [], "pool": []}
    setup: dict[str, list[float]] = {"stream": [], "pool": []}
    for r in range(args.rounds):
        for loader in ("stream", "pool"):
            out = workdir / f"{loader}_{r}"
            config = TrainConfig(content_dataset=args.content, style_dataset=args.style, output_dir=str(out),
                                 encoder_from=args.model, batch_size=args.batch, styles_per_batch=args.batch,
                                 image_size=args.size, resize=512, max_steps=args.steps + 1, log_every=1,
                                 checkpoint_every=10**6, sample_every=10**6, log_with=None, mixed_precision="no",
                                 loader=loader, decode_threads=args.decode_threads)
            train(config, Accelerator(cpu=True, mixed_precision="no"))
            AcceleratorState._reset_state(True)
            record = json.loads((out / "throughput.json").read_text())
            results[loader].append(record["steps_per_s_since_first_step"])
            setup[loader].append(record["data_setup_s"])
            print(f"round {r} {loader}: {record['steps_per_s_since_first_step']:.3f} steps/s", file=sys.stderr)
    med = {k: statistics.median(v) for k, v in results.items()}
    return [
        f"Whole loop: `train()` on the real VGG model (fresh decoder), {args.batch} contents x {args.batch} styles, "
        f"{args.size} px crops, fp32, {args.steps} timed steps after the first, {args.rounds} alternating runs each.\n",
        "| loader | steps/s | images/s | s/step | data setup s | vs old |", "|---|---:|---:|---:|---:|---:|",
        *[f"| {k} | {med[k]:.3f} | {med[k] * 2 * args.batch:.1f} | {1 / med[k]:.2f} | "
          f"{statistics.median(setup[k]):.1f} | {med[k] / med['stream']:.2f}x |" for k in ("stream", "pool")],
        "",
    ]


def gpu_figure(path: Path) -> list[str]:
    """The GPU run's figure from its throughput.json, or from a log that printed it."""
    text = path.read_text()
    start = text.find("{")
    record = None
    while start != -1 and record is None:
        try:
            record = json.JSONDecoder().raw_decode(text[start:])[0]
            if "steps_per_s" not in record:
                record, start = None, text.find("{", start + 1)
        except json.JSONDecodeError:
            start = text.find("{", start + 1)
    if record is None:
        raise SystemExit(f"error: {path}: no throughput record (a JSON object with steps_per_s) in it")
    goal = "meets" if record["steps_per_s"] >= 100 else "misses"
    return [
        f"GPU run ({path.name}): {record.get('device', '?')}, torch {record.get('torch', '?')}, loader "
        f"{record.get('loader', '?')}, {record.get('mixed_precision', '?')}, compile {record.get('compile', '?')}, "
        f"batch {record.get('batch_size', '?')} x {record.get('styles_per_batch', '?')}, "
        f"{record.get('image_size', '?')} px, step {record.get('step', '?')}:\n",
        f"**{record['steps_per_s']:.1f} steps/s, {record.get('images_per_s', 0):.0f} images/s** over the last "
        f"{record.get('window_steps', '?')} steps ({record.get('steps_per_s_since_first_step', 0):.1f} steps/s "
        f"since the first step); the goal of 100 steps/s: {goal}.",
    ]


def loops(args: argparse.Namespace) -> None:
    import tempfile

    torch.set_num_threads(args.threads or len(os.sched_getaffinity(0)))
    load_before = os.getloadavg()
    rows = [] if args.skip_data else data_path(args)
    if not args.skip_loop:
        with tempfile.TemporaryDirectory(prefix="bench_training_") as tmp:
            rows += whole_loop(args, Path(tmp))
    load_after = os.getloadavg()
    print(f"## Training loops: old (per-step decoding) against new (decode-once pool), {torch.get_num_threads()} "
          f"threads\n")
    print(f"torch {torch.__version__}; content {args.content}, style {args.style}.")
    print(f"Load average (1 min) before: {load_before[0]:.2f}, after: {load_after[0]:.2f}.\n")
    print("\n".join(rows))
    if args.gpu_log:
        print("\n".join(gpu_figure(args.gpu_log)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--compare", choices=("loops", "precision", "fast"), default="loops")
    parser.add_argument("--batch", type=int, default=8, help="contents per step (with as many styles)")
    parser.add_argument("--threads", type=int, default=None, help="default: all cores")
    parser.add_argument("--model", default=str(ROOT / "model_card"))
    loop = parser.add_argument_group("--compare loops")
    data = ROOT.parent / "shared" / "data" / "train"
    loop.add_argument("--content", default=str(data / "content_hr"), help="content folder or Hub id")
    loop.add_argument("--style", default=str(data / "style_peopleart"), help="style folder (style sub-folders)")
    loop.add_argument("--size", type=int, default=64, help="crop side for the whole-loop runs (default 64)")
    loop.add_argument("--data-size", type=int, default=256, help="crop side for the data path (default 256)")
    loop.add_argument("--data-batches", type=int, default=20, help="timed batches a round, data path")
    loop.add_argument("--decode-threads", type=int, default=2)
    loop.add_argument("--rounds", type=int, default=2, help="alternating rounds of old and new")
    loop.add_argument("--gpu-log", type=Path, default=None, help="a GPU run's throughput.json (or its log)")
    loop.add_argument("--skip-data", action="store_true", help="time the whole loop only")
    loop.add_argument("--skip-loop", action="store_true", help="time the data path only")
    prec = parser.add_argument_group("--compare precision")
    prec.add_argument("--sizes", type=int, nargs="+", default=[128, 256], help="square crop sizes")
    prec.add_argument("--max-step-seconds", type=float, default=60.0,
                      help="time no further steps of a variant whose warm-up step took longer")
    fastg = parser.add_argument_group("--compare fast")
    fastg.add_argument("--architectures", nargs="+", choices=("lite", "vgg19"), default=["lite", "vgg19"])
    fastg.add_argument("--refresh", type=float, default=0.25, help="share of a batch renewed per step")
    fastg.add_argument("--compile", action="store_true", help="add the fast loop under torch.compile")
    parser.add_argument("--steps", type=int, default=None,
                        help="timed steps per variant (default: 3 for precision, 4 for loops)")
    args = parser.parse_args()
    if args.gpu_log and not args.gpu_log.is_file():
        parser.error(f"--gpu-log {args.gpu_log}: no such file")
    if args.compare == "precision":
        args.steps = args.steps or 3
        precision(args)
    elif args.compare == "fast":
        args.steps = args.steps or 5
        fast(args)
    else:
        args.steps = args.steps or 4
        loops(args)


if __name__ == "__main__":
    main()
