"""Build the style bank each bundled model ships (``style_bank.safetensors`` beside its weights)
from the 35 public-domain museum paintings of ``../shared/data/paintings_pd``, with their credit
lines from ``paintings_pd.csv``, and write the bank's table into the model card.

    python scripts/make_style_bank.py [--src ../shared/data/paintings_pd] [--models model_card_lite model_card]

Names are ``<artist's surname>-<title>`` in lower case (``van-gogh-madame-roulin``), what
``adain stylize photo.jpg --style NAME`` and the app's gallery take. Statistics are taken in fp32
at 512 px (a :class:`~adain_hub.Stylizer`'s default style size). Run again after training a model:
a bank is tied to its encoder.
"""

from __future__ import annotations

import argparse
import csv
import re
from pathlib import Path

from adain_hub import AdaIN, StyleBank
from adain_hub.style_bank import slug, unique_names

ROOT = Path(__file__).resolve().parent.parent
BEGIN, END = "<!-- style bank: begin -->", "<!-- style bank: end -->"


def surname(artist: str) -> str:
    """``Vincent van Gogh`` -> ``van Gogh``; ``Francisco de Goya y Lucientes`` -> ``Goya``;
    ``attributed to Jan Brueghel I`` -> ``Brueghel``; ``Anonymous, British, ...`` -> ``Anonymous``."""
    words = [w for w in artist.split(",")[0].replace("attributed to", "").split() if not re.fullmatch(r"[IVX]+", w)]
    if "y" in words:
        return words[words.index("y") - 1]
    if len(words) >= 3 and words[-2].islower():
        return f"{words[-2]} {words[-1]}"
    return words[-1]


STOP = {"a", "an", "and", "at", "her", "his", "of", "the", "to", "two", "with"}


def name_of(row: dict[str, str]) -> str:
    """Surname and title, six words at most, without a dangling ``-of``, ``-and-her``..."""
    title = re.split(r"[(;:]", row["title"])[0]
    words = slug(f"{surname(row['artist'])} {title}", words=6).split("-")
    while len(words) > 2 and words[-1] in STOP:
        words.pop()
    return "-".join(words)


def credit_of(row: dict[str, str]) -> str:
    date = f" ({row['date']})" if row["date"] else ""
    return f"{row['artist']}, {row['title']}{date}. {row['museum']}, {row['licence']}. {row['url']}"


def card_table(bank: StyleBank) -> str:
    rows = "\n".join(f"| `{n}` | {c} |" for n, c in zip(bank.names, bank.credits))
    return (f"{BEGIN}\n## Style bank\n\n`style_bank.safetensors`: the AdaIN statistics of {len(bank)} public-domain "
            "museum paintings, for `adain stylize photo.jpg --style NAME`, `StyleAugment` and the app's gallery "
            "(`StyleBank.from_pretrained(...)`; the paintings themselves are not needed). Built by "
            "`scripts/make_style_bank.py`.\n\n| name | painting |\n|---|---|\n" + rows + f"\n{END}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", type=Path, default=ROOT.parent / "shared" / "data" / "paintings_pd")
    parser.add_argument("--models", nargs="+", type=Path, default=[ROOT / "model_card_lite", ROOT / "model_card"])
    args = parser.parse_args()
    with open(args.src / "paintings_pd.csv", newline="", encoding="utf-8") as f:
        rows = sorted(csv.DictReader(f), key=lambda r: r["file"])
    names = unique_names([name_of(r) for r in rows])
    for folder in args.models:
        model = AdaIN.from_pretrained(str(folder))
        bank = StyleBank.from_images(model, [args.src / r["file"] for r in rows], names=names,
                                     credits=[credit_of(r) for r in rows], backend="fp32")
        path = bank.save(folder / "style_bank.safetensors")
        card = folder / "README.md"
        text = card.read_text(encoding="utf-8")
        if BEGIN in text:
            text = text[: text.index(BEGIN)] + card_table(bank) + text[text.index(END) + len(END):]
        else:
            text = text.rstrip("\n") + "\n\n" + card_table(bank) + "\n"
        card.write_text(text, encoding="utf-8")
        print(f"{path}: {len(bank)} styles, {path.stat().st_size / 1024:.0f} KB; table in {card}")


if __name__ == "__main__":
    main()
