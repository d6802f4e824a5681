"""Train (or fine-tune) the AdaIN decoder with accelerate on streamed datasets.

    # train from scratch on local folders, on this machine
    python train_accelerate.py --content-dataset data/content --style-dataset data/style --max-steps 5000
    # fine-tune the shipped model on your own paintings
    python train_accelerate.py --pretrained model_card --style-dataset my_paintings/ --max-steps 500
    # continue a model trained in earlier sessions: its steps, schedule and history go on
    python train_accelerate.py --resume-from model_card_lite --content-dataset ... --time-limit-minutes 150
    # several processes / GPUs
    accelerate launch --multi_gpu --num_processes 2 train_accelerate.py ...
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import re
import sys
import typing
from pathlib import Path

from accelerate import Accelerator
from accelerate.utils import ProjectConfiguration, set_seed
from tqdm.auto import tqdm

from adain_hub.history import History
from adain_hub.host_memory import retain_freed_memory
from adain_hub.images import one_line
from adain_hub.training import RECIPES, TrainConfig, resolve_mixed_precision, train

BUNDLED_MODEL = str(Path(__file__).resolve().parent / "model_card")

HELP = {
    "content_dataset": "content images: a Hub dataset id (streamed) or a local folder",
    "style_dataset": "style images: a Hub dataset id (streamed) or a local folder of style sub-folders",
    "output_dir": "checkpoints, samples, logs and the final model go here",
    "recipe": "preset: 'paper' (Adam, 8 contents x 8 styles) or 'sgd' (SGD momentum 0.9, 8 contents x 1 style); "
              "flags given explicitly override it",
    "optimizer": "adam or sgd",
    "lr": "learning rate",
    "lr_decay": "inverse-time decay: lr / (1 + lr_decay * step)",
    "batch_size": "content images per step and process",
    "styles_per_batch": "style images per step: 1 or the batch size",
    "image_size": "side of the random square crops",
    "resize": "shorter side images are brought down to before cropping (never up: smaller ones keep their size)",
    "content_weight": "weight of the content loss",
    "style_weight": "weight of the style loss",
    "max_steps": "stop after this many optimizer steps (counting from step 0, across resumes)",
    "gradient_accumulation_steps": "micro-batches per optimizer step",
    "checkpoint_every": "save a resumable checkpoint every N steps",
    "checkpoints_kept": "how many checkpoints to keep",
    "sample_every": "save a content | style | output grid every N steps",
    "balance_by": "label column to draw styles evenly from ('auto': style or label if present; 'none' to switch off)",
    "skip_grayscale": "leave out grayscale images of the contents, of both datasets (all), or of none; "
                      "grayscale paintings (engravings, ink) are kept by default",
    "pretrained": "start from this model (folder or Hub id) and fine-tune it",
    "encoder_from": "the VGG-19 model whose encoder a fresh VGG decoder is trained for, and the loss network of "
                    "a lite model",
    "upsample": "decoder upsampling for a fresh decoder: nearest (paper) or bilinear",
    "architecture": "for a fresh model: vgg19 (the paper's; trains a decoder for --encoder-from's VGG encoder) or "
                    "lite (a small network for CPUs, trained whole; --encoder-from's VGG is its loss network)",
    "channels": "a fresh lite network's widths at 1/2 and 1/4 resolution (default: 16 48)",
    "blocks": "a fresh lite network's residual blocks on each side of its features, split between its two levels",
    "identity_weight": "weight of the identity loss (a photo decoded from its own features, compared in pixels; "
                       "0: off)",
    "resume": "continue from the latest checkpoint in --output-dir",
    "resume_from": "continue a model folder this script saved (e.g. the committed model_card_lite): its weights, its "
                   "step count and learning-rate schedule from its training.json, with a fresh Adam; its last run's "
                   "recipe (lr, loss weights, crop size, batch, judge padding) is the default for the flags not given",
    "warmup_steps": "with --resume-from or --pretrained: the fresh Adam's learning rate ramps up over this many steps",
    "seed": "random seed",
    "decode_threads": "threads decoding images for each stream (0: with --loader pool, up to 8; "
                      "with --loader stream, decode in the training loop)",
    "time_limit_minutes": "stop (with a checkpoint and a saved model) after this many minutes",
    "mixed_precision": "auto (bf16 where the GPU or CPU runs it natively, else fp32), no, bf16 or fp16",
    "log_with": "tracker: tensorboard or none",
    "record_seen": "write the file names each process trained on to OUTPUT_DIR/seen/rank_N.tsv",
    "loader": "pool: decode each image once into memory on the training device and cut crops and flips there; "
              "stream: decode every crop's image again on the host (the old loader, for comparison)",
    "pool_size": "images each pool holds (contents and styles each); a dataset that fits is read once, "
                 "a larger one (a Hub dataset) is refreshed from its stream",
    "pool_refresh": "for datasets larger than --pool-size: new images swapped into a pool per step, at most "
                    "(0: never)",
    "max_upscale": "images whose shorter side is under --image-size are upscaled to it only up to this factor, "
                   "and left out beyond it (1: never upscale)",
    "compile": "torch.compile the forward and backward pass (minutes to compile; falls back to eager if it fails)",
    "log_every": "read the losses (which waits for the GPU) and log every N steps",
    "loop": "fast: the loss network runs as a frozen copy in the step's precision (bf16 where the hardware has it) "
            "and judges each crop once (--target-cache); plain: the loop as it was, for comparison",
    "target_cache": "fast loop: photo crops and painting crops each kept with their loss-network targets "
                    "(0: judge every batch's crops anew)",
    "target_refresh": "fast loop: share of a batch replaced by new crops per step (1: every crop used once on "
                      "average; 0.25: about 4 times)",
    "judge_padding": "fast loop: reflect (the loss network as trained and as adain eval judges) or zero (each "
                     "convolution pads itself: no padding pass, a judge that differs at the borders)",
    "anchor_styles": "fine-tuning: style folders (inside --style-dataset) whose paintings keep the starting model's "
                     "output (pulled to it in pixels) instead of being judged, so the styles it knew are not forgotten",
    "anchor_weight": "weight of the pull to the starting model's output on --anchor-styles",
    "freeze_encoder": "keep a lite model's encoder as it was (its features, and the style banks built for it, stay valid)",
    "antialias": "lite: a fixed blur after the decoder's last ReLU and after its last pixel shuffle, so it cannot paint "
                 "a 4 px or 2 px mesh (a fresh network, or added to the --resume-from/--pretrained one)",
}


def continued_recipe(folder: str | None) -> dict:
    """With --resume-from, the recipe of the folder's last run (learning rate, loss weights, crops,
    batch, judge padding) is the default, so continuing a model never silently changes what it
    learns; flags given explicitly still win (e.g. --image-size 256 for the last stretch). The loop
    is not part of it: it is how a step is computed, and a continued run gets the default (fast) one
    unless --loop says otherwise (a model trained before the fast loop existed would else stay plain)."""
    if not folder:
        return {}
    try:
        runs = History.load(folder).runs
    except ValueError:
        return {}  # train() reports the bad history in one line
    if not runs:
        return {}
    last = runs[-1]
    batch, styles = (int(x) for x in last.batch.split(" x "))
    return {"lr": last.lr, "identity_weight": last.identity_weight, "style_weight": last.style_weight,
            "image_size": last.image_size, "batch_size": batch, "styles_per_batch": styles,
            "judge_padding": last.judge_padding}


def parse_args(argv: list[str] | None = None) -> TrainConfig:
    """One parser fills the TrainConfig dataclass; every flag shows its default in --help."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = TrainConfig(encoder_from=BUNDLED_MODEL)
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        if isinstance(default, bool):
            parser.add_argument(flag, action="store_true", help=f"{HELP[f.name]} (default: off)")
            continue
        if f.name == "channels":
            parser.add_argument(flag, type=int, nargs="+", default=None, metavar="C", help=HELP[f.name])
            continue
        if f.name == "anchor_styles":
            parser.add_argument(flag, nargs="+", default=None, metavar="DIR", help=f"{HELP[f.name]} (default: none)")
            continue
        kind = {"time_limit_minutes": float, "max_upscale": float}.get(f.name) or (
            type(default) if default is not None else str)
        choices = typing.get_args(hints[f.name]) if typing.get_origin(hints[f.name]) is typing.Literal else None
        choices = list(RECIPES) if f.name == "recipe" else choices
        parser.add_argument(flag, type=kind, default=None, choices=choices,
                            help=f"{HELP[f.name]} (default: {default})")
    args = parser.parse_args(argv)
    given = {k: v for k, v in vars(args).items() if v is not None and v is not False}
    recipe = RECIPES[given.get("recipe", defaults.recipe)]
    if "batch_size" in given and "styles_per_batch" not in given and recipe["styles_per_batch"] != 1:
        given["styles_per_batch"] = given["batch_size"]  # the paper's recipe: one style per content
    values = {**dataclasses.asdict(defaults), **recipe, **continued_recipe(given.get("resume_from")), **given}
    if values.get("log_with") in ("none", ""):
        values["log_with"] = None
    try:
        return TrainConfig(**values)
    except ValueError as exc:  # TrainConfig speaks of fields; the user typed flags
        message = str(exc)
        for f in dataclasses.fields(TrainConfig):
            message = re.sub(rf"\b{f.name}\b", "--" + f.name.replace("_", "-"), message)
        parser.error(message)


def main(argv: list[str] | None = None) -> int:
    config = parse_args(argv)
    # this process is ours: keep freed host memory instead of page-faulting it in again every step
    # (adain_hub/host_memory.py; about 232,000 faults a VGG step at 128 px without it)
    retained = retain_freed_memory()
    if config.log_with == "tensorboard":
        try:
            import tensorboard  # noqa: F401
        except ImportError:
            print("tensorboard is not installed: logging to no tracker", file=sys.stderr)
            config.log_with = None
    try:
        accelerator = Accelerator(
            mixed_precision=resolve_mixed_precision(config.mixed_precision),
            gradient_accumulation_steps=config.gradient_accumulation_steps,
            log_with=config.log_with,
            project_config=ProjectConfiguration(project_dir=config.output_dir,
                                                logging_dir=os.path.join(config.output_dir, "logs")),
        )
    except ValueError as exc:  # a precision or tracker this machine cannot use
        print(f"error: cannot start accelerate ({one_line(exc)}); "
              f"check --mixed-precision and --log-with", file=sys.stderr)
        return 2
    set_seed(config.seed + accelerator.process_index)
    if accelerator.is_main_process:  # the pools' contents, refusals and memory: one line each
        logging.basicConfig(format="%(message)s")
        logging.getLogger("adain_hub").setLevel(logging.INFO)
        if retained:
            logging.getLogger("adain_hub").info("freed host memory is kept in the process (glibc mallopt)")
    bars: list[tqdm] = []  # made at the first step, so a run that fails to start prints no empty bar
    samples = Path(config.output_dir) / "samples"

    def on_step(step: int, logs: dict[str, float]) -> None:
        if not bars:
            bars.append(tqdm(total=config.max_steps, initial=step - 1, desc="training", unit="step"))
        bar = bars[0]
        bar.update(1)
        # refresh=False: the bar redraws at its own pace, not once per step (100+ steps/s on a GPU)
        bar.set_postfix(loss=f"{logs['loss']:.3f}", content=f"{logs['content']:.3f}",
                        style=f"{logs['style']:.3f}", skipped=int(logs["skipped"]),
                        steps_s=f"{logs['steps_per_s']:.1f}", img_s=f"{logs['images_per_s']:.0f}", refresh=False)

    def on_sample(step: int, grid) -> None:
        from torchvision.utils import save_image

        samples.mkdir(parents=True, exist_ok=True)
        save_image(grid, samples / f"step_{step:08d}.png", nrow=1)

    try:
        train(config, accelerator, on_step=on_step, on_sample=on_sample)
    except ValueError as exc:  # bad configuration, dataset or model: one clear line
        for bar in bars:
            bar.close()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for bar in bars:
        bar.close()
    if accelerator.is_main_process:
        print(f"model saved to {Path(config.output_dir) / 'model'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
