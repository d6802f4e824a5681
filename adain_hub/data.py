"""Training data: image streams from the Hub or local folders through ``datasets``, decoded robustly.

Streams are read undecoded (``Image(decode=False)``) and every image is opened here, inside
try/except, because one truncated JPEG inside ``datasets``' own decoder ends the whole stream.
"""

from __future__ import annotations

import random
import re
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import torch
from datasets import ClassLabel, Image as ImageFeature, IterableDataset, load_dataset
from datasets.distributed import split_dataset_by_node
from PIL import Image
from torch import Tensor
from torch.utils.data import IterableDataset as TorchIterableDataset

from .images import ImageError, image_mode, load_image, to_tensor

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
    names, and a folder holding ``bullet_train.jpg`` then has a train split of that one image (and
    the rest in no split) -- which is how ``train/content`` read as one photo of 1,500. A folder
    with a ``split`` sub-folder (``train/``, ``test/``) is read from that sub-folder."""
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
        feature = source.features.get(label_column) if source.features else None
        if not isinstance(feature, ClassLabel):
            raise ValueError(
                f"cannot balance by {label_column!r}: it must be a class-label column "
                f"(columns: {list(source.features or {})})"
            )
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
    """The endless, shuffled, optionally label-balanced stream one process trains on. Processes
    split the source itself, so within a pass no two train on the same image. ``source`` is a Hub
    id or folder, or a stream :func:`open_stream` already opened."""
    ds = open_stream(source, image_column) if isinstance(source, str) else source
    ds = ds.shuffle(seed=seed, buffer_size=shuffle_buffer)
    if world_size > 1:
        ds = split_dataset_by_node(ds, rank=rank, world_size=world_size)
    return BalancedStream(ds, balance_by, seed + 104_729 * rank) if balance_by else ds.repeat(None)


@dataclass
class CropSpec:
    """How a training image becomes a tensor: shorter side resized to ``resize``, random ``crop``."""

    resize: int = 512
    crop: int = 256
    min_side: int = 64
    skip_grayscale: bool = True


def decode_example(value: dict | Image.Image, spec: CropSpec, rng: random.Random) -> Tensor:
    """One undecoded ``datasets`` image -> ``(3, crop, crop)`` tensor; :class:`ImageError` if unusable."""
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
    scale = max(spec.resize, spec.crop) / min(w, h)
    img = img.resize((max(spec.crop, round(w * scale)), max(spec.crop, round(h * scale))), Image.Resampling.BILINEAR)
    left = rng.randint(0, img.width - spec.crop)
    top = rng.randint(0, img.height - spec.crop)
    return to_tensor(img.crop((left, top, left + spec.crop, top + spec.crop)))[0]


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
        except (ImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
            reason = str(exc).split(": ")[-1] if isinstance(exc, ImageError) else type(exc).__name__
            reason = re.sub(r"\s*\(.*\)$", "", reason)  # "too small (50x40, ...)" counts as one reason
            return None, name, reason

    def __iter__(self):
        rng = random.Random(self.seed)
        examples = ((ex, rng.getrandbits(32)) for ex in self.stream)
        results = self._threaded(examples) if self.threads > 0 else (self._decode(*job) for job in examples)
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

    def _threaded(self, examples: Iterator[tuple[dict, int]]) -> Iterator[tuple[Tensor | None, str, str]]:
        """Decoded crops in stream order, with up to ``4 * threads`` images in flight."""
        pool = ThreadPoolExecutor(self.threads)
        pending: deque[Future] = deque()
        try:
            for job in examples:
                pending.append(pool.submit(self._decode, *job))
                if len(pending) >= 4 * self.threads:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)


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
