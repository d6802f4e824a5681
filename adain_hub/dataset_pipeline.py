"""The pipeline that stylizes a dataset's inputs: threads decode and resize (PIL releases the GIL),
images of one size go through :meth:`~adain_hub.Stylizer.stylize_batch` together (an image with
several versions is decoded once; eager backends encode it once, OpenVINO's fused graph once per version), threads encode and write the results while the network runs the
next batch. What each input becomes is decided from its header before it is decoded
(:mod:`~adain_hub.input_plan`, the stylizer's memory budget): refused inputs are never decoded, photos
over the budget go through :meth:`~adain_hub.Stylizer.stylize` alone, in tiles, and the decoding
read-ahead holds at most half the budget. Queues are bounded, so memory is too.
"""

from __future__ import annotations

import io
import random
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable

import numpy as np
import torch
from PIL import Image

from .dataset_sources import Geometry, Item, load_pixels, plan_item
from .images import ImageError, one_line
from .input_plan import InputPlan
from .png import encode_png
from .style_bank import StyleBank
from .stylizer import Stylizer
from .threads import threaded_map

FORMATS = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}

Write = Callable[[Item, int, bytes], None]


def assign(seed: int, rel: str, k: int, n_styles: int, alpha: tuple[float, float]) -> tuple[int, float]:
    """The style (an index into the bank) and alpha of version ``k`` of the input at ``rel``: a pure
    function of its arguments (string seeds hash the same in every process), so neither the order,
    the batch nor the process changes it. An alpha drawn from ``(lo, hi)`` is rounded to 4 places."""
    rng = random.Random(f"{seed}\0{rel}\0{k}")
    style = rng.randrange(n_styles)
    lo, hi = alpha
    return style, lo if lo == hi else round(rng.uniform(lo, hi), 4)


class Pipeline:
    """Stylize ``(item, versions)`` jobs and hand each encoded output to a ``write`` callable (run on
    the writing threads).

    Args:
        stylizer, bank: the network and the styles drawn from.
        geometry: the size inputs are stylized at.
        seed, alpha: what :func:`assign` draws from.
        fmt, quality: ``png``, ``jpg`` or ``webp``; quality for the last two.
        batch_size: outputs a pass through the network (fewer when the memory budget says so).
        threads: decoding threads, and as many writing threads.
    """

    def __init__(self, stylizer: Stylizer, bank: StyleBank, geometry: Geometry, seed: int,
                 alpha: tuple[float, float], fmt: str, quality: int, batch_size: int, threads: int) -> None:
        self.stylizer, self.bank, self.geometry = stylizer, bank, geometry
        self.seed, self.alpha, self.fmt, self.quality = seed, alpha, fmt, quality
        self.batch, self.threads = batch_size, threads
        self._bank_on_device: StyleBank | None = None  # for the tiled path, which transforms on the model's device
        self.budget = stylizer.budget()  # what an input may become (adain_hub.input_plan)

    def draw(self, item: Item, k: int) -> tuple[int, float]:
        return assign(self.seed, item.rel, k, len(self.bank), self.alpha)

    def run(self, todo: Iterable[tuple[Item, list[int]]], write: Write, refused: Callable[[Item, str], None],
            finished: Callable[[Item], None]) -> int:
        """Stylize and write every job; ``refused(item, reason)`` for an unusable input,
        ``finished(item)`` once all its outputs are written. Returns the outputs written; a write
        that fails ends the run (its exception)."""
        writers = ThreadPoolExecutor(self.threads, thread_name_prefix="write")
        pending: deque[tuple[Future, Item]] = deque()
        left: dict[int, int] = {}  # outputs still to write, by input
        buckets: dict[tuple[int, int], list[tuple[Item, list[int], np.ndarray]]] = {}  # decoded, by size
        written = 0

        def reap(block: bool) -> None:
            nonlocal written
            while pending and (block or pending[0][0].done()):
                fut, item = pending.popleft()
                fut.result()
                written += 1
                left[item.index] -= 1
                if not left[item.index]:
                    del left[item.index]
                    finished(item)

        def submit(item: Item, k: int, pixels: np.ndarray) -> None:
            pending.append((writers.submit(self._encode_and_write, write, item, k, pixels), item))
            while len(pending) > 2 * self.batch + 4 * self.threads:  # writing lags: wait for the oldest
                pending[0][0].result()
                reap(block=False)

        def flush(key: tuple[int, int]) -> None:
            group = buckets.pop(key)
            outputs = [(slot, k) for slot, (_, ks, _) in enumerate(group) for k in ks]
            step = self._outputs_per_pass(*key)
            for chunk in (outputs[i:i + step] for i in range(0, len(outputs), step)):
                for (s, k), pixels in zip(chunk, self._stylize_chunk(group, chunk)):
                    submit(group[s][0], k, pixels)
                reap(block=False)

        def planned() -> Iterable[tuple[Item, list[int], InputPlan | None, str]]:
            for item, ks in todo:  # headers only, in order: a refused input is never decoded
                try:
                    yield item, ks, plan_item(item, self.geometry, self.budget), ""
                except ImageError as exc:
                    yield item, ks, None, str(exc)

        try:
            for item, ks, pixels, reason in threaded_map(
                    self._decode, planned(), self.threads, depth=max(4 * self.threads, 2 * self.batch), wait=True,
                    weigh=lambda job: job[2].decode_megabytes if job[2] is not None else 0.0,
                    max_weight=self.stylizer.memory_budget / 2):
                if pixels is None:
                    refused(item, reason)
                    continue
                left[item.index] = len(ks)
                h, w = pixels.shape[:2]
                try:
                    net = self.stylizer.network_plan(w, h)  # the plan its header gave, at its output size
                    if net.reason:
                        raise ValueError(net.reason)
                    tiled = net.tile is not None  # over the memory budget: alone, in tiles
                    results = [self._stylize_tiled(item, k, pixels) for k in ks] if tiled else []
                except (ValueError, RuntimeError, MemoryError) as exc:  # the network failed on it, say
                    del left[item.index]
                    text = one_line(exc, 300)
                    refused(item, text if text.startswith("cannot stylize") else f"cannot stylize ({text})")
                    continue
                if tiled:
                    for k, result in zip(ks, results):
                        submit(item, k, result)
                    continue
                buckets.setdefault((h, w), []).append((item, ks, pixels))
                if sum(len(ks) for _, ks, _ in buckets[(h, w)]) >= self.batch:
                    flush((h, w))
                elif sum(len(g) for g in buckets.values()) > 4 * self.batch:  # many sizes: bound what is held
                    flush(max(buckets, key=lambda key: len(buckets[key])))
                reap(block=False)
            for key in list(buckets):
                flush(key)
            reap(block=True)
        finally:
            writers.shutdown(wait=True, cancel_futures=True)
        return written

    def _decode(self, item: Item, ks: list[int], plan: InputPlan | None,
                reason: str) -> tuple[Item, list[int], np.ndarray | None, str]:
        if plan is None:
            return item, ks, None, reason
        try:
            return item, ks, load_pixels(item, self.geometry, self.budget, plan), ""
        except ImageError as exc:
            return item, ks, None, str(exc)

    def _stylize_tiled(self, item: Item, k: int, pixels: np.ndarray) -> np.ndarray:
        if self._bank_on_device is None:
            self._bank_on_device = self.bank.to(next(self.stylizer.model.parameters()).device)
        style, alpha = self.draw(item, k)
        image = self.stylizer.stylize(Image.fromarray(pixels), self._bank_on_device[style], alpha=alpha, size=0)
        return np.asarray(image)

    def _stylize_chunk(self, group: list[tuple[Item, list[int], np.ndarray]], chunk: list[tuple[int, int]]) -> np.ndarray:
        """One pass: the images the ``(slot, version)`` outputs of ``chunk`` need, each decoded once (the backend decides how often it is encoded)."""
        slots = sorted({s for s, _ in chunk})
        where = {s: i for i, s in enumerate(slots)}
        styles, alphas = zip(*(self.draw(group[s][0], k) for s, k in chunk))
        images = torch.from_numpy(np.stack([group[s][2] for s in slots])).permute(0, 3, 1, 2).float().div_(255)
        idx = torch.tensor(styles)
        result = self.stylizer.stylize_batch(images, self.bank.mean[idx], self.bank.std[idx], torch.tensor(alphas),
                                             torch.tensor([where[s] for s, _ in chunk]))
        return _to_uint8(result)

    def _outputs_per_pass(self, h: int, w: int) -> int:
        """Outputs of ``h x w`` one pass may hold: the batch size, within the memory budget (each at
        the size the network runs it, a strip's padding included)."""
        each = self.stylizer.network_plan(w, h, tiles=False).megabytes
        return max(1, min(self.batch, int(self.stylizer.memory_budget / max(each, 1e-6))))

    def _encode_and_write(self, write: Write, item: Item, k: int, pixels: np.ndarray) -> None:
        if self.fmt == "png":
            data = encode_png(pixels, threads=1)  # one image a thread: the threads are the parallelism
        else:
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, FORMATS[self.fmt], quality=self.quality)
            data = buf.getvalue()
        write(item, k, data)


def _to_uint8(images: torch.Tensor) -> np.ndarray:
    """``(M, 3, H, W)`` float in [0, 1] on any device -> ``(M, H, W, 3)`` uint8 on the host."""
    scaled = images.mul(255.0).add_(0.5).clamp_(0.0, 255.0).to(torch.uint8)
    return scaled.permute(0, 2, 3, 1).contiguous().cpu().numpy()
