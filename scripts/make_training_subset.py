"""Make the compact training subset the shipped model was trained on (it had to fit a 64 MB transfer).

Photos: every image under SRC/content, shorter side downscaled to --content-side, JPEG q75.
Paintings: --per-style random images from each SRC/style/<label>/ folder (seeded), JPEG q75.

    python scripts/make_training_subset.py --src ../shared/data/train --out subset --per-style 180
"""

from __future__ import annotations

import argparse
import random
from multiprocessing import Pool
from pathlib import Path

from PIL import Image


def _convert(job: tuple[Path, Path, int]) -> bool:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", type=Path, required=True, help="folder with content/ and style/<label>/")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-style", type=int, default=180, help="paintings per style label (default 180)")
    parser.add_argument("--content-side", type=int, default=256, help="shorter side of photos (default 256)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

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


if __name__ == "__main__":
    main()
