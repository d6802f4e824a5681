"""How well does the decoder give back a photo (alpha = 0), and does it depend on the working size?

    python scripts/reconstruction.py --contents ../shared/data/bench/content --sides 256 512 --limit 8
    python scripts/reconstruction.py --contents ../shared/data/bench/content --sides 512 --self-style  # the issues' figure

Each photo is encoded to relu4_1 and decoded straight back (no style), at each working size; the
result and the photo are both compared at the smallest size (LANCZOS), so the numbers share a scale.
Prints PSNR and luminance SSIM per photo and their means. A decoder that reproduces photos poorly
cannot keep their structure under any style: this is the floor of the content side of quality.

``--self-style`` stylizes each photo with itself at alpha 1 instead (AdaIN of a photo to its own
statistics is the identity up to the epsilon, so a good decoder gives the photo back): the
"self-style PSNR" the model issues and cards quote.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from adain_hub import Stylizer, load_model
from adain_hub.evaluation import ssim_luminance
from adain_hub.images import iter_image_files, load_image


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contents", type=Path, required=True)
    parser.add_argument("--model", default=str(Path(__file__).resolve().parent.parent / "model_card"))
    parser.add_argument("--sides", type=int, nargs="+", default=[256, 512], help="working sizes (longer side)")
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--self-style", action="store_true", help="stylize each photo with itself at alpha 1")
    args = parser.parse_args()
    alpha = 1.0 if args.self_style else 0.0
    # alpha 0 is the photo's own features, decoded: the stylizer's padding and cropping, no style
    stylizer = Stylizer(load_model(args.model), backend="fp32", size=None)
    sides = sorted(args.sides)
    totals: dict[int, list[tuple[float, float]]] = {s: [] for s in sides}
    print("| photo | " + " | ".join(f"{s} px PSNR dB / SSIM" for s in sides) + " |")
    print("|---|" + "---:|" * len(sides))
    for path in list(iter_image_files(args.contents))[: args.limit]:
        src = load_image(path)
        cells = []
        for side in sides:
            photo = src.copy()
            photo.thumbnail((side, side), Image.Resampling.LANCZOS)
            out = stylizer.stylize(photo, photo, alpha=alpha)
            ref = src.copy()
            ref.thumbnail((sides[0], sides[0]), Image.Resampling.LANCZOS)
            out = out.resize(ref.size, Image.Resampling.LANCZOS)
            a, b = np.asarray(ref, np.float64), np.asarray(out, np.float64)
            psnr = 10 * np.log10(255.0**2 / max(((a - b) ** 2).mean(), 1e-12))
            ssim = ssim_luminance(out, ref)
            totals[side].append((psnr, ssim))
            cells.append(f"{psnr:.2f} / {ssim:.3f}")
        print(f"| {path.name} | " + " | ".join(cells) + " |")
    means = [f"{np.mean([p for p, _ in totals[s]]):.2f} / {np.mean([q for _, q in totals[s]]):.3f}" for s in sides]
    print("| **mean** | " + " | ".join(means) + " |")


if __name__ == "__main__":
    main()
