"""The picture of the int8 engine on docs/augmentation.md: for a few photos of ``examples/``, VGG-19's
output through the float engine (OpenVINO, bf16 where the CPU has it), through ``openvino-int8``, and
their difference magnified 4x, with each pair's PSNR in the file's caption line printed here.

    python scripts/make_int8_sheet.py [--model model_card] [--out docs/int8.jpg]

Seeded: the same draws (styles from the model's bank, alpha in [0.5, 1]) for both engines.
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
PHOTOS = ["astronaut.jpg", "chelsea.jpg", "coffee.jpg", "rocket.jpg"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "model_card"))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "int8.jpg")
    args = parser.parse_args()

    prepare = v2.Compose([v2.PILToTensor(), v2.Resize(256, antialias=True), v2.CenterCrop(224),
                          v2.ToDtype(torch.float32, scale=True)])
    photos = torch.stack([prepare(load_image(ROOT / "examples" / name)) for name in PHOTOS])
    model = AdaIN.from_pretrained(args.model)
    float_out = StyleAugment(model, p=1.0, seed=0)(photos)
    int8_out = StyleAugment(model, p=1.0, seed=0, backend="openvino-int8")(photos)
    difference = ((int8_out - float_out).abs() * 4).clamp(0, 1)
    psnr = [float(10 * torch.log10(1 / (a - b).pow(2).mean())) for a, b in zip(int8_out, float_out)]
    rows = torch.cat([float_out, int8_out, difference])  # one row each
    to_pil(make_grid(rows, nrow=len(PHOTOS), padding=4, pad_value=1.0)).save(args.out, quality=88)
    print(f"{args.out}: rows float, int8, |int8 - float| x 4; PSNR int8 to float " +
          ", ".join(f"{p:.1f}" for p in psnr) + " dB")


if __name__ == "__main__":
    main()
