"""``adain finetune``: flags to :class:`~adain_hub.finetune.FinetuneConfig` (with the defaults that depend
on where the command runs: the Hub, this repository's examples and development data), progress bars,
the before/after table on stdout, and the push. The parser lives in :mod:`adain_hub.cli`, which turns a
:class:`CommandError` into its one line and exit code (this module never imports it back)."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Callable

from .images import one_line

from .command import USAGE_ERROR, CommandError
REPO = Path(__file__).resolve().parent.parent
COCO = "detection-datasets/coco"
WIKIART = "huggan/wikiart"
# the base's own paintings, where this repository sits beside its development data (../shared)
DEV_KEEP_STYLES = REPO.parent / "shared" / "data" / "train" / "style_peopleart"
EXAMPLES = REPO / "examples"
# the Hub ids of the models this repository bundles: the card links the base there
BUNDLED = {(REPO / "model_card_lite").resolve(): "adain-hub/adain-lite", (REPO / "model_card").resolve(): "adain-hub/adain-vgg19"}
_REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def example_paintings(folder: Path = EXAMPLES) -> list[Path]:
    """The public-domain paintings of ``examples/`` (the files ``PAINTINGS.md`` lists): the fixed set of
    paintings by others that every fine-tune is measured on."""
    listing = folder / "PAINTINGS.md"
    if not listing.is_file():
        return []
    names = re.findall(r"^\| `([^`]+\.(?:jpg|jpeg|png))` \|", listing.read_text(encoding="utf-8"), flags=re.M)
    return [folder / n for n in names if (folder / n).is_file()]


def base_repo_id(model: str) -> str | None:
    """The base's Hub id: the id given, or the one of a folder this repository bundles; else none."""
    from .hub import looks_like_path

    path = Path(model).expanduser()
    if path.is_dir():
        return BUNDLED.get(path.resolve())
    return None if looks_like_path(model) else model


def config_from_args(args: argparse.Namespace, online: Callable[[], bool]):
    """The flags as a :class:`FinetuneConfig`; a :class:`CommandError` (exit 2) for what cannot work."""
    from .finetune import FinetuneConfig, FinetuneError

    if args.push_to_hub and not _REPO_ID.match(args.push_to_hub):
        raise CommandError(f"--push-to-hub {args.push_to_hub!r}: give a Hub repository id, NAME or ORG/NAME",
                           USAGE_ERROR)
    photos = args.photos
    if photos is None:
        if not online():
            raise CommandError(f"give --photos DIR: the default, the Hub's {COCO}, cannot be reached offline",
                               USAGE_ERROR)
        photos = COCO
    keep = args.keep_styles
    if keep is None:
        if DEV_KEEP_STYLES.is_dir():
            keep = str(DEV_KEEP_STYLES)
        elif online():
            keep = WIKIART
        else:
            raise CommandError(f"give --keep-styles DIR (paintings like the base's, to mix in so it does not forget "
                               f"them): the default, the Hub's {WIKIART}, cannot be reached offline", USAGE_ERROR)
    others = str(args.others) if args.others is not None else (example_paintings() or None)
    optional = {k: getattr(args, k) for k in ("image_size", "max_steps", "style_weight", "anchor_weight", "resize")
                if getattr(args, k) is not None}
    try:
        return FinetuneConfig(
            styles=str(args.styles), out=str(args.out), model=args.model, judge=args.judge, keep_styles=keep,
            photos=str(photos), others=others, minutes=args.minutes, keep_count=args.keep_count,
            user_share=args.user_share, eval_photos=args.eval_photos, eval_size=args.eval_size, lr=args.lr,
            seed=args.seed, base_repo_id=base_repo_id(args.model), judge_repo_id=base_repo_id(args.judge),
            repo_id=args.push_to_hub, **optional)
    except FinetuneError as exc:  # the config speaks of fields; the user typed flags
        message = str(exc)
        for name in ("minutes", "eval_photos", "eval_size", "keep_count", "lr", "holdout", "style_weight", "anchor_weight",
                     "resize"):
            message = re.sub(rf"\b{name}\b", "--" + name.replace("_", "-"), message)
        raise CommandError(message, USAGE_ERROR) from None


def run(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """The command; ``say`` writes one line to stderr without tearing the progress bar."""
    from tqdm import tqdm

    from .finetune import FinetuneError, push, run_finetune
    from .host_memory import retain_freed_memory
    from .hub import hub_reachable

    online_cache: list[bool] = []

    def online() -> bool:
        if not online_cache:
            online_cache.append(hub_reachable())
        return online_cache[0]

    config = config_from_args(args, online)
    if args.out.exists() and not args.out.is_dir():
        raise CommandError(f"{args.out}: --out must be a folder, and this is a file", USAGE_ERROR)
    retain_freed_memory()  # this process is ours: keep freed memory instead of faulting it in every step
    bars: dict[str, tqdm] = {}
    titles = {"before": "scoring the base", "train": "fine-tuning", "after": "scoring the fine-tune"}

    def progress(phase: str, done: int, total: int | None) -> None:
        if phase not in bars:
            for bar in bars.values():
                bar.close()
            bars[phase] = tqdm(total=total, desc=titles.get(phase, phase), unit="step" if phase == "train" else "pair",
                               file=sys.stderr)
        bars[phase].update(done - bars[phase].n)

    try:
        result = run_finetune(config, notes=say, progress=progress)
    except (FinetuneError, ValueError) as exc:  # the data, a model that cannot load, a dataset training refused
        raise CommandError(one_line(exc, 300)) from None
    finally:
        for bar in bars.values():
            bar.close()
    from .finetune_card import table_markdown

    print(table_markdown(result.table))
    say(f"wrote {result.model_dir} ({result.steps:,} steps in {result.train_minutes:.1f} minutes; the card is "
        f"{result.model_dir / 'README.md'})")
    if args.push_to_hub:
        try:
            url = push(result.model_dir, args.push_to_hub, private=args.private)
        except FinetuneError as exc:
            raise CommandError(str(exc)) from None
        except Exception as exc:  # noqa: BLE001 - authentication, HTTP: one line, the folder is intact
            raise CommandError(f"push to {args.push_to_hub} failed ({one_line(exc, 200)}); {result.model_dir} is "
                               f"ready, upload it later with `hf upload {args.push_to_hub} {result.model_dir}`") from None
        say(f"pushed to {url}")
    return 0
