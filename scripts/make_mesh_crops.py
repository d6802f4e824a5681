"""The picture of docs/models.md: the same zoomed crop of a stylized photo from each model, with its grid
score, so the mesh (or its absence) shows at a glance.

    python scripts/make_mesh_crops.py --model "lite before=runs/lite_before" "lite now=model_card_lite" \
        "VGG-19=model_card" --out docs/mesh.jpg

Each model stylizes ``examples/chelsea.jpg`` with ``examples/van_gogh_madame_roulin.jpg`` at 512 px
(alpha 1, its default Stylizer, as ``adain stylize`` does); the crop (the cat's face, 96 px) is enlarged
4x with nearest-neighbour sampling so single pixels stay visible. Rows: alpha 1 and alpha 0 (the photo's
own features: no paint at all).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", nargs="+", required=True, metavar="NAME=MODEL")
    p.add_argument("--photo", type=Path, default=ROOT / "examples" / "chelsea.jpg")
    p.add_argument("--painting", type=Path, default=ROOT / "examples" / "van_gogh_madame_roulin.jpg")
    p.add_argument("--box", type=int, nargs=4, default=[200, 40, 296, 136], metavar=("LEFT", "TOP", "RIGHT", "BOTTOM"),
                   help="the crop, in the 512 px output's pixels")
    p.add_argument("--zoom", type=int, default=4)
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()

    from adain_hub import Stylizer
    from adain_hub import evaluation as ev
    from adain_hub.grid import grid_score
    from adain_hub.hub import load_model, named_models
    from adain_hub.images import load_image, to_tensor

    photo, painting = load_image(a.photo), load_image(a.painting)
    names = named_models(a.model)
    header, rows = [], {1.0: [], 0.0: []}
    for name, path in names.items():
        stylizer = Stylizer(load_model(path), size=512, style_size=512)
        header.append(name)
        for alpha in rows:
            out = stylizer(photo, painting, alpha=alpha)
            crop = out.crop(tuple(a.box))
            rows[alpha].append((crop.resize((crop.width * a.zoom, crop.height * a.zoom), Image.Resampling.NEAREST),
                                grid_score(to_tensor(out))))
    cell = (a.box[2] - a.box[0]) * a.zoom
    sheet = ev.grid_sheet(header, [
        (f"alpha {alpha:g}: grid " + ", ".join(f"{name} {score:.1f}" for name, (_, score) in zip(header, cells)),
         [image for image, _ in cells]) for alpha, cells in rows.items()], cell=cell)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    ev.save_jpeg(sheet, a.out, quality=92)
    print(f"wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
