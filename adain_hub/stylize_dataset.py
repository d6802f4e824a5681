"""Stylized copies of whole datasets: structure kept, deterministic, resumable, batched, and spread
over processes (``accelerate launch``, ``torchrun``: several CPUs, GPUs or machines).

``stylize_dataset(source, out, stylizer, bank, options)`` makes ``options.per_image`` versions of each
input of ``source`` (a folder walked recursively, or a ``datasets`` stream), each with a painting of
``bank`` and an alpha drawn from ``Random(f"{seed}\\0{relative path}\\0{k}")``: the same whatever the
order, the batch or the process. Outputs mirror the source's relative paths under ``out`` (or go
into parquet shards, ``to_dataset``); each is written under a temporary name and renamed, so a rerun
skips what is done and a killed run loses only the images in flight.

The pipeline: threads decode and resize (PIL releases the GIL), images of one size go through
:meth:`~adain_hub.Stylizer.stylize_batch` together (an image with several versions is read
once), threads encode and write the results. What an input becomes is decided from its header
before it is decoded (:mod:`~adain_hub.input_plan`, the same rule as ``adain stylize``'s): photos too
big for the memory budget go through :meth:`~adain_hub.Stylizer.stylize` alone, in tiles, and those
that fit no way are refused with the reason. Each process keeps a record of its inputs in flight
(:mod:`~adain_hub.in_flight`), so an input that killed the process twice is refused on the next run
instead of killing it again. Nothing here prints: refusals and progress go to callbacks, and the
call returns a :class:`DatasetSummary`.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Protocol

from .cores import available_cores
from .dataset_pipeline import FORMATS, Pipeline, assign
from .dataset_shards import class_label, shard_features, shard_sources, write_card, write_shard
from .dataset_sources import (
    Geometry,
    Item,
    class_names,
    contiguous_share,
    folder_items,
    is_folder_source,
    load_pixels,
    stream_items,
    under,
)
from .images import ImageError, write_atomic
from .in_flight import DIED_TWICE, RECORD_GLOB, InFlight, read_deaths, record_path
from .manifest import Row, check_job, merge_parts, part_path, write_part
from .style_bank import StyleBank
from .stylizer import Stylizer


@dataclass(frozen=True)
class DatasetOptions:
    """How a dataset is stylized (the ``adain stylize-dataset`` flags).

    ``alpha`` is ``(lo, hi)``: one value when equal, else drawn per output. ``center_crop`` C: the
    shorter side to C * 256 / 224, then the centre C x C (Stylized-ImageNet: 224); otherwise the
    longer side is capped at ``size`` (0: each photo at its own size). ``quality`` is for jpg and
    webp. ``to_dataset``: parquet shards of ``shard_size`` inputs under ``out/data/`` instead of
    files. ``use_datasets``: read a local folder with ``datasets``' imagefolder rather than walking
    it. ``threads``: decoding and writing threads (default: the cores, at least 2).
    """

    per_image: int = 1
    alpha: tuple[float, float] = (1.0, 1.0)
    center_crop: int | None = None
    size: int = 512
    format: str = "png"
    quality: int = 95
    seed: int = 0
    batch_size: int = 16
    to_dataset: bool = False
    shard_size: int = 1000
    use_datasets: bool = False
    image_column: str = "image"
    split: str = "train"
    threads: int | None = None

    def check(self) -> None:
        """``ValueError`` (one line) for settings that cannot work."""
        lo, hi = self.alpha
        if not (0.0 <= lo <= 1.0 and 0.0 <= hi <= 1.0):
            raise ValueError(f"alpha must be in [0, 1], got {lo:g} {hi:g}")
        if lo > hi:
            raise ValueError(f"alpha range {lo:g} {hi:g}: LO is above HI")
        if self.per_image < 1:
            raise ValueError(f"per-image must be at least 1, got {self.per_image}")
        if self.format not in FORMATS:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {self.format!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be in 1..100, got {self.quality}")
        if self.center_crop is not None and self.center_crop < 16:
            raise ValueError(f"center crop must be at least 16 px, got {self.center_crop}")
        if self.size != 0 and self.size < 16:
            raise ValueError(f"size must be 0 (each photo at its own size) or at least 16, got {self.size}")
        for name in ("batch_size", "shard_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name.replace('_', ' ')} must be at least 1, got {getattr(self, name)}")

    def settings(self) -> dict:
        """What the outputs depend on, for ``job.json`` (batching and threads do not count)."""
        keys = ["per_image", "alpha", "center_crop", "size", "format", "quality", "seed", "to_dataset",
                "image_column", "split"] + (["shard_size"] if self.to_dataset else [])
        settings = {k: getattr(self, k) for k in keys}
        if self.center_crop:  # the crop sets the size
            settings["size"] = None
        return json.loads(json.dumps(settings))


class Processes(Protocol):
    """What a run needs to know of its processes: ``accelerate.PartialState`` has it all."""

    process_index: int
    num_processes: int
    is_main_process: bool

    def wait_for_everyone(self) -> None: ...


class SingleProcess:
    process_index, num_processes, is_main_process = 0, 1, True

    def wait_for_everyone(self) -> None:
        pass


@dataclass
class DatasetSummary:
    """One process's run: inputs in its share and those stylized (or refused) now, outputs written now
    and found done, the inputs it refused (``(name, reason)``); on the main process also the merged
    manifest and its totals."""

    images: int = 0
    stylized: int = 0
    written: int = 0
    already_done: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    manifest: Path | None = None
    total_outputs: int | None = None
    total_refused: int | None = None


def stylize_dataset(
    source: str | os.PathLike,
    out: str | os.PathLike,
    stylizer: Stylizer,
    bank: StyleBank,
    options: DatasetOptions = DatasetOptions(),
    *,
    model_id: str = "",
    processes: Processes | None = None,
    progress: Callable[[int, int | None], None] | None = None,
    on_refused: Callable[[str, str], None] | None = None,
) -> DatasetSummary:
    """Stylize this process's share of ``source`` into ``out`` (see the module docstring), write its
    manifest part, and on the main process merge the parts into ``out/manifest.csv`` once every
    process is done. ``model_id`` is what the manifest calls the model. ``progress(done, total)``
    counts inputs finished in this run (``total`` is ``None`` for streams); ``on_refused(name,
    reason)`` is called for each unusable input. Raises ``ValueError`` (one line) for an unusable
    source or an ``out`` folder holding another job's outputs."""
    options.check()
    if bank.channels != stylizer.model.config.feature_channels:
        raise ValueError(f"the style bank has {bank.channels} channels and the model {stylizer.model.config.feature_channels}")
    job = _Job(str(source), Path(out), stylizer, bank, options, model_id, progress, on_refused)
    return job.run(processes or SingleProcess())


class _Job:
    def __init__(self, source: str, out: Path, stylizer: Stylizer, bank: StyleBank, options: DatasetOptions,
                 model_id: str, progress, on_refused) -> None:
        self.source_text, self.source = source, Path(source).expanduser()
        self.out, self.stylizer, self.bank, self.o = out, stylizer, bank, options
        self.model_id, self.fingerprint = model_id, stylizer.model.fingerprint()
        self.progress, self.on_refused = progress, on_refused
        self.geometry = Geometry(options.center_crop, options.size)
        self.pipeline = Pipeline(stylizer, bank, self.geometry, options.seed, options.alpha, options.format,
                                 options.quality, options.batch_size, options.threads or max(2, available_cores()))
        self.summary = DatasetSummary()
        self.refused: dict[int, str] = {}  # item index -> reason
        self.done_now = 0
        self.lock = threading.Lock()
        self.folders: set[Path] = set()
        self.record: InFlight | None = None

    # -- the run ------------------------------------------------------------------------------
    def run(self, processes: Processes) -> DatasetSummary:
        start = time.perf_counter()
        rank, world = processes.process_index, processes.num_processes
        folder_source = is_folder_source(self.source, self.o.use_datasets)
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"{self.out}: OUT must be a folder, and this is a file")
        if folder_source and under(self.source, self.out):
            raise ValueError(f"{self.out}: OUT cannot be SRC or hold it")
        if not folder_source and self.source.is_dir() and under(self.out, self.source):
            raise ValueError(f"{self.out}: with --datasets, OUT cannot lie inside SRC (imagefolder would read it)")
        if folder_source:  # the source is read before OUT is made: a bad one leaves nothing behind
            items = folder_items(self.source, self.out, self.o.per_image, self.o.format)
            if not items:
                raise ValueError(f"{self.source}: no files in this folder")
        else:
            from .data import open_stream

            ds = open_stream(self.source_text, self.o.image_column, self.o.split)
        self.out.mkdir(parents=True, exist_ok=True)
        check_job(self.out, {**self.o.settings(), "model_fingerprint": self.fingerprint,
                             "styles": _bank_identity(self.bank)}, write=processes.is_main_process)
        if self.o.to_dataset and processes.is_main_process:
            write_card(self.out, self.o.split)
        deaths = read_deaths(self.out)  # every process reads every record before any is rewritten
        processes.wait_for_everyone()
        if processes.is_main_process:  # records of processes this run does not have: read above
            for stale in self.out.glob(RECORD_GLOB):
                if stale != record_path(self.out, rank) and int(stale.name.split("-")[-1].split(".")[0]) >= world:
                    stale.unlink(missing_ok=True)
        self.record = InFlight(self.out, rank, deaths)
        try:
            rows = self._folder(items, rank, world) if folder_source else self._stream(ds, rank, world)
        finally:
            self.record.close()  # ended, even by an exception: nothing was in flight at a death
        write_part(self.out, rank, world, rows)
        processes.wait_for_everyone()
        if processes.is_main_process:
            manifest, merged = merge_parts(self.out, world)
            self.summary.manifest = manifest
            self.summary.total_outputs = sum(1 for r in merged if not r.reason)
            self.summary.total_refused = sum(1 for r in merged if r.reason)
        processes.wait_for_everyone()
        part_path(self.out, rank, world).unlink(missing_ok=True)
        self.summary.stylized = self.done_now
        self.summary.seconds = time.perf_counter() - start
        return self.summary

    def _folder(self, items: list[Item], rank: int, world: int) -> list[Row]:
        """A folder's inputs: this process's contiguous share of the sorted files (or of the shards)."""
        if not self.o.to_dataset:
            return self._to_files([items[i] for i in contiguous_share(len(items), rank, world)], None)
        classes = class_names([item.rel for item in items])
        extra = {"label": class_label(classes)} if classes else {}
        size = self.o.shard_size
        shards = [items[i:i + size] for i in range(0, len(items), size)]
        mine = [(j, shards[j]) for j in contiguous_share(len(shards), rank, world)]
        return self._to_shards(mine, extra, "image")

    def _stream(self, ds, rank: int, world: int) -> list[Row]:
        """A ``datasets`` stream's examples (:func:`~adain_hub.data.open_stream`): every process reads
        them all (so that all agree on the names) and takes blocks of ``shard_size`` in turn."""
        stream = stream_items(ds, self.source_text, self.o.image_column, self.o.per_image, self.o.format)
        size = self.o.shard_size
        if not self.o.to_dataset:
            return self._to_files((item for item in stream if (item.index // size) % world == rank), None)
        extra = {k: v for k, v in (ds.features or {}).items() if k != self.o.image_column}
        return self._to_shards(((j, b) for j, b in _blocks(stream, size) if j % world == rank), extra,
                               self.o.image_column)

    def _rows(self, item: Item, output: Callable[[int], str] | None = None) -> list[Row]:
        """The manifest rows of an input: one per output, or one saying why it was refused."""
        if item.index in self.refused:
            return [Row(item.rel, model=self.model_id, model_fingerprint=self.fingerprint,
                        reason=self.refused[item.index])]
        rows = []
        for k, name in enumerate(item.names):
            style, alpha = assign(self.o.seed, item.rel, k, len(self.bank), self.o.alpha)
            rows.append(Row(item.rel, output(k) if output else name, k, self.bank.names[style], alpha,
                            self.model_id, self.fingerprint))
        return rows

    def _refuse(self, item: Item, reason: str) -> None:
        self.refused[item.index] = reason
        self.summary.refused.append((item.shown, reason))
        if self.on_refused:
            self.on_refused(item.shown, reason)

    # -- files --------------------------------------------------------------------------------
    def _to_files(self, items: Iterable[Item], total: int | None) -> list[Row]:
        """Write each output of ``items`` that is not there yet; the rows of all of them. A list is
        checked whole first, so that ``progress`` knows how many inputs are left to do."""
        share: list[Item] = []
        folders = _Listings()

        def pending(item: Item) -> list[int]:
            share.append(item)
            there, temporaries = folders.get((self.out / item.names[0]).parent)
            for name in item.names:  # what a killed run left of these outputs (never another's files)
                for tmp in temporaries.pop(Path(name).name, ()):
                    tmp.unlink(missing_ok=True)
            ks = [k for k, name in enumerate(item.names) if Path(name).name not in there]
            self.summary.already_done += len(item.names) - len(ks)
            return ks

        if isinstance(items, list):
            todo: Iterable[tuple[Item, list[int]]] = [(item, ks) for item in items if (ks := pending(item))]
            total = len(todo)
        else:
            todo = ((item, ks) for item in items if (ks := pending(item)))

        def write(item: Item, k: int, data: bytes) -> None:
            dst = self.out / item.names[k]
            if dst.parent not in self.folders:
                dst.parent.mkdir(parents=True, exist_ok=True)
                self.folders.add(dst.parent)
            write_atomic(dst, data)

        self._stylize(todo, write, total)
        self.summary.images = len(share)
        return [row for item in share for row in self._rows(item)]

    # -- parquet shards -----------------------------------------------------------------------
    def _to_shards(self, shards: Iterable[tuple[int, list[Item]]], extra: dict, image_column: str) -> list[Row]:
        """Write each shard ``data/<split>-<j>.parquet`` not there yet (whole: a shard interrupted is
        done again); the rows of all of them."""
        features = shard_features(extra, image_column)
        rows: list[Row] = []
        (self.out / "data").mkdir(exist_ok=True)
        for j, shard in shards:
            name = f"data/{self.o.split}-{j:05d}.parquet"
            path = self.out / name
            for tmp in path.parent.glob(f".{path.name}.*.tmp"):  # this shard's, left by a killed run
                tmp.unlink(missing_ok=True)
            self.summary.images += len(shard)
            if path.is_file():
                self._recover_shard(path, shard)
            else:
                written: list[tuple[Item, int, bytes]] = []

                def collect(item: Item, k: int, data: bytes) -> None:
                    with self.lock:
                        written.append((item, k, data))

                self._stylize(((item, list(range(len(item.names)))) for item in shard), collect, None)
                self._write_shard(path, written, features, image_column)
            rows += [row for item in shard for row in self._rows(item, lambda k: name)]
            for item in shard:
                item.src = item.rel  # the bytes are no longer needed
        return rows

    def _write_shard(self, path: Path, written: list[tuple[Item, int, bytes]], features, image_column: str) -> None:
        rows = []
        for item, k, data in sorted(written, key=lambda w: (w[0].index, w[1])):
            style, alpha = assign(self.o.seed, item.rel, k, len(self.bank), self.o.alpha)
            rows.append({**item.columns, image_column: {"bytes": data, "path": item.names[k]}, "source": item.rel,
                         "k": k, "style": self.bank.names[style], "alpha": alpha})
        write_shard(path, rows, features)

    def _recover_shard(self, path: Path, shard: list[Item]) -> None:
        """A shard written by an earlier run: its outputs count as done; the inputs it lacks were
        refused, and are decoded again for their reasons."""
        present = shard_sources(path)
        for item in shard:
            if item.rel in present:
                self.summary.already_done += len(item.names)
                continue
            if self.record is not None and self.record.died_twice(item.rel):
                self._refuse(item, DIED_TWICE)  # never opened again
                continue
            try:
                load_pixels(item, self.geometry, self.pipeline.budget)
                reason = "missing from its shard, written by an earlier run"
            except ImageError as exc:
                reason = str(exc)
            self._refuse(item, reason)


    def _stylize(self, todo: Iterable[tuple[Item, list[int]]], write, total: int | None) -> None:
        """Run ``todo`` through the pipeline with its inputs in flight on record: one that killed the
        process twice is refused unopened, and those in flight at one death run last, one at a time."""
        record = self.record
        assert record is not None, "run() makes the record"

        def finished(item: Item) -> None:
            record.done(item.rel)
            self.done_now += 1
            if self.progress:
                self.progress(self.done_now, total)

        def refused(item: Item, reason: str) -> None:
            self._refuse(item, reason)
            finished(item)

        def watched(jobs: Iterable[tuple[Item, list[int]]]) -> Iterator[tuple[Item, list[int]]]:
            for item, ks in jobs:
                if record.died_twice(item.rel):
                    refused(item, DIED_TWICE)
                    continue
                record.start(item.rel)  # on disk before its header is read
                yield item, ks

        rest, suspects = record.split(todo, lambda job: job[0].rel)
        self.summary.written += self.pipeline.run(watched(rest), write, refused, finished)
        for job in suspects:  # alone: if it kills the process again, nothing else was in flight
            self.summary.written += self.pipeline.run(watched([job]), write, refused, finished)


def _blocks(items: Iterable[Item], size: int) -> Iterator[tuple[int, list[Item]]]:
    """Consecutive ``size`` items of a stream by their index: ``(block number, items)``."""
    block: list[Item] = []
    for item in items:
        if block and item.index // size != block[0].index // size:
            yield block[0].index // size, block
            block = []
        block.append(item)
    if block:
        yield block[0].index // size, block


def _bank_identity(bank: StyleBank) -> dict:
    """What ``job.json`` records of the styles: their number, a hash of their names, the encoder."""
    import hashlib

    names = hashlib.sha256("\0".join(bank.names).encode()).hexdigest()[:16]
    return {"count": len(bank), "names": names, "encoder": bank.encoder}


class _Listings:
    """The files of the last few output folders visited, read once each: the outputs already there
    and the temporary files (``.<name>.<pid>.<hex>.tmp``) a killed run left, by the name they were for."""

    def __init__(self, keep: int = 16) -> None:
        self.keep, self.cache = keep, OrderedDict()

    def get(self, folder: Path) -> tuple[set[str], dict[str, list[Path]]]:
        if folder not in self.cache:
            names: set[str] = set()
            temporaries: dict[str, list[Path]] = {}
            if folder.is_dir():
                for entry in os.scandir(folder):
                    if entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.name.count(".") >= 4:
                        temporaries.setdefault(entry.name[1:].rsplit(".", 3)[0], []).append(Path(entry.path))
                    else:
                        names.add(entry.name)
            self.cache[folder] = (names, temporaries)
            while len(self.cache) > self.keep:
                self.cache.popitem(last=False)
        self.cache.move_to_end(folder)
        return self.cache[folder]
