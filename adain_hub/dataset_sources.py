"""What ``adain stylize-dataset`` reads: the inputs of a folder or a ``datasets`` stream, each with its
path relative to the source, the names its outputs get, and the pixels at the size they are stylized.

Names are a pure function of the whole input list (a folder's sorted files, a stream's order), so
every process of a run, whatever its share, agrees on them without talking to the others.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterator, Sequence

import numpy as np
from PIL import Image

from .images import ImageError, fit, iter_files, load_image, one_line, output_size
from .input_plan import (
    CROP_FIRST_PIXELS,
    Budget,
    Header,
    InputPlan,
    crop_resize_size,
    plan_header,
    plan_input,
)


@dataclass
class Item:
    """One input: its position in the whole input list, its path relative to the source (POSIX),
    what to read it from (a file, or a ``datasets`` image's bytes), the names of its outputs (one per
    version, relative to OUT, extension included) and its other columns (a label, ...)."""

    index: int
    rel: str
    src: Path | bytes | str
    names: list[str] = field(default_factory=list)
    columns: dict[str, Any] = field(default_factory=dict)

    @property
    def shown(self) -> str:
        """How messages name it: the file's path, else its relative path."""
        return str(self.src) if isinstance(self.src, (Path, str)) else self.rel


# -- a folder ------------------------------------------------------------------------------------
def folder_files(src: Path, out: Path) -> list[Path]:
    """Every file under ``src``, sorted, hidden ones skipped (:func:`~adain_hub.images.iter_files`),
    and nothing under ``out`` when it lies inside ``src`` (the outputs of an earlier run). Files are
    not opened here: which ones are images is decided by their content, by the process that
    stylizes them."""
    if not under(out, src):
        return list(iter_files(src))
    inside = out.resolve().relative_to(src.resolve()).parts  # compared by relative path: no call per file
    return [f for f in iter_files(src) if f.relative_to(src).parts[:len(inside)] != inside]


def folder_items(src: Path, out: Path, per_image: int, fmt: str) -> list[Item]:
    """The folder's inputs with their output names (:func:`output_bases`), and, when every file sits in
    a sub-folder, its class: the first folder of its relative path (column ``label``)."""
    files = folder_files(src, out)
    rels = [f.relative_to(src).as_posix() for f in files]
    bases = output_bases(rels)
    items = [Item(i, rel, f, output_names(base, per_image, fmt)) for i, (rel, f, base) in enumerate(zip(rels, files, bases))]
    classes = class_names(rels)
    if classes:
        index = {name: i for i, name in enumerate(classes)}
        for item in items:
            item.columns["label"] = index[item.rel.split("/", 1)[0]]
    return items


def class_names(rels: Sequence[str]) -> list[str]:
    """The sorted class folders when every input lies in one (``cat/1.jpg``), else none."""
    if not rels or any("/" not in r for r in rels):
        return []
    return sorted({r.split("/", 1)[0] for r in rels})


def output_bases(rels: Sequence[str]) -> list[str]:
    """Each input's output path without extension: its own (``cat/1.jpg`` -> ``cat/1``). Inputs that
    would share one (``a.jpg`` and ``a.png``; compared ignoring case, as macOS and Windows do) are told
    apart deterministically: plain names go first, in sorted order; the others get their extension
    (``a_png``), then a number (``a_png_2``)."""
    taken: set[str] = set()
    bases: list[str | None] = [None] * len(rels)
    stems = [str(PurePosixPath(r).with_suffix("")) for r in rels]
    for i, stem in enumerate(stems):
        if stem.casefold() not in taken:
            bases[i] = stem
            taken.add(stem.casefold())
    for i, (rel, stem) in enumerate(zip(rels, stems)):
        if bases[i] is None:
            base = f"{stem}_{PurePosixPath(rel).suffix.lstrip('.').lower() or 'file'}"
            candidate, n = base, 2
            while candidate.casefold() in taken:
                candidate, n = f"{base}_{n}", n + 1
            bases[i] = candidate
            taken.add(candidate.casefold())
    return bases  # type: ignore[return-value]


def output_names(base: str, per_image: int, fmt: str) -> list[str]:
    """``base.fmt`` for one version of an image, ``base_0.fmt``, ``base_1.fmt``, ... for several."""
    if per_image == 1:
        return [f"{base}.{fmt}"]
    return [f"{base}_{k}.{fmt}" for k in range(per_image)]


# -- a datasets stream ---------------------------------------------------------------------------
def stream_items(ds, source: str, image_column: str, per_image: int, fmt: str) -> Iterator[Item]:
    """The examples of an undecoded ``datasets`` stream (:func:`~adain_hub.data.open_stream`) as
    items, in stream order, every one named: relative path from the example's file path when it has a
    safe one (under a local source folder, or relative without ``..``), else ``<index>.png``; a name
    met before gets ``_<index>``. Every process reads the whole stream, so all agree on the names."""
    root = Path(source).expanduser().resolve() if Path(source).expanduser().is_dir() else None
    taken: set[str] = set()
    for index, example in enumerate(ds):
        value = example[image_column] or {}
        path = value.get("path") if isinstance(value, dict) else None
        rel = safe_relative(path, root) or f"{index:08d}.png"
        stem = str(PurePosixPath(rel).with_suffix(""))
        base, n = stem, 0
        while base.casefold() in taken:
            n += 1
            base = f"{stem}_{index}" if n == 1 else f"{stem}_{index}_{n}"
        taken.add(base.casefold())
        data = value.get("bytes") if isinstance(value, dict) else None
        src: Path | bytes | str = data if data else (Path(path) if path and Path(path).is_file() else rel)
        columns = {k: v for k, v in example.items() if k != image_column}
        yield Item(index, rel, src, output_names(base, per_image, fmt), columns)


def safe_relative(path: str | None, root: Path | None) -> str | None:
    """``path`` as a relative POSIX path that stays inside OUT, or ``None``: a path under the local
    source folder ``root`` relative to it, a relative path without ``..``, hidden parts or drive."""
    if not path:
        return None
    p = Path(path)
    if p.is_absolute():
        if root is None:
            return None
        try:
            p = p.resolve().relative_to(root)
        except ValueError:
            return None
    parts = PurePosixPath(p.as_posix()).parts
    if not parts or any(part in ("", ".", "..") or part.startswith(".") or ":" in part for part in parts):
        return None
    return "/".join(parts)


# -- who does what -------------------------------------------------------------------------------
def contiguous_share(n: int, rank: int, world: int) -> range:
    """Positions ``rank`` takes of ``n`` sorted inputs: contiguous, sizes differing by at most one,
    the first ``n % world`` processes one more (as ``accelerate``'s ``split_between_processes``)."""
    per, extra = divmod(n, world)
    start = rank * per + min(rank, extra)
    return range(start, start + per + (1 if rank < extra else 0))


# -- pixels --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Geometry:
    """The size an input is stylized at: ``center_crop`` C (shorter side to C * 256 / 224, then the
    centre C x C, as Stylized-ImageNet), else the longer side capped at ``size`` (0: its own size)."""

    center_crop: int | None = None
    size: int = 512

    def apply(self, img: Image.Image) -> Image.Image:
        if self.center_crop:
            return center_crop(img, self.center_crop)
        if self.size:
            return fit(img, output_size(*img.size, self.size))
        return img


def center_crop(img: Image.Image, crop: int) -> Image.Image:
    """torchvision's ``Resize(round(crop * 256 / 224))`` then ``CenterCrop(crop)`` on a PIL image
    (bilinear; the shorter side is scaled up too when smaller). When resizing the whole image first
    would make more than ``CROP_FIRST_PIXELS`` (a 65535 x 1 strip: 16,776,960 x 256), only the
    crop's region is resized, straight to ``crop x crop``."""
    w, h = img.size
    size = crop_resize_size(w, h, crop)
    left, top = int(round((size[0] - crop) / 2.0)), int(round((size[1] - crop) / 2.0))
    if size[0] * size[1] > CROP_FIRST_PIXELS:
        sx, sy = w / size[0], h / size[1]
        box = (left * sx, top * sy, (left + crop) * sx, (top + crop) * sy)
        return img.resize((crop, crop), Image.Resampling.BILINEAR, box=box)
    if size != (w, h):
        img = img.resize(size, Image.Resampling.BILINEAR)
    return img.crop((left, top, left + crop, top + crop))


def plan_item(item: Item, geometry: Geometry, budget: Budget) -> InputPlan:
    """What ``item`` becomes (:mod:`~adain_hub.input_plan`), from its header alone; :class:`ImageError`
    with the reason alone (no name) if it is refused or not an image."""
    src = item.src
    if isinstance(src, str):  # a stream example with neither bytes nor a local file
        raise ImageError("example has neither image bytes nor a readable file")
    try:
        plan = plan_input(src, budget, geometry.size, geometry.center_crop)
    except ImageError as exc:
        raise ImageError(_unnamed(exc, src)) from None
    if plan.reason:
        raise ImageError(plan.reason)
    return plan


def load_pixels(item: Item, geometry: Geometry, budget: Budget, plan: InputPlan | None = None) -> np.ndarray:
    """``(H, W, 3)`` uint8 of ``item`` at the size it is stylized, decoded only once its header's
    ``plan`` (:func:`plan_item`) accepted it; :class:`ImageError` with the reason alone (no name) if
    it is refused or not a usable image."""
    plan = plan or plan_item(item, geometry, budget)
    src = item.src
    try:
        img = load_image(src, max_pixels=budget.max_pixels, min_side=1)
        if img.size != plan.source:  # a header that did not tell all (a PNG's EXIF after its pixels)
            again = plan_header(Header(*img.size), budget, geometry.size, geometry.center_crop)
            if again.reason:
                raise ImageError(again.reason)
        return np.asarray(geometry.apply(img))
    except ImageError as exc:
        raise ImageError(_unnamed(exc, src)) from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ImageError(f"cannot decode image ({one_line(exc)})") from None


def _unnamed(exc: ImageError, src: Path | bytes | str) -> str:
    """An :class:`ImageError`'s reason without the input's name in front."""
    name = str(src) if isinstance(src, Path) else "bytes"
    text = str(exc)
    return text[len(name) + 2:] if text.startswith(f"{name}: ") else text


def under(path: Path, folder: Path) -> bool:
    """Whether ``path`` is ``folder`` or lies inside it (both resolved)."""
    p, f = path.resolve(), folder.resolve()
    return p == f or f in p.parents


def is_folder_source(source: str | os.PathLike, use_datasets: bool) -> bool:
    """A local folder is walked file by file unless ``use_datasets`` asks for ``datasets``'
    ``imagefolder`` (whose ``metadata.csv`` columns are then kept)."""
    return Path(source).expanduser().is_dir() and not use_datasets
