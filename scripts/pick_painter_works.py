"""Pick one painter's works for measuring ``adain finetune`` (docs/finetune.md): 30 to train on and 10
others to judge, none of them a work that ``../shared`` holds, from a git copy of the WikiArt selection
``jalpv1/wiki-art-selected-resized`` (224 px squashed reproductions).

    python scripts/pick_painter_works.py GIT_DIR Impressionism/arkhip-kuindzhi OUT
    python scripts/pick_painter_works.py GIT_DIR Rococo/giovanni-battista-tiepolo OUT

Deterministic: titles without their trailing numbers or years group versions and studies of one work (a
group never lands on both sides); groups of a work anywhere under ``--shared`` are dropped; each group's
first file is kept unless nearly colourless (mean chroma under 10/255); the candidates are shuffled with
``random.Random(2026)`` and the first 30 go to ``OUT/train``, the next 10 to ``OUT/heldout``. The images are
not the project's to ship: keep ``OUT`` outside the repository.
"""

from __future__ import annotations

import argparse
import io
import random
import re
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def title(stem: str) -> str:
    """A file's title without the painter and trailing numbers: ``tiepolo_europa-1753`` -> ``europa``."""
    return re.sub(r"(-\d+)+$", "", stem.split("_", 1)[-1])


def chroma(data: bytes) -> float:
    """Mean chroma (the largest minus the smallest of R, G, B), out of 255."""
    rgb = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=np.float64)
    return float((rgb.max(axis=-1) - rgb.min(axis=-1)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("git_dir", help="the git directory of jalpv1/wiki-art-selected-resized")
    parser.add_argument("painter", help="FOLDER/painter-slug as the repository names files, e.g. Rococo/canaletto")
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--train", type=int, default=30)
    parser.add_argument("--heldout", type=int, default=10)
    args = parser.parse_args()

    git = ["git", "--git-dir", args.git_dir]
    listing = subprocess.run([*git, "ls-tree", "-r", "--name-only", "HEAD"], capture_output=True, text=True, check=True)
    files = sorted(f for f in listing.stdout.splitlines() if f.startswith(args.painter + "_"))
    slug = Path(args.painter).name
    shared = {title(p.stem) for p in args.shared.rglob(f"*{slug}_*")}
    groups: dict[str, list[str]] = {}
    for f in files:
        groups.setdefault(title(Path(f).stem), []).append(f)
    candidates = []
    for name, members in sorted(groups.items()):
        if name in shared:
            continue
        data = subprocess.run([*git, "show", f"HEAD:{members[0]}"], capture_output=True, check=True).stdout
        if chroma(data) >= 10:
            candidates.append((members[0], data))
    random.Random(2026).shuffle(candidates)
    need = args.train + args.heldout
    if len(candidates) < need:
        raise SystemExit(f"{args.painter}: {len(candidates)} candidates, {need} needed")
    for split, chosen in (("train", candidates[: args.train]), ("heldout", candidates[args.train : need])):
        (args.out / split).mkdir(parents=True, exist_ok=True)
        for f, data in chosen:
            (args.out / split / Path(f).name).write_bytes(data)
    print(f"{len(files)} files, {len(groups)} titles, {len(shared)} titles in {args.shared} dropped, "
          f"{len(candidates)} candidates -> {args.train} + {args.heldout} in {args.out}")


if __name__ == "__main__":
    main()
