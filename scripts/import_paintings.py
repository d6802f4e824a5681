"""Copy the public-domain paintings the README, the quick start and the app's examples use from
``../shared/data/paintings_pd`` into ``examples/``, downscaled, and write their credit lines.

    python scripts/import_paintings.py [--src ../shared/data/paintings_pd] [--side 640]

The source folder holds museum open-access files (The Met, Art Institute of Chicago, Rijksmuseum)
with a title, artist, museum, URL and licence per file in ``paintings_pd.csv``; those fields are
copied into ``examples/PAINTINGS.md`` as each picture's credit. Run once; the output is committed.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
# source file -> the name it ships under (artist_title, so the app's example table reads well)
CHOSEN = {
    "p009.jpg": "van_gogh_madame_roulin.jpg",
    "p031.jpg": "kandinsky_improvisation_30.jpg",
    "p040.jpg": "kandinsky_houses_at_murnau.jpg",
    "p035.jpg": "marc_the_bewitched_mill.jpg",
    "p038.jpg": "gauguin_mahana_no_atua.jpg",
    "p033.jpg": "hartley_movement.jpg",
    "p043.jpg": "cezanne_the_card_players.jpg",
    "p049.jpg": "manet_peonies.jpg",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=ROOT.parent / "shared" / "data" / "paintings_pd")
    parser.add_argument("--out", type=Path, default=ROOT / "examples")
    parser.add_argument("--side", type=int, default=640, help="longer side of the shipped copies")
    args = parser.parse_args()
    with open(args.src / "paintings_pd.csv", newline="") as f:
        rows = {r["file"]: r for r in csv.DictReader(f)}
    lines = [
        "# Public-domain paintings in `examples/`",
        "",
        f"Downscaled copies (longer side {args.side} px, JPEG) of museum open-access images, made by",
        "`scripts/import_paintings.py`. Each is in the public domain (or CC0) as its museum states:",
        "",
        "| file | painting | artist | date | museum | licence |",
        "|---|---|---|---|---|---|",
    ]
    for source, name in CHOSEN.items():
        r = rows[source]
        img = Image.open(args.src / source).convert("RGB")
        img.thumbnail((args.side, args.side), Image.Resampling.LANCZOS)
        img.save(args.out / name, quality=90, optimize=True)
        title = f"[{r['title']}]({r['url']})"
        lines.append(f"| `{name}` | {title} | {r['artist']} | {r['date'] or '—'} | {r['museum']} | {r['licence']} |")
    (args.out / "PAINTINGS.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
