"""The README's hero image: example photos (rows) stylized with public-domain paintings (columns).

    python scripts/make_hero.py [--model model_card_lite] [--out examples/hero.jpg]

Every picture in it ships in ``examples/`` (photos: NASA / scikit-image, public domain or CC0;
paintings: see ``examples/PAINTINGS.md``), so the image itself may be shown anywhere. Re-run it
whenever the default model changes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageOps

from adain_hub import Stylizer, load_model

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"]
PAINTINGS = ["van_gogh_madame_roulin.jpg", "kandinsky_improvisation_30.jpg", "marc_the_bewitched_mill.jpg",
             "gauguin_mahana_no_atua.jpg"]


def square(img: Image.Image, side: int) -> Image.Image:
    return ImageOps.fit(img.convert("RGB"), (side, side), Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "model_card_lite"), help="default: the default model")
    parser.add_argument("--out", type=Path, default=ROOT / "examples" / "hero.jpg")
    parser.add_argument("--cell", type=int, default=224, help="side of each picture in the grid")
    parser.add_argument("--size", type=int, default=448, help="working size of each stylization")
    parser.add_argument("--alpha", type=float, default=1.0)
    args = parser.parse_args()
    stylizer = Stylizer(load_model(args.model), size=args.size, style_size=512)
    examples = ROOT / "examples"
    gap, cell = 6, args.cell
    n_rows, n_cols = len(PHOTOS) + 1, len(PAINTINGS) + 1
    sheet = Image.new("RGB", (n_cols * cell + (n_cols + 1) * gap, n_rows * cell + (n_rows + 1) * gap), "white")

    def put(img: Image.Image, row: int, col: int) -> None:
        sheet.paste(square(img, cell), (gap + col * (cell + gap), gap + row * (cell + gap)))

    styles = [stylizer.encode_style(examples / p) for p in PAINTINGS]
    for col, name in enumerate(PAINTINGS, start=1):
        put(Image.open(examples / name), 0, col)
    for row, name in enumerate(PHOTOS, start=1):
        photo = square(Image.open(examples / name), args.size)  # square first: the cell shows it whole
        put(photo, row, 0)
        for col, style in enumerate(styles, start=1):
            put(stylizer(photo, style, alpha=args.alpha), row, col)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(args.out, quality=88, optimize=True)


if __name__ == "__main__":
    main()
