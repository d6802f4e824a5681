"""Make a compact training set that fits the GPU machine's transfer (64 MiB for the whole working tree).

``--set v2`` (default), at the scale the model is used at (512 px):
  photos:    every image under SRC/content_hr/ (short side up to 512, kept), plus --extra-photos drawn
             from SRC/content/ (short side 320) whose short side is at least --crop;
  paintings: SRC/style_peopleart/<style>/ at their own size (long side 500), drawn round-robin over the
             style folders in a seeded order until --max-mb is reached, so every style gets as many
             as the budget allows; paintings whose short side is under --crop are left out (training
             would refuse them rather than upscale).
  Re-encoded as WebP (--quality, default 70): at the same size WebP is ~30% smaller than JPEG q75,
  and the originals already are ~q75 JPEGs, so JPEG re-encoding saves nothing. Any Pillow reads it.

``--set v1``: the draw the first shipped model was trained on (photos downscaled to 256, 180
paintings per style of SRC/style/ at 224, JPEG q75), for its documented reproduction.

    python scripts/make_training_subset.py --src ../shared/data/train --out .device/data          # v2
    python scripts/make_training_subset.py --set v1 --src ../shared/data/train --out subset --per-style 180
"""

from __future__ import annotations

import argparse
import random
import sys
from multiprocessing import Pool
from pathlib import Path

from PIL import Image

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def _convert(job: tuple[Path, Path, int]) -> bool:
    """v1: shorter side down to ``side`` (never up), JPEG q75."""
    src, dst, side = job
    try:
        img = Image.open(src).convert("RGB")
    except OSError:
        return False
    scale = side / min(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    dst.parent.mkdir(parents=True, exist_ok=True)
    img.save(dst, quality=75)
    return True


def _encode(job: tuple[Path, Path, int, int, int]) -> int:
    """v2: shorter side down to ``max_short`` (never up), WebP; the bytes written, 0 if unreadable
    or if its shorter side is under ``min_short``."""
    src, dst, max_short, min_short, quality = job
    try:
        img = Image.open(src).convert("RGB")
    except OSError:
        return 0
    if min(img.size) < min_short:
        return 0
    scale = max_short / min(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    dst.parent.mkdir(parents=True, exist_ok=True)
    img.save(dst, format="WEBP", quality=quality, method=6)
    return dst.stat().st_size


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)


def make_v1(args: argparse.Namespace) -> None:
    jobs = [(f, args.out / "content" / f"{f.parent.name}_{f.stem}.jpg", args.content_side)
            for f in sorted((args.src / "content").rglob("*")) if f.is_file()]
    rng = random.Random(args.seed)
    for label in sorted(p for p in (args.src / "style").iterdir() if p.is_dir()):
        files = sorted(p for p in label.iterdir() if p.is_file())
        rng.shuffle(files)
        jobs += [(f, args.out / "style" / label.name / f"{f.stem}.jpg", 224) for f in files[: args.per_style]]
    with Pool() as pool:
        done = sum(pool.map(_convert, jobs, chunksize=50))
    print(f"wrote {done} of {len(jobs)} images to {args.out}")


def _short_side(path: Path) -> int:
    try:
        with Image.open(path) as img:
            return min(img.size)
    except OSError:
        return 0


def make_v2(args: argparse.Namespace) -> None:
    if args.out.exists() and any(args.out.iterdir()):
        sys.exit(f"error: {args.out} is not empty; remove it first (its size is what this script keeps under --max-mb)")
    rng = random.Random(args.seed)
    budget = int(args.max_mb * 1e6)
    photos = [(f, args.out / "content" / f.parent.name / f"{f.stem}.webp") for f in _files(args.src / "content_hr")]
    extra = _files(args.src / "content")
    rng.shuffle(extra)
    extra = [f for f in extra if _short_side(f) >= args.crop][: args.extra_photos]
    photos += [(f, args.out / "content" / f"extra_{f.parent.name}" / f"{f.stem}.webp") for f in extra]

    by_style = {d.name: _files(d) for d in sorted((args.src / "style_peopleart").iterdir()) if d.is_dir()}
    small = 0
    for style, files in by_style.items():
        rng.shuffle(files)
        usable = [f for f in files if _short_side(f) >= args.crop]
        small += len(files) - len(usable)
        by_style[style] = usable
    rounds = [[(style, files[k]) for style, files in by_style.items() if k < len(files)]
              for k in range(max(map(len, by_style.values())))]

    with Pool() as pool:
        photo_sizes = pool.map(_encode, [(src, dst, 512, args.crop, args.quality) for src, dst in photos], chunksize=4)
        total = photo_bytes = sum(photo_sizes)
        kept = {style: 0 for style in by_style}
        for draw in rounds:  # one painting of every style a round, until the budget is spent
            jobs = [(src, args.out / "style" / style / f"{src.stem}.webp", 10_000, args.crop, args.quality)
                    for style, src in draw]
            sizes = pool.map(_encode, jobs, chunksize=2)
            over = False
            for (style, _), job, size in zip(draw, jobs, sizes):
                if over or total + size > budget:
                    over = True
                    job[1].unlink(missing_ok=True)
                    continue
                total += size
                kept[style] += bool(size)
            if over:
                break
    on_disk = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    counts = sorted(kept.values())
    print(f"photos: {sum(1 for s in photo_sizes if s)} ({photo_bytes / 1e6:.1f} MB): {len(photos) - len(extra)} "
          f"from content_hr, {len(extra)} from content (short side at least {args.crop})")
    print(f"paintings: {sum(counts)} in {len(kept)} styles, {counts[0]} to {counts[-1]} a style "
          f"({(total - photo_bytes) / 1e6:.1f} MB); {small} of style_peopleart left out, short side under {args.crop}")
    print(f"total: {on_disk / 1e6:.1f} MB ({on_disk / 2**20:.1f} MiB) in {args.out}")
    if on_disk > budget:
        sys.exit(f"error: {on_disk / 1e6:.1f} MB is over --max-mb {args.max_mb:g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", choices=("v1", "v2"), default="v2", help="which training set (default v2)")
    parser.add_argument("--src", type=Path, required=True, help="../shared/data/train")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    v2 = parser.add_argument_group("v2")
    v2.add_argument("--max-mb", type=float, default=32.0,
                    help="size of the whole set in MB (default 32: the 64 MiB transfer less the 32 MB the "
                         "tracked tree takes and the datasets wheels)")
    v2.add_argument("--extra-photos", type=int, default=120, help="photos from SRC/content besides content_hr")
    v2.add_argument("--crop", type=int, default=256, help="training crop: smaller images are left out")
    v2.add_argument("--quality", type=int, default=70, help="WebP quality (default 70)")
    v1 = parser.add_argument_group("v1")
    v1.add_argument("--per-style", type=int, default=180, help="paintings per style label (default 180)")
    v1.add_argument("--content-side", type=int, default=256, help="shorter side of photos (default 256)")
    args = parser.parse_args()
    (make_v1 if args.set == "v1" else make_v2)(args)


if __name__ == "__main__":
    main()
