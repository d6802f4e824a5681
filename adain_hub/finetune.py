"""``adain finetune``: fine-tune a model on one painter's works, measure it before and after on works it
never saw, and write a model folder with its card (and push it to the Hub).

One call, :func:`run_finetune`, within a wall-clock budget (``minutes``, everything included): the
user's paintings are checked and about one in five held back; a few photos are held back too; the
base model is scored on those photos with the held-back paintings and with a fixed set of paintings by
others; the training loop of :mod:`adain_hub.training` then runs in-process on the rest, the user's
paintings drawn as often as a fixed subset of the base's own, which are anchored to the base's output
and the encoder frozen (so the rest is not forgotten), with the base's recipe from its ``training.json``; it stops so that the second scoring fits in the budget;
``OUT/model`` gets the weights, ``training.json`` naming the base, a style bank of the user's
paintings, ``eval/`` (pairs, table, contact sheet) and the card. Why each default: docs/finetune.md.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from . import evaluation as ev
from . import finetune_card as card
from .backends import cpu_has_bf16
from .finetune_data import (FinetuneError, check_paintings, copy_files, hub_images, keep_folders, pick_files,
                            readable, split_holdout, style_folders, link_files)
from .history import History
from .hub import hub_reachable, load_model, looks_like_path
from .images import iter_image_files
from .model import STYLE_BANK_FILE, AdaIN

__all__ = ["FinetuneConfig", "FinetuneError", "FinetuneResult", "Recipe", "plan_recipe", "push", "run_finetune",
           "upload_files"]

LR = 1e-4  # about the base's own rate where its schedule ended: 5e-4 / (1 + 5e-5 * 83,288) = 9.7e-5
LR_DECAY = 5e-5  # the project's schedule; over a fine-tune's ~1,000 steps it changes the rate by 5%
USER_SHARE = 0.5  # the probe of the issue: 1/2 kept others' style at 1.04x where the user's alone gave 1.25x
KEEP_COUNT = 410  # ten from each of the base's 41 style folders: 5x the probe's 82, for a pool of ~225 MB
HOLDOUT = 0.2  # about one painting in five is kept back to measure on (at least two)
EVAL_PHOTOS = 8
EVAL_SIZE = 384  # the judge's cost grows with the area: 384 px is about half of 512's, and 2 x 112 pairs fit
TARGET_CACHE = 128  # cached crops per feed (each still serves ~4 times): a 2,048 cache takes minutes to fill at 256 px
# the base's paintings keep the base's output (pixel MSE, 20x the identity loss's weight): at 200 others' SSIM
# still fell to 0.96x at 512 px; 1,000 held it at 0.98x with content and style on them 0.98x (docs/finetune.md)
ANCHOR_WEIGHT = 1000.0
WARMUP_STEPS = 100
RESIZE = 512  # the shorter side training photos and paintings are brought down to before cropping
BATCH = 8  # 8 photos x 8 paintings: the base's CPU batch (its GPU runs took 16 x 16, ~4x the time a step here)
EVAL_SPLITS = ("val", "validation", "test")
Notes = Callable[[str], None]
Progress = Callable[[str, int, "int | None"], None]  # (phase, done, total): before, train, after


@dataclass
class FinetuneConfig:
    """What ``adain finetune`` was asked; ``model`` is the base, ``judge`` the VGG-19 model that is the
    loss network and scores before and after (as in ``adain eval``)."""

    styles: str
    out: str
    model: str
    judge: str
    keep_styles: str
    photos: str = "detection-datasets/coco"
    others: Sequence[str] | str | None = None  # paintings by others to measure on (files or a folder)
    minutes: float = 15.0
    keep_count: int = KEEP_COUNT
    user_share: float = USER_SHARE
    holdout: float = HOLDOUT
    eval_photos: int = EVAL_PHOTOS
    eval_size: int = EVAL_SIZE
    eval_backend: str = "fp32"  # deterministic, so that adain eval --backend fp32 gives the same pairs
    lr: float = LR
    image_size: int | None = None  # None: the base's last crop, capped by the smallest painting
    resize: int = RESIZE
    style_weight: float | None = None  # None: the base's
    anchor_weight: float = ANCHOR_WEIGHT  # 0: the base's paintings judged like yours instead
    max_steps: int | None = None
    seed: int = 0
    min_paintings: int = 10
    min_painting_side: int = 128
    base_repo_id: str | None = None  # the base on the Hub, for the card's link and metadata
    judge_repo_id: str | None = None  # the judge on the Hub: how the card names it (a local path means nothing there)
    repo_id: str | None = None  # where the fine-tune will be pushed: the card's usage example names it

    def __post_init__(self) -> None:
        for name in ("minutes", "eval_photos", "eval_size", "keep_count", "lr", "resize"):
            if not getattr(self, name) > 0:
                raise FinetuneError(f"{name} must be positive, got {getattr(self, name)}")
        if not self.anchor_weight >= 0:
            raise FinetuneError(f"anchor_weight must be 0 (off) or more, got {self.anchor_weight}")
        if self.style_weight is not None and not self.style_weight > 0:
            raise FinetuneError(f"style_weight must be positive, got {self.style_weight}")
        if not 0 < self.holdout < 1:
            raise FinetuneError(f"holdout is a share of the paintings, between 0 and 1, got {self.holdout}")
        keep_folders(self.user_share)  # checks it


@dataclass
class Recipe:
    """The fine-tune's settings and, for the card, why each is what it is."""

    lr: float
    image_size: int
    identity_weight: float
    style_weight: float
    judge_padding: str
    reasons: dict[str, str] = field(default_factory=dict)


def plan_recipe(history: History, architecture: str, smallest_side: int, lr: float = LR,
                image_size: int | None = None, style_weight: float | None = None,
                anchor_weight: float = ANCHOR_WEIGHT) -> Recipe:
    """The base's last run (losses, identity weight, crop size, judge padding) with the fine-tuning
    settings: ``lr``, and the crop: the base's last, capped by the smallest painting (training never
    upscales, so a crop larger than a painting would leave it out)."""
    last = history.runs[-1] if history.runs else None
    lite = architecture == "lite"
    identity = last.identity_weight if last else (50.0 if lite else 0.0)
    base_style = last.style_weight if last else (7.0 if lite else 10.0)
    style = style_weight or base_style
    base_crop = last.image_size if last else 256
    crop = image_size or min(base_crop, smallest_side // 8 * 8)
    origin = "the base's last run" if last else "no training.json beside the base: the project's defaults"
    reasons = {
        "losses": f"content 1, style {style:g}, identity {identity:g} ({origin}"
                  + (f", style {base_style:g} there" if style != base_style else "") + ")" + (
                      f"; the base's paintings anchored to its output (pixel MSE, weight {anchor_weight:g}) instead, "
                      "so that they keep it" if anchor_weight else ""),
        "crops": f"{crop} px" + ("" if image_size else f": the base's last crop size ({base_crop} px)"
                                 + (f", capped by the smallest painting ({smallest_side} px)" if crop < base_crop else "")),
        "learning rate": f"{lr:g} (Adam, {WARMUP_STEPS} warm-up steps)" + (
            f": about the base's own where its schedule ended ({last.lr:g} / (1 + {LR_DECAY:g} x {last.last_step:,}) "
            f"= {last.lr / (1 + LR_DECAY * last.last_step):.2g})" if last else ""),
    }
    return Recipe(lr, crop, identity, style, last.judge_padding if last else "reflect", reasons)


@dataclass
class FinetuneResult:
    model_dir: Path
    table: list[dict]
    steps: int
    train_minutes: float
    warnings: list[str]


def _base_history(model: str) -> History:
    """The base's ``training.json``: in its folder, or beside its weights on the Hub (or in the cache)."""
    if Path(model).is_dir():
        return History.load(model)
    try:
        from huggingface_hub import hf_hub_download

        return History.load(Path(hf_hub_download(model, "training.json", local_files_only=not hub_reachable())).parent)
    except Exception:  # noqa: BLE001 - no history there: the project's defaults apply
        return History()


def _files(source: Sequence[str] | str) -> list[Path]:
    if isinstance(source, (str, Path)):
        if not Path(source).is_dir():
            raise FinetuneError(f"{source}: no such folder of paintings")
        return list(iter_image_files(source))
    return [Path(p) for p in source]


def _prepare(config: FinetuneConfig, out: Path, note: Notes) -> tuple[list[Path], list[Path], str, list[int], dict]:
    """Checks, splits, copies and links; returns (train paintings, all usable paintings, the content
    dataset training reads, the training paintings' shorter sides, facts for the card)."""
    styles_dir, work, evals = Path(config.styles).resolve(), out / "work", out / "eval"
    local_photos = looks_like_path(config.photos) or Path(config.photos).is_dir()
    photos_dir = Path(config.photos).resolve()
    if local_photos and (photos_dir == styles_dir or styles_dir in photos_dir.parents
                         or photos_dir in styles_dir.parents):
        raise FinetuneError(f"--photos {config.photos} and --styles {config.styles} overlap: give the paintings "
                            "and the photos in separate folders")
    check = check_paintings(config.styles, config.min_paintings, config.min_painting_side)
    for line in check.warnings(config.styles):
        note(f"warning: {line}")
    sides = dict(zip(check.usable, check.short_sides))
    train_p, held_p = split_holdout(check.usable, config.holdout, config.seed)
    if local_photos:
        if not photos_dir.is_dir():
            raise FinetuneError(f"{config.photos}: no such folder of photos")
        files = list(iter_image_files(photos_dir))
        order = random.Random(config.seed).sample(files, len(files))
        held = readable(order, config.eval_photos)
        chosen = set(held)
        rest = [p for p in files if p not in chosen]
        if len(held) < config.eval_photos or len(rest) < 2 * BATCH:
            raise FinetuneError(f"{config.photos}: {len(files)} photos; a fine-tune needs {config.eval_photos} to "
                                f"measure on and at least {2 * BATCH} more to train on")
        copy_files(held, evals / "photos")
        link_files(rest, work / "photos")
        content, photo_note = str(work / "photos"), f"{len(rest):,} of {config.photos} ({len(held)} held out)"
    else:
        split = _eval_split(config.photos)
        hub_images(config.photos, split, config.eval_photos, evals / "photos")
        content, photo_note = config.photos, f"{config.photos}, train split ({config.eval_photos} of {split} held out)"
    keep_src = Path(config.keep_styles)
    if looks_like_path(config.keep_styles) and not keep_src.is_dir():
        raise FinetuneError(f"{config.keep_styles}: no such folder of paintings to mix in")
    if config.others is not None:
        others = _files(config.others)
    elif keep_src.is_dir():
        others = pick_files(keep_src, 8, config.seed + 7)
    else:
        others = hub_images(config.keep_styles, "train", 8, work / "others_src", seed=config.seed + 7)
    if keep_src.is_dir():
        keep = pick_files(keep_src, config.keep_count, config.seed, exclude=others)
    else:
        keep = hub_images(config.keep_styles, "train", config.keep_count, work / "keep_src", seed=config.seed)
    if not keep:
        raise FinetuneError(f"{config.keep_styles}: no paintings of the base's to mix in")
    copy_files(held_p, evals / "yours")
    copy_files(others, evals / "others")
    style_folders(train_p, keep, keep_folders(config.user_share), work / "styles")
    facts = {"n_train": len(train_p), "n_heldout": len(held_p), "n_others": len(others), "n_keep": len(keep),
             "photos": photo_note, "heldout_names": [p.name for p in held_p]}
    return train_p, check.usable, content, [sides[p] for p in train_p], facts


MARKER = ".adain-finetune"  # in OUT: the folders below are this command's, and a rerun may clear them


def _clear_leftovers(out: Path) -> None:
    """An earlier run into ``out`` that stopped before its model was saved leaves ``eval/`` and ``work/``
    behind: cleared, so a rerun measures and trains on its own picks only (never folders it did not make)."""
    import shutil

    ours = [out / "eval", out / "work", out / "losses.csv"]
    if any(p.exists() for p in ours) and not (out / MARKER).is_file():
        raise FinetuneError(f"{out} holds eval/ or work/ that adain finetune did not make: choose another --out")
    for path in ours:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("made by adain finetune: eval/ and work/ are cleared when it runs again\n")


def _eval_split(source: str) -> str:
    from datasets import get_dataset_split_names

    try:
        names = get_dataset_split_names(source)
    except Exception as exc:  # noqa: BLE001 - offline, no such dataset: one line
        raise FinetuneError(f"--photos {source}: not a local folder, and the Hub dataset cannot be read ({exc})") from None
    split = next((s for s in EVAL_SPLITS if s in names), None)
    if split is None:
        raise FinetuneError(f"--photos {source}: no held-out split ({'/'.join(EVAL_SPLITS)}) to measure on; give a folder")
    return split


def run_finetune(config: FinetuneConfig, notes: Notes | None = None, progress: Progress | None = None) -> FinetuneResult:
    """Fine-tune ``config.model`` on ``config.styles``; see the module's docstring. Raises
    :class:`FinetuneError` (one line) for what the user can fix; ``notes`` gets warnings and facts
    (one line each), ``progress(phase, done, total)`` the work as it goes."""
    import torch
    from accelerate import Accelerator
    from accelerate.utils import ProjectConfiguration, set_seed

    from .style_bank import StyleBank, slug, unique_names
    from .training import TrainConfig, device_name, resolve_mixed_precision, train

    started = time.monotonic()
    tick, warnings = progress or (lambda phase, done, total: None), []

    def note(line: str) -> None:
        if line.startswith("warning:"):
            warnings.append(line)
        if notes:
            notes(line)

    out = Path(config.out)
    if (out / "model" / "config.json").exists():
        raise FinetuneError(f"{out / 'model'} already holds a model: choose another --out, or remove it")
    _clear_leftovers(out)
    train_p, usable, content, sides, facts = _prepare(config, out, note)
    base, judge_model = load_model(config.model), load_model(config.judge)
    history = _base_history(config.model)
    recipe = plan_recipe(history, base.config.architecture, min(sides), config.lr, config.image_size,
                         config.style_weight, config.anchor_weight)
    if recipe.image_size > config.resize:
        raise FinetuneError(f"resize {config.resize} is under the {recipe.image_size} px crop: give a resize of at "
                            "least the crop")
    recipe.reasons["crops"] += f", cut from images brought down to {config.resize} px on their shorter side"
    note(f"{facts['n_train']} paintings to learn from, {facts['n_heldout']} held out; mixed with {facts['n_keep']} of "
         f"the base's; {recipe.image_size} px crops, lr {recipe.lr:g}, style weight {recipe.style_weight:g}, "
         f"identity weight {recipe.identity_weight:g}")

    judge_dtype = torch.bfloat16 if cpu_has_bf16() else torch.float32
    judge = ev.Judge(judge_model, config.eval_size, judge_dtype)
    photos, _ = ev.load_folder(out / "eval" / "photos", size=config.eval_size)
    sets = {k: ev.load_folder(out / "eval" / k, size=config.eval_size)[0] for k in card.SETS}
    timed = time.monotonic()
    before = card.evaluate_model(base, "before", photos, sets, judge, config.eval_size, config.eval_backend,
                                 lambda d, t: tick("before", d, t))
    eval_seconds = time.monotonic() - timed
    stop_at = started + 60 * config.minutes - (1.25 * eval_seconds + 15)  # the second scoring, the bank, the card
    if stop_at <= time.monotonic():
        raise FinetuneError(f"--minutes {config.minutes:g} leaves no time to train: scoring the base alone took "
                            f"{eval_seconds:.0f} s (fewer --eval-photos, or more minutes)")

    train_config = TrainConfig(
        content_dataset=content, style_dataset=str(out / "work" / "styles"), output_dir=str(out),
        pretrained=config.model, encoder_from=config.judge, lr=recipe.lr, lr_decay=LR_DECAY, batch_size=BATCH,
        styles_per_batch=BATCH, image_size=recipe.image_size, resize=config.resize, style_weight=recipe.style_weight,
        identity_weight=recipe.identity_weight, max_steps=config.max_steps or 10**9, checkpoint_every=10**9,
        checkpoints_kept=1, sample_every=10**9, balance_by="label", warmup_steps=WARMUP_STEPS, seed=config.seed,
        loop="fast", target_cache=TARGET_CACHE, judge_padding=recipe.judge_padding, log_with=None, log_every=10,
        freeze_encoder=True, anchor_weight=config.anchor_weight, anchor_styles=tuple(
            str(p) for p in sorted((out / "work" / "styles").glob("base_*"))) if config.anchor_weight else ())
    accelerator = Accelerator(mixed_precision=resolve_mixed_precision("auto"), log_with=None,
                              project_config=ProjectConfiguration(project_dir=str(out)))
    set_seed(config.seed)
    steps = [0]

    def on_step(step: int, logs: dict) -> None:
        steps[0] = step
        tick("train", step, None)

    trained_at = time.monotonic()
    train(train_config, accelerator, on_step=on_step, stop_at=stop_at)
    train_minutes = (time.monotonic() - trained_at) / 60

    model_dir = out / "model"
    after_model = load_model(model_dir)  # what a user loads: the saved folder, not the in-memory copy
    after = card.evaluate_model(after_model, "after", photos, sets, judge, config.eval_size, config.eval_backend,
                                lambda d, t: tick("after", d, t))
    results = {k: card.merge(before[k], after[k]) for k in before}
    card.write_eval(results, model_dir / "eval")
    names = unique_names([slug(p.stem) or "painting" for p in usable])
    bank = StyleBank.from_images(after_model, usable, names=names, backend=config.eval_backend)
    bank.save(model_dir / STYLE_BANK_FILE)
    _name_the_base(model_dir, config, history, facts)
    rows = card.table(results)
    recipe.reasons.update({
        "started from": config.base_repo_id or config.model,
        "paintings": f"{facts['n_train']} of yours drawn {config.user_share:.0%} of the time, {facts['n_keep']} of the "
                     "base's the rest" + (", anchored to the base's output" if config.anchor_weight else "")
                     + " (so that the styles it knew are not forgotten)",
        "encoder": "frozen: the base's features, so its style banks work with this model too",
        "photos": facts["photos"],
        "batch": f"{BATCH} photos x {BATCH} paintings",
        "steps": f"{steps[0]:,} in {train_minutes:.1f} minutes (data setup included; {device_name(accelerator.device)})",
        "loop": f"fast: a frozen copy of the loss network in {accelerator.mixed_precision.replace('no', 'fp32')}, "
                f"{TARGET_CACHE} cached crops per feed",
        "held out": ", ".join(facts["heldout_names"]),
    })
    card.write_card(
        after_model, model_dir, config.base_repo_id, title=f"{Path(config.styles).resolve().name}: a fine-tuned AdaIN",
        base_name=config.base_repo_id or config.model, n_train=facts["n_train"],
        minutes=f"{(time.monotonic() - started) / 60:.0f}",
        device=device_name(accelerator.device), repo_id=config.repo_id or str(model_dir),
        first_style=names[0], n_photos=len(photos), n_heldout=facts["n_heldout"], n_others=facts["n_others"],
        judge=f"{str(judge_dtype).removeprefix('torch.')}, {judge_label(config, judge_model)}", eval_size=config.eval_size,
        results_table=card.table_markdown(rows), recipe=recipe.reasons, n_bank=len(names),
        bank_names=", ".join(f"`{n}`" for n in names[:4]) + (", ..." if len(names) > 4 else ""),
        check_commands=check_commands(config, out))
    return FinetuneResult(model_dir, rows, steps[0], train_minutes, warnings)


def judge_label(config: FinetuneConfig, judge_model: AdaIN) -> str:
    """How the card names its judge for a reader anywhere: its Hub id, or else a local folder's name with
    the model's fingerprint (which tells whether another copy is the same model)."""
    if config.judge_repo_id:
        return f"`{config.judge_repo_id}`"
    if Path(config.judge).expanduser().is_dir():
        return f"the VGG-19 model of a local folder `{Path(config.judge).name}` (fingerprint {judge_model.fingerprint()})"
    return f"`{config.judge}`"


def check_commands(config: FinetuneConfig, out: Path) -> str:
    """The ``adain eval`` commands that score the same pairs as the card's table, set by set."""
    dtype = "bf16" if cpu_has_bf16() else "fp32"
    return "\n".join(
        f"adain eval --contents {out}/eval/photos --styles {out}/eval/{key} --model before={config.model} "
        f"after={out}/model --judge {config.judge} --judge-dtype {dtype} --size {config.eval_size} "
        f"--backend {config.eval_backend} --sweep-pairs 0 --out {out}/check_{key}\n"
        f"python scripts/median_ratios.py {out}/check_{key}/pairs.csv --baseline before" for key in card.SETS)


def _name_the_base(model_dir: Path, config: FinetuneConfig, history: History, facts: dict) -> None:
    """``training.json`` (written by training: this fine-tune's run) gains the base it started from."""
    path = model_dir / "training.json"
    data = json.loads(path.read_text())
    data["base_model"] = {"name": config.base_repo_id or config.model, "source": config.model,
                          "steps": history.steps, "hours": round(history.hours, 3)}
    data["finetune"] = {"styles": str(config.styles), "paintings": facts["n_train"], "held_out": facts["heldout_names"],
                        "base_paintings_mixed_in": facts["n_keep"], "user_share": config.user_share,
                        "minutes": config.minutes}
    path.write_text(json.dumps(data, indent=1) + "\n")


UPLOADED = ("model.safetensors", "config.json", "README.md", "training.json", STYLE_BANK_FILE,
            "eval/contact_sheet.jpg", "eval/summary.md", "eval/pairs.csv")


def upload_files(model_dir: str | Path) -> list[str]:
    """What :func:`push` uploads of a fine-tune's folder: weights, config, card, history, style bank,
    the sheet and the scores (not the checkpoints, samples or the held-out images)."""
    return [name for name in UPLOADED if (Path(model_dir) / name).is_file()]


def push(model_dir: str | Path, repo_id: str, private: bool = False, token: str | None = None) -> str:
    """Upload the fine-tune's folder to the Hub as ``repo_id``; returns the commit's URL.
    :class:`FinetuneError` when the Hub cannot be reached (the folder stays ready for ``hf upload``)."""
    from huggingface_hub import create_repo, upload_folder

    folder = Path(model_dir)
    if not (folder / "model.safetensors").is_file():
        raise FinetuneError(f"{folder}: no model to push")
    if not hub_reachable():
        raise FinetuneError(f"offline: nothing pushed; {folder} is ready, upload it later with "
                            f"`hf upload {repo_id} {folder}`")
    create_repo(repo_id, private=private, exist_ok=True, token=token)
    info = upload_folder(repo_id=repo_id, folder_path=str(folder), allow_patterns=upload_files(folder), token=token,
                         commit_message="adain finetune: weights, card, style bank and before/after scores")
    return str(getattr(info, "commit_url", info))
