"""The picture on docs/augmentation.md: photos (top row) as StyleAugment gives them to a training
run, with the model's famous paintings (middle row) and with random styles (bottom row).

    python scripts/make_augment_sheet.py [--model model_card_lite] [--out docs/augmentation.jpg]

The photos ship in ``examples/`` (NASA, scikit-image: public domain or CC0), so the picture may be
shown anywhere. Seeded: the same model gives the same sheet.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torchvision.transforms import v2
from torchvision.utils import make_grid

from adain_hub import AdaIN, StyleAugment
from adain_hub.images import load_image, to_pil

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg", "brick.jpg", "grass.jpg"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "model_card_lite"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "augmentation.jpg")
    args = parser.parse_args()
    model = AdaIN.from_pretrained(args.model)
    crop = v2.Compose([v2.PILToTensor(), v2.Resize(224, antialias=True), v2.CenterCrop(224)])
    photos = torch.stack([crop(load_image(ROOT / "examples" / p)) for p in PHOTOS])  # uint8, as a loader gives
    famous = StyleAugment(model, p=1.0, alpha=(0.7, 1.0), seed=1)(photos)
    random = StyleAugment(model, "random", p=1.0, alpha=(0.7, 1.0), seed=1)(photos)
    sheet = make_grid(torch.cat([photos, famous, random]).float() / 255, nrow=len(PHOTOS), padding=4, pad_value=1)
    to_pil(sheet).save(args.out, quality=80)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
