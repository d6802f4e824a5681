"""Decoder training with accelerate: configuration, loss module, checkpoints and the loop.

Training hyperparameters live in :class:`TrainConfig` (filled by ``train_accelerate.py``'s
parser); architecture settings live only in :class:`~adain_hub.model.AdaINConfig`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Literal, NamedTuple, get_args, get_origin, get_type_hints

import torch
from accelerate import Accelerator
import torch.nn.functional as F
from torch import Tensor, nn

from . import functional as AF
from .backends import cpu_has_bf16
from .data import CropSpec, crop_loader, open_stream
from .hub import load_model
from .images import MIN_SIDE
from .model import AdaIN, AdaINConfig

RECIPES: dict[str, dict] = {
    # Huang & Belongie 2017: Adam 1e-4 with inverse decay 5e-5, 8 contents x 8 styles, 256 crops of 512.
    "paper": dict(optimizer="adam", lr=1e-4, lr_decay=5e-5, batch_size=8, styles_per_batch=8,
                  image_size=256, resize=512, style_weight=10.0),
    # Our earlier experiments: SGD with momentum 0.9, 8 contents sharing 1 style per batch.
    "sgd": dict(optimizer="sgd", lr=1e-3, lr_decay=5e-5, batch_size=8, styles_per_batch=1,
                image_size=256, resize=512, style_weight=10.0),
}


@dataclass
class TrainConfig:
    """Everything a training run needs besides the architecture. Defaults follow the paper."""

    content_dataset: str = "detection-datasets/coco"
    style_dataset: str = "huggan/wikiart"
    output_dir: str = "runs/adain"
    recipe: Literal["paper", "sgd"] = "paper"
    optimizer: Literal["adam", "sgd"] = "adam"
    lr: float = 1e-4
    lr_decay: float = 5e-5
    batch_size: int = 8
    styles_per_batch: int = 8
    image_size: int = 256
    resize: int = 512
    content_weight: float = 1.0
    style_weight: float = 10.0
    max_steps: int = 160_000
    gradient_accumulation_steps: int = 1
    checkpoint_every: int = 500
    checkpoints_kept: int = 3
    sample_every: int = 500
    balance_by: str | None = "auto"
    skip_grayscale: Literal["contents", "all", "none"] = "contents"
    pretrained: str | None = None
    encoder_from: str | None = None
    upsample: Literal["nearest", "bilinear"] = "nearest"
    architecture: Literal["vgg19", "lite"] = "vgg19"
    identity_weight: float = 0.0
    resume: bool = False
    seed: int = 0
    decode_threads: int = 0
    time_limit_minutes: float | None = None
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    log_with: str | None = "tensorboard"
    record_seen: bool = False

    def __post_init__(self) -> None:
        if self.styles_per_batch not in (1, self.batch_size):
            raise ValueError(f"styles_per_batch must be 1 or equal to batch_size ({self.batch_size}), "
                             f"got {self.styles_per_batch}")
        for name in ("batch_size", "image_size", "max_steps", "checkpoint_every", "sample_every",
                     "gradient_accumulation_steps", "checkpoints_kept"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.image_size < MIN_SIDE:
            raise ValueError(f"image_size must be at least {MIN_SIDE} (the encoder works at 1/8 of it), "
                             f"got {self.image_size}")
        for name in ("lr", "lr_decay", "content_weight", "style_weight", "identity_weight"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a non-negative number, got {getattr(self, name)}")
        for name, hint in get_type_hints(TrainConfig).items():
            allowed = get_args(hint) if get_origin(hint) is Literal else ()
            if allowed and getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")


class StepLosses(NamedTuple):
    """What one training forward pass gives: the three unweighted losses and the stylized batch."""

    content: Tensor
    style: Tensor
    identity: Tensor
    output: Tensor


class StyleTransferLoss(nn.Module):
    """The training forward pass as a module, so DDP sees one forward per step.

    Losses are AdaIN's, measured by a VGG-19 ``loss_network``: content is the MSE between the
    output's relu4_1 and AdaIN of the photo's relu4_1 to the painting's; style, the mean/std loss
    over relu1_1..relu4_1. For the VGG architecture the loss network is the model's own frozen
    encoder (pass none); a lite model is given one. With ``identity=True`` the photo is also
    decoded from its own features and compared with itself in pixels (the identity loss of SANet,
    Park & Lee 2019): AdaIN of a photo with its own statistics is the identity, so this is what
    makes a photo stylized with itself come back unchanged (self-style PSNR).
    """

    def __init__(self, model: AdaIN, loss_network: nn.Module | None = None, identity: bool = False) -> None:
        super().__init__()
        if loss_network is None and not model.is_vgg:
            raise ValueError("a lite model needs a VGG-19 loss network")
        self.model = model
        self.loss_network = loss_network  # registered only when separate, so checkpoints keep their keys
        self.identity = identity

    def vgg(self, image: Tensor) -> list[Tensor]:
        """relu1_1 ... relu4_1 of the loss network."""
        return (self.loss_network or self.model.encoder)(image)

    def forward(self, content: Tensor, style: Tensor) -> StepLosses:
        one_style = style.shape[0] == 1 and content.shape[0] > 1
        with torch.no_grad():
            style_feats = self.vgg(style)
            if one_style:
                style_feats = [f.expand(content.shape[0], -1, -1, -1) for f in style_feats]
            c_vgg = self.vgg(content)[-1]
            target = AF.adain(c_vgg, style_feats[-1]).to(c_vgg.dtype)  # the content loss's target
        if self.model.is_vgg:
            c, t = c_vgg, target  # the model's own features: nothing more to encode
        else:
            c = self.model.encode(content)[-1]
            s = self.model.encode(style)[-1]
            t = AF.adain(c, s.expand(c.shape[0], -1, -1, -1) if one_style else s).to(c.dtype)
        if self.identity:  # one decoder call for both: the stylized batch and the reconstruction
            decoded = self.model.decode(torch.cat([t, c]))
            output, rebuilt = decoded[: c.shape[0]], decoded[c.shape[0] :]
            identity = F.mse_loss(rebuilt.float(), content.float())
        else:
            output, identity = self.model.decode(t), content.new_zeros((), dtype=torch.float32)
        out_feats = self.vgg(output)
        return StepLosses(AF.content_loss(out_feats[-1], target), AF.style_loss(out_feats, style_feats),
                          identity, output)


def resolve_mixed_precision(name: str) -> str:
    """``"auto"``: bf16 on GPUs that have it and on CPUs with native bf16 (AMX, AVX512-BF16),
    else fp32 ("no"): emulated bf16 made a training step ~9x slower on an AVX2-only CPU."""
    if name != "auto":
        return name
    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "no"
    return "bf16" if cpu_has_bf16() else "no"


def build_model(config: TrainConfig) -> tuple[AdaIN, nn.Module | None]:
    """The starting model and, for a lite model, its VGG-19 loss network.

    ``pretrained`` is fine-tuned as it is (its own architecture); otherwise a fresh model of
    ``architecture``: a VGG decoder on ``encoder_from``'s encoder, or a whole lite network. A lite
    model always takes ``encoder_from``'s VGG encoder as its loss network.
    """
    if config.pretrained:
        model = load_model(config.pretrained)
    elif not config.encoder_from:
        raise ValueError("give pretrained (to fine-tune) or encoder_from (a model whose encoder to use)")
    elif config.architecture == "lite":
        model = AdaIN(AdaINConfig(architecture="lite"))
    else:
        model = None
    if model is not None and not model.is_vgg and not config.encoder_from:
        raise ValueError("a lite model trains with a VGG-19 loss network: give encoder_from (a VGG model, "
                         "such as the bundled model_card)")
    source = load_model(config.encoder_from) if config.encoder_from and (model is None or not model.is_vgg) else None
    if source is not None and not source.is_vgg:
        raise ValueError(f"{config.encoder_from}: encoder_from must be a VGG-19 model, this one is "
                         f"{source.config.architecture}")
    if model is None:
        model = AdaIN(AdaINConfig(channels=source.config.channels, upsample=config.upsample))
        model.encoder.load_state_dict(source.encoder.state_dict())
        return model, None
    if model.is_vgg:
        return model, None
    loss_network = source.encoder.eval().requires_grad_(False)
    return model, loss_network


def resolve_balance(config: TrainConfig, dataset_features: list[str]) -> str | None:
    """``"auto"`` balances by ``style`` (WikiArt) or ``label`` (a folder of style folders) if present."""
    if config.balance_by in (None, "none", ""):
        return None
    if config.balance_by == "auto":
        return next((c for c in ("style", "label") if c in dataset_features), None)
    return config.balance_by


# -- checkpoints ----------------------------------------------------------------------------
# Our own naming: accelerate's automatic naming restarts at checkpoint_0 after a resume and
# writes in place, so a run killed mid-save would leave a checkpoint that looks complete.
def checkpoint_dirs(output_dir: str | Path) -> list[Path]:
    """Complete checkpoints (those with their ``step.json`` marker), oldest first."""
    root = Path(output_dir) / "checkpoints"
    if not root.is_dir():
        return []
    done = [p for p in root.glob("step_*") if (p / "step.json").is_file()]
    return sorted(done, key=lambda p: int(p.name.split("_")[1]))


def save_checkpoint(accelerator: Accelerator, output_dir: str | Path, step: int, kept: int) -> Path:
    """``save_state`` into a temporary folder, then rename: a checkpoint exists whole or not at all."""
    root = Path(output_dir) / "checkpoints"
    final = root / f"step_{step:08d}"
    tmp = root / f".tmp_step_{step:08d}"
    if accelerator.is_main_process and tmp.exists():
        shutil.rmtree(tmp)
    accelerator.wait_for_everyone()
    accelerator.save_state(str(tmp))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        (tmp / "step.json").write_text(json.dumps({"step": step}))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        for old in checkpoint_dirs(output_dir)[:-kept]:
            shutil.rmtree(old)
    accelerator.wait_for_everyone()
    return final


def endless(loader) -> Iterator:
    while True:
        yield from loader


StepCallback = Callable[[int, dict[str, float]], None]


def train(
    config: TrainConfig,
    accelerator: Accelerator,
    on_step: StepCallback | None = None,
    on_sample: Callable[[int, Tensor], None] | None = None,
) -> AdaIN:
    """Train the decoder; returns the unwrapped model (also saved in ``output_dir/model``).

    ``on_step(step, logs)`` is called after every optimizer step (for a progress bar);
    ``on_sample(step, grid)`` with a (content | style | output) image grid every ``sample_every``.
    """
    output_dir = Path(config.output_dir)
    model, loss_network = build_model(config)
    model.train()
    model = model.to(memory_format=torch.channels_last)  # faster convs with bf16 on AMX CPUs and GPUs
    if loss_network is not None:
        loss_network = loss_network.to(memory_format=torch.channels_last)
    torch.backends.cudnn.benchmark = True
    loss_module = StyleTransferLoss(model, loss_network, identity=config.identity_weight > 0)
    params = [p for p in model.parameters() if p.requires_grad]  # the VGG decoder, or all of lite
    if config.optimizer == "adam":
        optimizer = torch.optim.Adam(params, lr=config.lr)
    else:
        optimizer = torch.optim.SGD(params, lr=config.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0 / (1.0 + config.lr_decay * it))

    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"{output_dir}: the output folder is a file")
    content_spec = CropSpec(resize=config.resize, crop=config.image_size,
                            skip_grayscale=config.skip_grayscale in ("contents", "all"))
    style_spec = replace(content_spec, skip_grayscale=config.skip_grayscale == "all")
    rank, world = accelerator.process_index, accelerator.num_processes
    start_step = 0
    latest = checkpoint_dirs(output_dir) if config.resume else []
    if latest:
        start_step = json.loads((latest[-1] / "step.json").read_text())["step"]
    # a resumed run reseeds its streams so it does not replay the images it already saw
    seed = config.seed + start_step
    styles_source = open_stream(config.style_dataset)  # opened once: its columns decide the balancing
    style_balance = resolve_balance(config, list(styles_source.features or {}))
    content_loader = crop_loader(config.content_dataset, content_spec, config.batch_size, seed=seed, rank=rank,
                                 world_size=world, threads=config.decode_threads)
    style_loader = crop_loader(styles_source, style_spec, config.styles_per_batch, seed=seed + 1, rank=rank,
                               world_size=world, balance_by=style_balance, threads=config.decode_threads,
                               name=config.style_dataset)

    # the scheduler is stepped per optimizer step by us, not prepared (a prepared one steps once
    # per process), and registered so that save_state/load_state keep it
    loss_module, optimizer = accelerator.prepare(loss_module, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    if latest:
        accelerator.load_state(str(latest[-1]))
    if config.log_with:
        accelerator.init_trackers("adain", config={k: v for k, v in asdict(config).items() if v is not None})

    contents, styles = endless(content_loader), endless(style_loader)
    skipped = 0
    logs: dict[str, float] = {}
    step = start_step
    started = time.monotonic()
    deadline = started + 60 * config.time_limit_minutes if config.time_limit_minutes else float("inf")
    max_steps = config.max_steps
    while step < max_steps:
        with accelerator.accumulate(loss_module):
            content, c_skip, c_names = next(contents)
            style, s_skip, s_names = next(styles)
            skipped += int(c_skip.sum()) + int(s_skip.sum())
            if config.record_seen:
                _record_seen(output_dir, rank, step + 1, c_names, s_names)
            content = content.to(accelerator.device, memory_format=torch.channels_last)
            style = style.to(accelerator.device, memory_format=torch.channels_last)
            with accelerator.autocast():
                loss_c, loss_s, loss_id, output = loss_module(content, style)
                loss = config.content_weight * loss_c + config.style_weight * loss_s + config.identity_weight * loss_id
            accelerator.backward(loss)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if not accelerator.sync_gradients:
            continue
        scheduler.step()
        step += 1
        logs = {"loss": loss.item(), "content": loss_c.item(), "style": loss_s.item(), "identity": loss_id.item(),
                "lr": scheduler.get_last_lr()[0], "skipped": skipped}
        accelerator.log(logs, step=step)
        if on_step and accelerator.is_main_process:
            on_step(step, logs)
        if on_sample and accelerator.is_main_process and (step % config.sample_every == 0 or step == max_steps):
            n = min(4, content.shape[0])
            sty = style.expand(content.shape[0], -1, -1, -1) if style.shape[0] == 1 else style
            grid = torch.cat([content[:n], sty[:n], output[:n].detach().float().clamp(0, 1)], dim=3)
            on_sample(step, grid.cpu())
        if time.monotonic() > deadline:  # stop cleanly: the last step gets a checkpoint and a model
            max_steps = step
        if step % config.checkpoint_every == 0 or step == max_steps:
            save_checkpoint(accelerator, output_dir, step, config.checkpoints_kept)

    unwrapped: AdaIN = accelerator.unwrap_model(loss_module).model
    unwrapped = unwrapped.to(memory_format=torch.contiguous_format).float().eval()
    if accelerator.is_main_process:
        unwrapped.save_pretrained(output_dir / "model", model_card_kwargs=card_details(config, step, logs))
    accelerator.wait_for_everyone()
    accelerator.end_training()  # last: it also ends the process group
    return unwrapped


def _record_seen(output_dir: Path, rank: int, step: int, contents: list[str], styles: list[str]) -> None:
    """Append which files this process trained on at ``step`` to ``seen/rank_<r>.tsv``."""
    path = output_dir / "seen" / f"rank_{rank}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(f"{step}\t{','.join(contents)}\t{','.join(styles)}\n")


def card_details(config: TrainConfig, step: int, logs: dict[str, float]) -> dict:
    """What the model card records about how the model was trained."""
    return {
        "training": {
            "steps": step,
            "recipe": config.recipe,
            "optimizer": config.optimizer,
            "lr": config.lr,
            "lr_decay": config.lr_decay,
            "batch": f"{config.batch_size} contents x {config.styles_per_batch} styles",
            "crops": f"{config.image_size} px from images resized to {config.resize}",
            "architecture": config.architecture if not config.pretrained else "as pretrained",
            "started_from": (f"{config.pretrained} (fine-tuned)" if config.pretrained
                             else f"a fresh lite network, {config.encoder_from}'s VGG-19 as loss network"
                             if config.architecture == "lite"
                             else f"a fresh decoder on {config.encoder_from}'s encoder"),
            "identity_weight": config.identity_weight,
            "content_dataset": config.content_dataset,
            "style_dataset": config.style_dataset,
            "grayscale_skipped": config.skip_grayscale,
            "style_weight": config.style_weight,
            "final_losses": {k: round(v, 4) for k, v in logs.items() if k in ("content", "style", "identity", "loss")},
        }
    }
