"""Where a model's style loss sits, layer by layer: the mean and std terms of ``adain eval``'s style loss
at relu1_1 ... relu4_1 (their sum is its style loss), and its content loss, averaged over photos x
paintings, for each model given. Used in docs/finetune.md to see what a fine-tune moves.

    python scripts/style_layers.py --contents ../shared/data/bench/content --limit-contents 4 \
        --styles kuindzhi/heldout --model before=model_card_lite after=runs/kuindzhi/model
"""

from __future__ import annotations

import argparse

import torch

from adain_hub import AdaIN, Stylizer
from adain_hub import evaluation as ev
from adain_hub import functional as AF
from adain_hub.backends import cpu_has_bf16
from adain_hub.images import fit

LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--contents", required=True)
    parser.add_argument("--limit-contents", type=int, default=4)
    parser.add_argument("--styles", required=True)
    parser.add_argument("--model", nargs="+", required=True, metavar="NAME=PATH")
    parser.add_argument("--judge", default="model_card")
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()

    dtype = torch.bfloat16 if cpu_has_bf16() else torch.float32
    judge = ev.Judge(AdaIN.from_pretrained(args.judge), args.size, dtype)
    photos = [judge.reference(n, im) for n, im in ev.load_folder(args.contents, args.limit_contents, args.size)[0]]
    paintings = [judge.reference(n, im) for n, im in ev.load_folder(args.styles, size=args.size)[0]]
    print(f"{len(photos)} photos x {len(paintings)} paintings at {args.size} px; mean over the pairs\n")
    print("| model | " + " | ".join(f"{layer} mean / std" for layer in LAYERS) + " | style loss | content loss |")
    print("|---|" + "---:|" * (len(LAYERS) + 2))
    for spec in args.model:
        name, path = spec.split("=", 1)
        stylizer = Stylizer(AdaIN.from_pretrained(path), backend="fp32", size=args.size, style_size=args.size,
                            cache_size=0)
        terms, content = torch.zeros(len(LAYERS), 2), 0.0
        for photo in photos:
            for painting in paintings:
                out = fit(stylizer.stylize(photo.image, painting.image).convert("RGB"), photo.image.size)
                feats = judge.features(out)
                terms += judge.style_terms(feats, painting).float()
                content += float(AF.content_loss(feats[-1], photo.relu4_1))
        n = len(photos) * len(paintings)
        terms /= n
        cells = " | ".join(f"{m:.4g} / {s:.4g}" for m, s in terms.tolist())
        print(f"| {name} | {cells} | {float(terms.sum()):.4g} | {content / n:.4g} |")


if __name__ == "__main__":
    main()
