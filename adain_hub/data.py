"""Training data: image streams from the Hub or local folders through ``datasets``, decoded robustly.

Streams are read undecoded (``Image(decode=False)``) and every image is opened here, inside
try/except, because one truncated JPEG inside ``datasets``' own decoder ends the whole stream.
"""

from __future__ import annotations

import queue
import random
import re
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from datasets import ClassLabel, Image as ImageFeature, IterableDataset, load_dataset
from datasets.distributed import split_dataset_by_node
from PIL import Image
from torch import Tensor
from torch.utils.data import IterableDataset as TorchIterableDataset

from .images import ImageError, image_mode, load_image, one_line, to_tensor
from .threads import threaded_map

GRAYSCALE_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})


def open_stream(
    source: str,
    image_column: str = "image",
    split: str = "train",
    streaming: bool = True,
) -> IterableDataset:
    """A Hub dataset id or a local folder (read as ``imagefolder``, sub-folder names as ``label``)
    as an undecoded stream of examples.

    A folder's files all belong to ``split``: left to itself, ``datasets`` infers splits from file
    names, and on ``../shared/data`` it kept only the files with "train" in their names (1 of
    ``train/content``'s 1,500 photos, 2 of ``style_peopleart``'s 2,217 paintings), though copies of
    the same folders elsewhere read whole. A folder with a ``split`` sub-folder (``train/``,
    ``test/``) is read from that sub-folder."""
    folder = Path(source).expanduser()
    if folder.is_dir() and (folder / split).is_dir():
        folder = folder / split
    try:
        if folder.is_dir():
            ds = load_dataset("imagefolder", data_dir=str(folder), data_files={split: "**"}, split=split,
                              streaming=streaming)
        else:
            ds = load_dataset(source, split=split, streaming=streaming)
    except (FileNotFoundError, ConnectionError, ValueError) as exc:
        if folder.is_dir():
            raise ValueError(f"{source}: no images in this folder that datasets' imagefolder can read") from None
        raise ValueError(f"{source}: not a local folder, and not a dataset reachable on the Hub ({exc})") from None
    if image_column not in ds.features:
        raise ValueError(f"{source}: no column {image_column!r}; columns are {list(ds.features)}")
    ds = ds.cast_column(image_column, ImageFeature(decode=False))
    if not isinstance(ds, IterableDataset):
        ds = ds.to_iterable_dataset()
    if folder.is_dir() and next(iter(ds), None) is None:  # explicit data_files make an empty split, not an error
        raise ValueError(f"{source}: no images in this folder that datasets' imagefolder can read")
    return ds


class BalancedStream:
    """An endless stream that draws each value of ``label_column`` equally often, reading its
    source once.

    Each label keeps a pool of its ``pool_size`` most recent examples (random replacement when
    full); every output reads one new example into its pool, then picks a label uniformly among
    those seen and an example from that label's pool. Rare labels are oversampled by drawing from
    their pool again, common ones stay fresh, and the source is read once per output: filtering one
    stream per label would read the whole dataset once per label (27 times for WikiArt's styles).
    Labels that never occur are never drawn. Undecoded examples: a pool costs only file bytes.
    """

    def __init__(self, source: IterableDataset, label_column: str, seed: int, pool_size: int = 16) -> None:
        feature = label_feature(source, label_column)
        self.source, self.label_column, self.seed, self.pool_size = source, label_column, seed, pool_size
        self.num_classes = feature.num_classes
        self.features = source.features

    def __iter__(self) -> Iterator[dict]:
        rng = random.Random(self.seed)
        pools: list[list[dict]] = [[] for _ in range(self.num_classes)]
        examples = iter(self.source.repeat(None))

        def read_one() -> None:
            example = next(examples)
            pool = pools[example[self.label_column]]
            if len(pool) < self.pool_size:
                pool.append(example)
            else:
                pool[rng.randrange(self.pool_size)] = example

        for _ in range(50 * self.num_classes):  # warm up until every label has been met, within reason
            if all(pools):
                break
            read_one()
        while True:
            read_one()
            label = rng.choice([k for k, pool in enumerate(pools) if pool])
            yield rng.choice(pools[label])


def label_feature(ds: IterableDataset, column: str) -> ClassLabel:
    """The class-label feature styles are balanced by; ``ValueError`` if ``column`` is not one."""
    feature = ds.features.get(column) if ds.features else None
    if not isinstance(feature, ClassLabel):
        raise ValueError(f"cannot balance by {column!r}: it must be a class-label column "
                         f"(columns: {list(ds.features or {})})")
    return feature


def process_share(
    source: str | IterableDataset, *, seed: int, rank: int, world_size: int, image_column: str, shuffle_buffer: int
) -> IterableDataset:
    """This process's share of ``source`` (a Hub id, a folder, or a stream :func:`open_stream`
    opened), shuffled. Processes split the source itself, so within a pass no two train on the
    same image."""
    ds = open_stream(source, image_column) if isinstance(source, str) else source
    ds = ds.shuffle(seed=seed, buffer_size=shuffle_buffer)
    return split_dataset_by_node(ds, rank=rank, world_size=world_size) if world_size > 1 else ds


def training_stream(
    source: str | IterableDataset,
    *,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    image_column: str = "image",
    balance_by: str | None = None,
    shuffle_buffer: int = 1000,
) -> Iterable[dict]:
    """The endless, shuffled, optionally label-balanced stream one process trains on
    (:func:`process_share`)."""
    ds = process_share(source, seed=seed, rank=rank, world_size=world_size, image_column=image_column,
                       shuffle_buffer=shuffle_buffer)
    return BalancedStream(ds, balance_by, seed + 104_729 * rank) if balance_by else ds.repeat(None)


@dataclass
class CropSpec:
    """How a training image becomes crops: shorter side brought down to ``resize`` (never up),
    random ``crop`` squares. An image whose shorter side is under ``crop`` is upscaled to it only
    within ``max_upscale`` (1: never) and refused otherwise, so a 224 px painting is never silently
    blown up to fill a 256 px crop."""

    resize: int = 512
    crop: int = 256
    min_side: int = 64
    skip_grayscale: bool = True
    max_upscale: float = 1.0


def fit_scale(width: int, height: int, spec: CropSpec) -> float:
    """The factor that brings a ``width`` x ``height`` image to training size under ``spec``;
    :class:`ImageError` (reason "smaller than the crop") if that would upscale beyond ``max_upscale``."""
    short = min(width, height)
    scale = max(min(short, spec.resize), spec.crop) / short
    if scale > spec.max_upscale * (1 + 1e-9):
        raise ImageError(f"smaller than the crop ({width}x{height}, a {spec.crop} px crop would upscale it "
                         f"{scale:.2f}x, more than --max-upscale {spec.max_upscale:g})")
    return scale


def decode_image(value: dict | Image.Image, spec: CropSpec) -> Image.Image:
    """One undecoded ``datasets`` image -> an RGB image at training size (:func:`fit_scale`);
    :class:`ImageError` if unusable. The one place training decides what a usable image is."""
    if isinstance(value, dict):
        src = value.get("bytes") or value.get("path")
        if src is None:
            raise ImageError("example has neither bytes nor path")
        mode = image_mode(src)
    else:
        src, mode = value, value.mode
    if spec.skip_grayscale and mode in GRAYSCALE_MODES:
        raise ImageError("grayscale image, left out by --skip-grayscale")
    img = load_image(src, min_side=spec.min_side)
    w, h = img.size
    scale = fit_scale(w, h, spec)
    if scale == 1.0:
        return img
    size = (max(spec.crop, round(w * scale)), max(spec.crop, round(h * scale)))
    return img.resize(size, Image.Resampling.BILINEAR)


def decode_example(value: dict | Image.Image, spec: CropSpec, rng: random.Random) -> Tensor:
    """One undecoded ``datasets`` image -> ``(3, crop, crop)`` tensor; :class:`ImageError` if unusable."""
    img = decode_image(value, spec)
    left = rng.randint(0, img.width - spec.crop)
    top = rng.randint(0, img.height - spec.crop)
    return to_tensor(img.crop((left, top, left + spec.crop, top + spec.crop)))[0]


# what an unusable training image raises (PIL's plugins raise OSError and ValueError on garbled data)
REFUSED = (ImageError, OSError, ValueError, Image.DecompressionBombError)


def refusal_reason(exc: Exception) -> str:
    """A short reason for a refused image, the same for every file refused for it ("too small",
    not "too small (50x40 ...)"), for counting."""
    reason = str(exc).split(": ")[-1] if isinstance(exc, ImageError) else type(exc).__name__
    return re.sub(r"\s*\(.*\)$", "", reason)


class DecodedCrops(TorchIterableDataset):
    """Yields ``(crop, skipped, name)``: a training crop, how many bad images were skipped before
    it, and the image's file name (empty when the source has none), for auditing data sharding.

    Decoding runs in ``threads`` threads of this process (PIL releases the GIL while decoding and
    resizing). DataLoader worker processes would not help: ``datasets`` hands a one-shard stream
    to a single worker and stops the others. The streams repeat forever, so a source whose images
    are all unusable would never yield: once ``min_skips`` images in a row were refused and the run
    of refusals has come round to a file it already refused (every image of the source was tried),
    or after ``max_skips_in_a_row`` for sources without file paths, it raises ``ValueError`` saying
    why. A long run of bad files sorted together (a folder of grayscale photos) is not enough.
    """

    def __init__(
        self,
        stream: Iterable[dict],
        spec: CropSpec,
        seed: int,
        image_column: str = "image",
        threads: int = 0,
        source: str = "dataset",
        min_skips: int = 200,
        max_skips_in_a_row: int = 20_000,
    ) -> None:
        self.stream, self.spec, self.seed, self.image_column = stream, spec, seed, image_column
        self.threads, self.source = threads, source
        self.min_skips, self.max_skips_in_a_row = min_skips, max_skips_in_a_row

    def _decode(self, example: dict, seed: int) -> tuple[Tensor | None, str, str]:
        """``(crop or None, file path or "", why it was refused or "")``."""
        value = example[self.image_column]
        name = (value.get("path") or "") if isinstance(value, dict) else ""
        try:
            return decode_example(value, self.spec, random.Random(seed)), name, ""
        except REFUSED as exc:
            return None, name, refusal_reason(exc)

    def __iter__(self):
        rng = random.Random(self.seed)
        examples = ((ex, rng.getrandbits(32)) for ex in self.stream)
        results = (threaded_map(self._decode, examples, self.threads) if self.threads > 0
                   else (self._decode(*job) for job in examples))
        skipped, cycled = 0, False
        reasons: Counter[str] = Counter()
        refused: set[str] = set()  # paths refused since the last good image
        for crop, path, reason in results:
            if crop is None:
                skipped += 1
                reasons[reason] += 1
                cycled = cycled or path in refused
                if path:
                    refused.add(path)
                if skipped >= self.min_skips and (cycled or skipped >= self.max_skips_in_a_row):
                    why = "; ".join(f"{r} ({n})" for r, n in reasons.most_common(3))
                    raise ValueError(f"{self.source}: no usable image in the last {skipped} read: {why}")
                continue
            yield crop, skipped, Path(path).name
            skipped, cycled = 0, False
            reasons.clear()
            refused.clear()



def crop_loader(
    source: str | IterableDataset,
    spec: CropSpec,
    batch_size: int,
    *,
    seed: int,
    rank: int = 0,
    world_size: int = 1,
    balance_by: str | None = None,
    image_column: str = "image",
    threads: int = 0,
    name: str | None = None,
) -> torch.utils.data.DataLoader:
    """An endless DataLoader of ``(images (B, 3, crop, crop), skipped (B,), names)`` batches;
    ``source`` as for :func:`training_stream`, ``name`` what error messages call it."""
    stream = training_stream(
        source, seed=seed, rank=rank, world_size=world_size, image_column=image_column, balance_by=balance_by
    )
    return torch.utils.data.DataLoader(
        DecodedCrops(stream, spec, seed=seed + 7919 * rank, image_column=image_column, threads=threads,
                     source=name or (source if isinstance(source, str) else "dataset")),
        batch_size=batch_size,
    )


# -- decode once: an in-memory pool of images on the training device ----------------------------
def to_uint8(img: Image.Image) -> Tensor:
    """RGB image -> contiguous ``(3, H, W)`` uint8 tensor (a quarter of float32's memory)."""
    return torch.from_numpy(np.array(img.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1).contiguous()


def random_crops(images: list[Tensor], crop: int, rng: random.Random) -> Tensor:
    """Random ``crop`` squares, each flipped left-right with probability 1/2, of ``(3, H, W)``
    uint8 images (on any device) -> ``(N, 3, crop, crop)`` uint8 on their device.

    Offsets and flips are drawn on the host, so cutting a batch never waits for the device."""
    out = []
    for img in images:
        h, w = img.shape[-2:]
        top, left = rng.randint(0, h - crop), rng.randint(0, w - crop)
        view = img[:, top:top + crop, left:left + crop]
        out.append(view.flip(-1) if rng.random() < 0.5 else view)
    return torch.stack(out)


@dataclass
class PoolSummary:
    """What a pool was filled with, for the log: images kept, labels balanced over (0: not balanced),
    refusals by reason, whether the whole source fitted (then it is never refreshed) and the memory
    the images take."""

    name: str
    images: int
    labels: int
    fits_whole: bool
    megabytes: float
    refused: dict[str, int]
    feed_error: str = ""


class ImagePool:
    """Training images decoded once and kept on the training device as uint8 ``(3, H, W)``
    tensors, at training size (:func:`decode_image`); batches of random crops and flips are cut
    there. The last GPU run decoded every JPEG again for every crop on the host and made ~13 steps/s.

    The pool reads one pass of ``source`` (an undecoded stream, e.g. from :func:`open_stream`),
    decoding in ``threads`` threads, until it holds ``capacity`` images. A source that fits is kept
    whole and never read again; a larger one (a Hub dataset, streamed) goes on being read in a
    background thread (``set_epoch`` reshuffles each pass), and :meth:`refresh` swaps the images
    decoded since into the pool in place of random ones. With ``label_column``, :meth:`sample`
    draws a label uniformly among those in the pool, then an image of that label, and a refresh
    evicts from the best-stocked label, so rare styles stay in. A source with no usable image
    raises ``ValueError`` saying why, once a whole pass (or ``max_skips`` images) gave none.
    """

    def __init__(
        self,
        source: Iterable[dict],
        spec: CropSpec,
        *,
        capacity: int,
        seed: int,
        device: torch.device | str = "cpu",
        image_column: str = "image",
        label_column: str | None = None,
        threads: int = 4,
        name: str = "dataset",
        max_skips: int = 20_000,
        backlog: int = 256,
    ) -> None:
        if capacity <= 0:
            raise ValueError(f"pool capacity must be positive, got {capacity}")
        self.spec, self.capacity, self.device = spec, capacity, torch.device(device)
        self.image_column, self.label_column, self.name = image_column, label_column, name
        self.rng = random.Random(seed)
        self.images: list[Tensor] = []
        self.names: list[str] = []
        self.labels: list[int] = []
        self.by_label: dict[int, list[int]] = {}
        self.refused: Counter[str] = Counter()
        self.read = 0
        self.feed_error = ""  # why the background reading stopped early, if it did
        self._lock = threading.Lock()  # guards ``refused``, which the background thread adds to
        self._stop = threading.Event()
        self._ready: queue.Queue = queue.Queue(maxsize=backlog)
        self._thread: threading.Thread | None = None
        results = threaded_map(self._decode, self._passes(source, seed), max(1, threads), f"decode-{name}")
        self.fits_whole = self._fill(results, max_skips)
        if self.fits_whole:
            results.close()
        else:
            self._thread = threading.Thread(target=self._feed, args=(results,), daemon=True, name=f"pool-{name}")
            self._thread.start()

    # -- reading ------------------------------------------------------------------------------
    @staticmethod
    def _passes(source: Iterable[dict], seed: int) -> Iterator[tuple[int, dict]]:
        """``(pass number, example)`` over endless passes of ``source``; ends if a pass is empty."""
        rng = random.Random(seed)
        epoch = 0
        while True:
            if hasattr(source, "set_epoch"):
                source.set_epoch(epoch)
            order = source
            if isinstance(source, list):  # plain lists (tests, callers) get a fresh order each pass
                order = source[:]
                rng.shuffle(order)
            empty = True
            for example in order:
                empty = False
                yield epoch, example
            if empty:
                return
            epoch += 1

    def _decode(self, epoch: int, example: dict) -> tuple[int, Tensor | None, str, int, str]:
        """``(pass, uint8 image or None, file name, label, why refused or "")``; runs in a thread."""
        value = example[self.image_column]
        path = (value.get("path") or "") if isinstance(value, dict) else ""
        label = int(example[self.label_column]) if self.label_column else 0
        try:
            return epoch, to_uint8(decode_image(value, self.spec)), Path(path).name, label, ""
        except REFUSED as exc:
            return epoch, None, Path(path).name, label, refusal_reason(exc)

    def _fill(self, results: Iterator, max_skips: int) -> bool:
        """Read the first pass into the pool; True if it ended before the pool was full."""
        for epoch, image, path, label, reason in results:
            if epoch > 0:
                if not self.images:
                    self._fail(f"no usable image in the last {self.read} read")
                return True
            self.read += 1
            if image is None:
                self.refused[reason] += 1
                if not self.images and self.read >= max_skips:
                    self._fail(f"no usable image in the last {self.read} read")
                continue
            self._add(image, path, label)
            if len(self.images) >= self.capacity:
                return False
        if not self.images:  # an empty source
            self._fail("no images")
        return True

    def _fail(self, what: str) -> None:
        why = "; ".join(f"{r} ({n})" for r, n in self.refused.most_common(3))
        raise ValueError(f"{self.name}: {what}" + (f": {why}" if why else ""))

    def _feed(self, results: Iterator) -> None:
        """Background thread: go on decoding the stream into ``_ready`` until :meth:`close`."""
        try:
            for _, image, path, label, reason in results:
                if image is None:
                    with self._lock:
                        self.refused[reason] += 1
                    continue
                while not self._stop.is_set():
                    try:
                        self._ready.put((image, path, label), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if self._stop.is_set():
                    return
        except Exception as exc:  # a stream that breaks (network, a bad shard): train on with the pool
            self.feed_error = one_line(exc)
        finally:
            results.close()

    # -- the pool -----------------------------------------------------------------------------
    def _add(self, image: Tensor, name: str, label: int, index: int | None = None) -> None:
        image = image.to(self.device)
        if index is None:
            index = len(self.images)
            self.images.append(image)
            self.names.append(name)
            self.labels.append(label)
        else:
            old = self.by_label[self.labels[index]]
            old.remove(index)
            if not old:
                del self.by_label[self.labels[index]]
            self.images[index], self.names[index], self.labels[index] = image, name, label
        self.by_label.setdefault(label, []).append(index)

    def _victim(self, label: int) -> int:
        """The pool slot a new image of ``label`` replaces: a random image of the best-stocked
        label, unless the new one's own label is already that well stocked."""
        largest = max(len(v) for v in self.by_label.values())
        own = self.by_label.get(label, [])
        group = own if len(own) >= largest else max(self.by_label.values(), key=len)
        return self.rng.choice(group)

    def refresh(self, max_images: int) -> int:
        """Swap up to ``max_images`` images decoded since the last call into the pool (never
        waits for decoding); returns how many. A pool holding its whole source has none."""
        swapped = 0
        while swapped < max_images:
            try:
                image, name, label = self._ready.get_nowait()
            except queue.Empty:
                break
            self._add(image, name, label, index=self._victim(label))
            self.read += 1
            swapped += 1
        return swapped

    def sample(self, n: int) -> tuple[Tensor, list[str]]:
        """``n`` random crops ``(n, 3, crop, crop)`` as uint8 on the pool's device, randomly
        flipped, and the names of the images they came from."""
        if self.label_column:
            labels = list(self.by_label)
            picks = [self.rng.choice(self.by_label[self.rng.choice(labels)]) for _ in range(n)]
        else:
            picks = [self.rng.randrange(len(self.images)) for _ in range(n)]
        crops = random_crops([self.images[i] for i in picks], self.spec.crop, self.rng)
        return crops, [self.names[i] for i in picks]

    @property
    def skipped(self) -> int:
        """Images refused so far (the first pass and the background reading together)."""
        with self._lock:
            return sum(self.refused.values())

    def summary(self) -> PoolSummary:
        with self._lock:
            refused = dict(self.refused)
        return PoolSummary(
            name=self.name, images=len(self.images), labels=len(self.by_label) if self.label_column else 0,
            fits_whole=self.fits_whole,
            megabytes=round(sum(t.numel() for t in self.images) / 1e6, 1), refused=refused,
            feed_error=self.feed_error,
        )

    def close(self) -> None:
        """Stop the background reading (if any); the pool stays usable."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None


def image_pool(
    source: str | IterableDataset,
    spec: CropSpec,
    *,
    capacity: int,
    seed: int,
    device: torch.device | str = "cpu",
    rank: int = 0,
    world_size: int = 1,
    balance_by: str | None = None,
    image_column: str = "image",
    threads: int = 4,
    name: str | None = None,
    shuffle_buffer: int = 1000,
) -> ImagePool:
    """An :class:`ImagePool` of this process's share of ``source`` (a Hub id, a folder, or a stream
    :func:`open_stream` opened), shuffled; ``balance_by`` must be a class-label column."""
    ds = process_share(source, seed=seed, rank=rank, world_size=world_size, image_column=image_column,
                       shuffle_buffer=shuffle_buffer)
    if balance_by:
        label_feature(ds, balance_by)
    return ImagePool(ds, spec, capacity=capacity, seed=seed + 7919 * rank, device=device, image_column=image_column,
                     label_column=balance_by, threads=threads,
                     name=name or (source if isinstance(source, str) else "dataset"))
