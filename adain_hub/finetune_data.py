"""The data of a fine-tune (``adain finetune``): the user's paintings checked and split, the held-out
photos, the base's paintings mixed in, and the folders training and evaluation read.

Everything the command measures on is copied (byte for byte) into ``OUT/eval/`` so that ``adain eval``
run on those folders later scores exactly the same images; everything it trains on is linked into
``OUT/work/`` (symbolic links, copies where links cannot be made), one sub-folder per style label so
that training draws the user's paintings and the base's as often as :func:`keep_folders` decides.
Library code: problems are :class:`FinetuneError` (one line), notes go back as strings.
"""

from __future__ import annotations

import math
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from .images import ImageError, fingerprint, image_format, iter_image_files, load_image
from .input_plan import decode_megabytes, decode_refusal, read_header
from .stylizer import DEFAULT_MEMORY_BUDGET_MB

MIN_PAINTINGS = 10  # 8 to learn from and 2 to measure on: fewer, and neither the model nor the table means much
MIN_PAINTING_SIDE = 128  # the smallest crop a fine-tune trains on; smaller files are thumbnails, not paintings
GRAYSCALE_CHROMA = 3.0  # mean max-min over R, G, B (0-255) under which an image counts as grayscale
CAMERA_TAGS = (0x010F, 0x0110)  # EXIF Make, Model: what a camera writes into a photo


class FinetuneError(ValueError):
    """A fine-tune that cannot run as asked; the message says why in one line."""


@dataclass
class PaintingCheck:
    """What :func:`check_paintings` found: the usable files (sorted), their shorter sides, and one
    line per file left out or worth a warning."""

    usable: list[Path]
    short_sides: list[int]
    refused: list[str] = field(default_factory=list)
    grayscale: list[str] = field(default_factory=list)
    camera: list[str] = field(default_factory=list)

    def warnings(self, folder: str) -> list[str]:
        """The warnings a user should read before 15 minutes go into these paintings."""
        notes = [f"{folder}: left out {line}" for line in self.refused]
        n = len(self.usable)
        if self.grayscale:
            notes.append(f"{folder}: {len(self.grayscale)} of {n} paintings are grayscale ({', '.join(self.grayscale[:3])}"
                         f"{', ...' if len(self.grayscale) > 3 else ''}): the model will learn to take the colour "
                         "out of photos; if these are photos or scans, give the paintings instead")
        if len(self.camera) * 2 > n:
            notes.append(f"{folder}: {len(self.camera)} of {n} files carry a camera's EXIF tags: if they are photos "
                         "rather than photos of paintings, the model will learn photo statistics, not a style")
        return notes


def check_paintings(folder: str | os.PathLike, min_count: int = MIN_PAINTINGS,
                    min_side: int = MIN_PAINTING_SIDE) -> PaintingCheck:
    """Every image under ``folder``, opened once: unreadable, tiny (under ``min_side`` px a side) and
    duplicate files are left out (one line each), grayscale ones and ones carrying a camera's EXIF
    tags are flagged. :class:`FinetuneError` when fewer than ``min_count`` usable paintings remain,
    or when most files had to be left out (a folder of thumbnails or of something else)."""
    root = Path(folder)
    if not root.is_dir():
        raise FinetuneError(f"{folder}: no such folder of paintings")
    files = list(iter_image_files(root))
    check = PaintingCheck([], [])
    seen: dict[str, str] = {}
    for path in files:
        name = path.relative_to(root).as_posix()
        try:  # the header first (adain_hub.input_plan): a tiny, a bomb or an over-budget file is never decoded
            header = read_header(path)
            if min(header.width, header.height) < min_side:
                check.refused.append(f"{name} (tiny: {header.width}x{header.height}; a painting needs at least "
                                     f"{min_side} px a side)")
                continue
            if (need := decode_megabytes(header)) > DEFAULT_MEMORY_BUDGET_MB:
                raise ImageError(f"{path}: {decode_refusal(header, need, DEFAULT_MEMORY_BUDGET_MB)}")
            image = load_image(path)
        except ImageError as exc:
            check.refused.append(f"{name} (unreadable: {str(exc).removeprefix(f'{path}: ')})")
            continue
        try:
            with Image.open(path) as raw:
                exif = raw.getexif()
        except OSError:  # it decoded above; a header PIL reads differently the second time is no reason to refuse
            exif = {}
        w, h = image.size
        if min(w, h) < min_side:
            check.refused.append(f"{name} (tiny: {w}x{h}; a painting needs at least {min_side} px a side)")
            continue
        key = fingerprint(image)
        if key in seen:
            check.refused.append(f"{name} (the same picture as {seen[key]})")
            continue
        seen[key] = name
        small = np.asarray(image.resize((64, 64)), dtype=np.float32)
        if float((small.max(-1) - small.min(-1)).mean()) < GRAYSCALE_CHROMA:
            check.grayscale.append(name)
        if any(tag in exif for tag in CAMERA_TAGS):
            check.camera.append(name)
        check.usable.append(path)
        check.short_sides.append(min(w, h))
    if not files:
        raise FinetuneError(f"{folder}: no images in this folder")
    if len(check.usable) < min_count:
        raise FinetuneError(f"{folder}: {len(check.usable)} usable paintings of {len(files)} files, and a fine-tune "
                            f"needs at least {min_count} ({min_count - 2} to learn from, 2 to measure on)"
                            + (f"; left out: {'; '.join(check.refused[:3])}" if check.refused else ""))
    if len(check.refused) * 2 > len(files):
        raise FinetuneError(f"{folder}: {len(check.refused)} of {len(files)} files are unreadable, tiny or repeated: "
                            f"this does not look like a folder of paintings ({'; '.join(check.refused[:3])})")
    return check


def split_holdout(paths: Sequence[Path], share: float, seed: int, minimum: int = 2) -> tuple[list[Path], list[Path]]:
    """``(train, held out)``: a fixed, seeded ``share`` of ``paths`` (at least ``minimum``) kept back."""
    ordered = sorted(paths)
    n_hold = max(minimum, round(share * len(ordered)))
    if len(ordered) - n_hold < 1:
        raise FinetuneError(f"holding back {n_hold} of {len(ordered)} paintings leaves none to learn from")
    picked = set(random.Random(seed).sample(range(len(ordered)), n_hold))
    return ([p for i, p in enumerate(ordered) if i not in picked], [p for i, p in enumerate(ordered) if i in picked])


def pick_files(folder: str | os.PathLike, count: int, seed: int, exclude: Sequence[Path] = ()) -> list[Path]:
    """A fixed, seeded pick of ``count`` images under ``folder``: evenly over its sub-folders (style
    labels) when it has them, so every style of the base is in the mix; ``exclude`` never picked."""
    root = Path(folder)
    skip = {Path(p).resolve() for p in exclude}
    files = [p for p in iter_image_files(root) if p.resolve() not in skip]
    groups: dict[str, list[Path]] = {}
    for path in files:
        groups.setdefault(path.relative_to(root).parts[0] if len(path.relative_to(root).parts) > 1 else "", []).append(path)
    rng = random.Random(seed)
    per_group = math.ceil(count / max(len(groups), 1))
    picked = [p for g in sorted(groups) for p in rng.sample(groups[g], min(per_group, len(groups[g])))]
    if len(picked) > count:
        picked = sorted(rng.sample(picked, count))
    return picked


def readable(paths: Sequence[Path], count: int) -> list[Path]:
    """The first ``count`` of ``paths`` that :func:`load_image` opens (the eval's photos must all load)."""
    good = []
    for path in paths:
        try:
            load_image(path)
        except ImageError:
            continue
        good.append(path)
        if len(good) == count:
            break
    return good


def copy_files(paths: Sequence[Path], dest: Path) -> list[Path]:
    """Byte-for-byte copies in ``dest`` (flat; names made unique), for the evaluation folders."""
    dest.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copyfile(p, dest / name)) for p, name in zip(paths, flat_names(paths))]


def link_files(paths: Sequence[Path], dest: Path, prefix: str = "") -> None:
    """``paths`` in ``dest`` as symbolic links (copies where the file system has none), their names
    after ``prefix``."""
    dest.mkdir(parents=True, exist_ok=True)
    for path, name in zip(paths, flat_names(paths)):
        target = dest / f"{prefix}{name}"
        try:
            os.symlink(Path(path).resolve(), target)
        except OSError:
            shutil.copyfile(path, target)


def flat_names(paths: Sequence[Path]) -> list[str]:
    """File names for one flat folder: the name, with ``_2``, ``_3`` ... before the suffix on a repeat."""
    seen: set[str] = set()
    names = []
    for path in paths:
        stem, suffix, k = Path(path).stem, Path(path).suffix.lower(), 2
        name = stem + suffix
        while name in seen:
            name, k = f"{stem}_{k}{suffix}", k + 1
        seen.add(name)
        names.append(name)
    return names


def keep_folders(user_share: float) -> int:
    """How many style folders the base's paintings are spread over so that training, which draws each
    folder equally often (``balance_by="label"``), gives the user's folder ``user_share`` of the
    paintings: 1/2 -> 1 folder, 1/3 -> 2, 1/4 -> 3."""
    if not 0 < user_share < 1:
        raise FinetuneError(f"the user's share of the paintings must be between 0 and 1, got {user_share}")
    return max(1, round((1 - user_share) / user_share))


def style_folders(user: Sequence[Path], keep: Sequence[Path], folders: int, dest: Path) -> None:
    """``dest/yours`` (the user's training paintings) and ``dest/base_1`` ... ``base_N`` (the base's,
    dealt round-robin): one style label each. Their names start ``yours-`` and ``base-``, so no painting
    of the user's shares a name with one of the base's (training anchors the base's by name)."""
    link_files(user, dest / "yours", prefix="yours-")
    for k in range(folders):
        link_files(list(keep[k::folders]), dest / f"base_{k + 1}", prefix="base-")


def hub_images(source: str, split: str, count: int, dest: Path, seed: int | None = None,
               image_column: str = "image") -> list[Path]:
    """The first ``count`` decodable images of a Hub dataset's ``split`` (after a seeded shuffle of
    a 1,000-example buffer when ``seed`` is given), written to ``dest`` as their original bytes."""
    from .data import open_stream

    ds = open_stream(source, image_column=image_column, split=split)
    if seed is not None:
        ds = ds.shuffle(seed=seed, buffer_size=1000)
    dest.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for k, example in enumerate(ds):
        value = example[image_column]
        data = value.get("bytes") or (Path(value["path"]).read_bytes() if value.get("path") else None)
        if not data:
            continue
        try:
            load_image(data)
            suffix = {"JPEG": "jpg"}.get(image_format(data), image_format(data).lower())
        except ImageError:
            continue
        path = dest / f"{k:05d}.{suffix}"
        path.write_bytes(data)
        written.append(path)
        if len(written) == count:
            break
    if len(written) < count:
        raise FinetuneError(f"{source} ({split}): only {len(written)} of the {count} images needed could be read")
    return written
