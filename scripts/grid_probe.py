"""Where the lite model's mesh comes from (issue 32): grid scores of photos, of the model's outputs at
alpha 0 (its own reconstruction) and 1, of its decoder fed flat features (the std of what it draws, away from the borders), and of the same weights with
a blur put after either or both pixel shuffles, or after the last ReLU and the last shuffle (no
training); with the reconstruction's PSNR to the photo. Prints a Markdown table. Meant for a model
without the blurs (``antialias`` false), such as the 66,129-step lite model ``model_card_lite/`` was before
2026-12-07 (git ``77e760f``, checked out as ``runs/lite_66k``):

    python scripts/grid_probe.py --model runs/lite_66k --contents ../shared/data/bench/content \
        --styles ../shared/data/bench/style --pairs 12
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from adain_hub import AdaIN  # noqa: E402
from adain_hub import functional as AF  # noqa: E402
from adain_hub.grid import grid_score  # noqa: E402
from adain_hub.images import fit, iter_image_files, load_image, to_tensor, working_size  # noqa: E402
from adain_hub.model import ShuffleBlur  # noqa: E402


def with_blurs(model: AdaIN, where: tuple[str, ...]) -> AdaIN:
    """A copy of ``model`` whose decoder blurs after the named layers of its upsampling (``shuffle1``,
    ``relu2``, ``shuffle2``...): at half resolution before the last shuffle, at full resolution after it."""
    import copy
    from collections import OrderedDict

    model = copy.deepcopy(model)
    layers = OrderedDict()
    for name, module in model.decoder.up.named_children():
        layers[name] = module
        if name in where:
            layers[f"blur_{name}"] = (ShuffleBlur(3, (0, 1, 0, 1)) if name == "shuffle2"
                                      else ShuffleBlur(model.config.channels[0], (1, 0, 1, 0)))
    model.decoder.up = torch.nn.Sequential(layers)
    return model


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="model_card_lite")
    p.add_argument("--contents", required=True)
    p.add_argument("--styles", required=True)
    p.add_argument("--pairs", type=int, default=12)
    p.add_argument("--size", type=int, default=512)
    a = p.parse_args()
    torch.manual_seed(0)
    base = AdaIN.from_pretrained(a.model).eval()
    contents = sorted(iter_image_files(a.contents))[: a.pairs]
    styles = sorted(iter_image_files(a.styles))[: a.pairs]

    def load(path: Path) -> torch.Tensor:
        image = load_image(path)
        return to_tensor(fit(image, working_size(*image.size, a.size)))

    pairs = [(load(c), load(s)) for c, s in zip(contents, styles)]
    variants = {"the model": base, "blur after shuffle1": with_blurs(base, ("shuffle1",)),
                "blur after shuffle2": with_blurs(base, ("shuffle2",)),
                "blur after both shuffles (fastai's place)": with_blurs(base, ("shuffle1", "shuffle2")),
                "blur after the last ReLU and after shuffle2": with_blurs(base, ("relu2", "shuffle2"))}
    if base.config.antialias:  # already blurred: the probes of where to put them do not apply
        variants = {"the model": base}
    print("| what | grid, alpha 0 | grid, alpha 1 | flat features: pattern std (of 255) | alpha 0 PSNR dB |")
    print("|---|---:|---:|---:|---:|")
    print(f"| the photos | {statistics.median(grid_score(c) for c, _ in pairs):.1f} | | | |")
    with torch.inference_mode():
        for name, model in variants.items():
            scores, psnr = {0.0: [], 1.0: []}, []
            for c, s in pairs:
                fc, fs = model.encode(c)[-1], model.encode(s)[-1]
                for alpha in scores:
                    t = alpha * AF.adain(fc, fs) + (1 - alpha) * fc
                    out = model.decode(t).clamp(0, 1)
                    scores[alpha].append(grid_score(out))
                    if alpha == 0.0:
                        psnr.append(-10 * float(torch.log10((out - c).square().mean())))
            # flat features: each photo's mean feature everywhere (no content at all): what the decoder draws alone
            fc = model.encode(pairs[0][0])[-1]
            flat = model.decode(fc.mean(dim=(2, 3), keepdim=True).expand_as(fc).contiguous())
            spread = 255 * float(flat[..., 16:-16, 16:-16].std(dim=(-2, -1)).mean())  # all of it a pattern: the input is flat
            print(f"| {name} | {statistics.median(scores[0.0]):.1f} | {statistics.median(scores[1.0]):.1f} | "
                  f"{spread:.2f} | {statistics.median(psnr):.1f} |")


if __name__ == "__main__":
    main()
