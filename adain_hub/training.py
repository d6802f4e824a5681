"""Decoder training with accelerate: configuration, loss module, checkpoints and the loop.

Training hyperparameters live in :class:`TrainConfig` (filled by ``train_accelerate.py``'s
parser); architecture settings live only in :class:`~adain_hub.model.AdaINConfig`.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import os
import platform
import shutil
import time
import warnings
from collections import deque
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Literal, NamedTuple, Sequence, get_args, get_origin, get_type_hints

import torch
import torch.nn.functional as F
from accelerate import Accelerator
from torch import Tensor, nn

from . import functional as AF
from .backends import cpu_has_bf16
from .data import CropSpec, ImagePool, crop_loader, image_pool, open_stream
from .history import History, Run
from .hub import load_model
from .images import MIN_SIDE, one_line
from .loss_network import judge_copy
from .model import STAGES, AdaIN, AdaINConfig
from .targets import TargetCache, style_targets, unflatten_stats

logger = logging.getLogger(__name__)

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
    channels: tuple[int, ...] | None = None  # a fresh lite network's widths (AdaINConfig.channels)
    blocks: int = 2  # a fresh lite network's residual blocks per side (AdaINConfig.blocks)
    identity_weight: float = 0.0
    resume: bool = False
    resume_from: str | None = None  # a model folder saved by train(): continue its steps and schedule
    warmup_steps: int = 200  # after resume_from or pretrained: a fresh Adam's learning rate ramps up over these steps
    seed: int = 0
    decode_threads: int = 0
    time_limit_minutes: float | None = None
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    log_with: str | None = "tensorboard"
    record_seen: bool = False
    # data feeding and the step's mechanics (issue 9)
    loader: Literal["pool", "stream"] = "pool"
    pool_size: int = 4096
    pool_refresh: int = 1
    max_upscale: float = 1.0
    compile: bool = False
    log_every: int = 10
    # the fast loop (issue 15): "plain" is the loop as it was, every crop through the loss network as it is
    loop: Literal["fast", "plain"] = "fast"
    target_cache: int = 2048
    target_refresh: float = 0.25
    # the fast loop's judge: padded as trained ("reflect"), or by its convolutions ("zero"; cheaper, a different judge)
    judge_padding: Literal["reflect", "zero"] = "reflect"
    # fine-tuning without forgetting (issue 25): style crops from files under these folders are not
    # judged but anchored: the output must stay the starting model's (pixel MSE, ``anchor_weight``)
    anchor_styles: tuple[str, ...] = ()
    anchor_weight: float = 0.0
    freeze_encoder: bool = False  # a lite model's encoder kept as it was: the same features, the same style banks
    # issue 32: the lite decoder's anti-aliasing blurs (AdaINConfig.antialias), for a fresh lite network or added to
    # a loaded one (they have no weights: its weights load as they are and training adapts them)
    antialias: bool = False

    @property
    def judge_padding_used(self) -> str:
        """The padding the loss network actually runs with: only the fast loop has a judge copy to change."""
        return self.judge_padding if self.loop == "fast" else "reflect"

    def __post_init__(self) -> None:
        if self.styles_per_batch not in (1, self.batch_size):
            raise ValueError(f"styles_per_batch must be 1 or equal to batch_size ({self.batch_size}), "
                             f"got {self.styles_per_batch}")
        for name in ("batch_size", "image_size", "max_steps", "checkpoint_every", "sample_every",
                     "gradient_accumulation_steps", "checkpoints_kept", "pool_size", "log_every"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.image_size < MIN_SIDE:
            raise ValueError(f"image_size must be at least {MIN_SIDE} (the encoder works at 1/8 of it), "
                             f"got {self.image_size}")
        if self.image_size % 8:  # the decoders give back 8x (VGG) or 4x (lite) their features: other crops
            # come back a few pixels off, and the identity loss and the sample grid cannot compare them
            raise ValueError(f"image_size must be a multiple of 8, got {self.image_size} "
                             f"(try {max(MIN_SIDE, self.image_size // 8 * 8)})")
        self.anchor_styles = tuple(self.anchor_styles)
        if self.anchor_styles and not self.anchor_weight > 0:
            raise ValueError("anchor_styles needs a positive anchor_weight")
        for name in ("lr", "lr_decay", "content_weight", "style_weight", "identity_weight", "anchor_weight"):
            if not math.isfinite(getattr(self, name)) or getattr(self, name) < 0:
                raise ValueError(f"{name} must be a non-negative number, got {getattr(self, name)}")
        if self.resume_from and self.pretrained:
            raise ValueError("give resume_from (continue a run's model folder) or pretrained (fine-tune), not both")
        if self.resume_from and not (Path(self.resume_from) / "config.json").is_file():
            raise ValueError(f"resume_from {self.resume_from}: not a model folder (no config.json in it)")
        if self.warmup_steps < 0:
            raise ValueError(f"warmup_steps must be 0 or more, got {self.warmup_steps}")
        if self.target_cache < 0 or (0 < self.target_cache < self.batch_size):
            raise ValueError(f"target_cache must be 0 (off) or at least the batch size ({self.batch_size}), "
                             f"got {self.target_cache}")
        if not 0 <= self.target_refresh <= 1:
            raise ValueError(f"target_refresh is the share of a batch replaced per step, between 0 and 1, "
                             f"got {self.target_refresh}")
        if self.pool_refresh < 0:
            raise ValueError(f"pool_refresh must be 0 or more, got {self.pool_refresh}")
        if not math.isfinite(self.max_upscale) or self.max_upscale < 1:
            raise ValueError(f"max_upscale must be at least 1 (1: never upscale), got {self.max_upscale}")
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
    anchor: Tensor


class StyleTransferLoss(nn.Module):
    """The training forward pass as a module, so DDP sees one forward per step.

    Losses are AdaIN's, measured by a VGG-19 ``loss_network``: content is the MSE between the
    output's relu4_1 and AdaIN of the photo's relu4_1 to the painting's; style, the mean/std loss
    over relu1_1..relu4_1. For the VGG architecture the loss network is the model's own frozen
    encoder (pass none); a lite model is given one. With ``identity=True`` the photo is also
    decoded from its own features and compared with itself in pixels (the identity loss of SANet,
    Park & Lee 2019): AdaIN of a photo with its own statistics is the identity, so this is what
    makes a photo stylized with itself come back unchanged (self-style PSNR).

    ``judge_dtype`` makes the measuring network a fast frozen copy of the loss network
    (:func:`~adain_hub.loss_network.judge_copy`: weights in that dtype, padded as ``judge_padding``), built on
    the device the loss network is on and kept out of this module's state, so checkpoints keep
    their keys; ``None`` measures with the loss network as it is (the plain loop). The targets the
    judge gives before any training (:meth:`content_features`, :meth:`style_targets`) may be
    passed to :meth:`forward` instead of being computed again (:class:`~adain_hub.targets.TargetCache`).

    ``teacher``, a frozen copy of the starting decoder, anchors the samples :meth:`forward` is told
    to (``anchor``): their output is pulled to the teacher's in pixels instead of being judged, so a
    fine-tune keeps the styles it was not asked to change (and the judge runs on the rest only).
    """

    def __init__(self, model: AdaIN, loss_network: nn.Module | None = None, identity: bool = False,
                 judge_dtype: torch.dtype | None = None, judge_padding: str = "reflect",
                 teacher: nn.Module | None = None) -> None:
        super().__init__()
        if loss_network is None and not model.is_vgg:
            raise ValueError("a lite model needs a VGG-19 loss network")
        self.model = model
        self.loss_network = loss_network  # registered only when separate, so checkpoints keep their keys
        self.identity = identity
        self.judge_dtype = judge_dtype
        source = loss_network if loss_network is not None else model.encoder
        self.__dict__["judge"] = source if judge_dtype is None else judge_copy(source, judge_dtype, judge_padding)
        self.__dict__["teacher"] = teacher  # outside the state too
        # channels of relu1_1 ... relu4_1, to read flattened style statistics back
        self.stat_channels = [[m for m in getattr(source, stage).modules() if isinstance(m, nn.Conv2d)][-1].out_channels
                              for stage in STAGES]

    def vgg(self, image: Tensor) -> list[Tensor]:
        """relu1_1 ... relu4_1 of the measuring network (a judge copy computes in its own dtype)."""
        return self.judge(image if self.judge_dtype is None else image.to(self.judge_dtype))

    @torch.no_grad()
    def content_features(self, content: Tensor) -> Tensor:
        """relu4_1 of photos: what the content target is made of."""
        return self.vgg(content)[-1]

    @torch.no_grad()
    def style_targets(self, style: Tensor) -> Tensor:
        """The paintings' per-layer statistics, flattened (:func:`~adain_hub.targets.flatten_stats`)."""
        return style_targets(self.vgg(style))

    def forward(self, content: Tensor, style: Tensor, content_feat: Tensor | None = None,
                style_stats: Tensor | None = None, anchor: Tensor | None = None) -> StepLosses:
        """The step's losses; ``content_feat`` (:meth:`content_features`) and ``style_stats``
        (:meth:`style_targets`) of these very crops, when given, spare the loss network two passes.
        ``anchor`` (bool per sample, needs a ``teacher``) marks the samples anchored to the teacher."""
        n = content.shape[0]
        one_style = style.shape[0] == 1 and n > 1
        with torch.no_grad():
            if style_stats is None:
                stats = AF.style_statistics(self.vgg(style))
            else:
                stats = unflatten_stats(style_stats, self.stat_channels)
            if one_style:
                stats = [(m.expand(n, -1, -1, -1), s.expand(n, -1, -1, -1)) for m, s in stats]
            c_vgg = self.vgg(content)[-1] if content_feat is None else content_feat
            target = AF.adaptive_instance_normalization(c_vgg, *stats[-1]).to(c_vgg.dtype)  # the content target
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
        zero = content.new_zeros((), dtype=torch.float32)
        judged, anchor_loss = slice(None), zero
        if anchor is not None and self.teacher is not None and bool(anchor.any()):
            with torch.no_grad():
                taught = self.teacher(t[anchor].detach().to(next(self.teacher.parameters()).dtype))
            anchor_loss = F.mse_loss(output[anchor].float(), taught.float())
            judged = ~anchor
            if not bool(judged.any()):
                return StepLosses(zero, zero, identity, output, anchor_loss)
            stats = [(m[judged], s[judged]) for m, s in stats]
            target = target[judged]
        out_feats = self.vgg(output[judged])
        return StepLosses(AF.content_loss(out_feats[-1], target), AF.style_loss_to_stats(out_feats, stats),
                          identity, output, anchor_loss)


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
    if config.pretrained or config.resume_from:
        model = load_model(config.pretrained or config.resume_from)
        if model.is_vgg:  # fine-tuning a VGG decoder: its own encoder is the loss network
            if config.antialias:
                raise ValueError("antialias is the lite decoder's blur; this model is a VGG-19 one")
            return model, None
        if config.antialias and not model.config.antialias:
            blurred = AdaIN(replace(model.config, antialias=True))
            blurred.load_state_dict(model.state_dict())  # the blurs have no weights: every tensor carries over
            model = blurred
    elif config.architecture != "lite" and (config.channels is not None or config.blocks != 2):
        raise ValueError("channels and blocks shape a fresh lite network; a VGG decoder takes its encoder's widths")
    elif not config.encoder_from:
        raise ValueError("give pretrained (to fine-tune) or encoder_from (a model whose encoder to use)")
    else:
        if config.antialias and config.architecture != "lite":
            raise ValueError("antialias is the lite decoder's blur; a fresh VGG decoder has none")
        model = (AdaIN(AdaINConfig(architecture="lite", channels=config.channels, blocks=config.blocks,
                                   antialias=config.antialias))
                 if config.architecture == "lite" else None)
    if not config.encoder_from:
        raise ValueError("a lite model trains with a VGG-19 loss network: give encoder_from (a VGG model, "
                         "such as the bundled model_card)")
    source = load_model(config.encoder_from)
    if not source.is_vgg:
        raise ValueError(f"{config.encoder_from}: encoder_from must be a VGG-19 model, this one is "
                         f"{source.config.architecture}")
    if model is None:  # a fresh VGG decoder on the source's encoder
        model = AdaIN(AdaINConfig(channels=source.config.channels, upsample=config.upsample))
        model.encoder.load_state_dict(source.encoder.state_dict())
        return model, None
    return model, source.encoder.eval().requires_grad_(False)


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


def to_device_batch(batch: Tensor, device: torch.device) -> Tensor:
    """Crops as the network takes them: float32 in [0, 1], channels_last, on ``device``. uint8
    crops (from a pool) become floats there, so only a quarter of the bytes ever cross a bus."""
    batch = batch.to(device, non_blocking=True)
    if batch.dtype == torch.uint8:
        return batch.to(torch.float32, memory_format=torch.channels_last).div_(255.0)
    return batch.contiguous(memory_format=torch.channels_last)


class Feed:
    """One stream of training batches for the loop: an :class:`~adain_hub.data.ImagePool` (images
    decoded once, crops and flips cut on the device: ``loader="pool"``) or the per-step decoding
    DataLoader of :func:`~adain_hub.data.crop_loader` (``loader="stream"``, kept to compare)."""

    def __init__(self, batch_size: int, device: torch.device, pool: ImagePool | None = None, loader=None) -> None:
        self.batch_size, self.device, self.pool = batch_size, device, pool
        self._batches = endless(loader) if loader is not None else None
        self._skipped = 0

    def next(self) -> tuple[Tensor, list[str]]:
        if self.pool is not None:
            crops, names = self.draw(self.batch_size)
        else:
            crops, skipped, names = next(self._batches)
            self._skipped += int(skipped.sum())
        return to_device_batch(crops, self.device), list(names)

    def draw(self, n: int) -> tuple[Tensor, list[str]]:
        """``n`` crops from the pool as it keeps them (uint8, on the device), and their names."""
        if self.pool is None:
            raise ValueError("only a pool (loader='pool') draws crops on demand")
        crops, names = self.pool.sample(n)
        return crops, list(names)

    @property
    def skipped(self) -> int:
        return self.pool.skipped if self.pool is not None else self._skipped

    def refresh(self, max_images: int) -> None:
        if self.pool is not None and max_images:
            self.pool.refresh(max_images)

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


class Throughput:
    """Steps/s and images/s over the last ``window`` steps, from the host clock. The loop reads
    losses (a device sync) every ``log_every`` steps, so the host cannot run ahead of the device by
    more than that and a window of several log intervals measures the device's pace."""

    def __init__(self, images_per_step: int, window: int) -> None:
        self.images_per_step = images_per_step
        self.marks: deque[tuple[float, int]] = deque(maxlen=window + 1)
        self.first: tuple[float, int] | None = None  # after the first step (compilation, cudnn autotuning)

    def tick(self, step: int) -> None:
        now = time.perf_counter()
        self.marks.append((now, step))
        if self.first is None:
            self.first = (now, step)

    def steps_per_s(self) -> float:
        if len(self.marks) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self.marks[0], self.marks[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0

    def overall(self) -> float:
        """Steps/s since the first step, which is left out (it compiles and autotunes)."""
        if self.first is None or not self.marks:
            return 0.0
        (t0, s0), (t1, s1) = self.first, self.marks[-1]
        return (s1 - s0) / (t1 - t0) if t1 > t0 else 0.0


def device_name(device: torch.device) -> str:
    """What trained: the GPU's name, or the CPU's model, whether it has AMX, and the threads used
    (machines change between sessions, and bf16 speed depends on AMX)."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    model = platform.processor() or platform.machine()
    try:
        info = Path("/proc/cpuinfo").read_text()
        model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                     model)
        model += ", AMX" if "amx_bf16" in info else ", no AMX"
    except OSError:
        pass
    return f"cpu ({model}, {torch.get_num_threads()} threads)"


def make_feeds(config: TrainConfig, accelerator: Accelerator, seed: int) -> tuple[Feed, Feed]:
    """The content and the style feed, by ``config.loader``."""
    content_spec = CropSpec(resize=config.resize, crop=config.image_size, max_upscale=config.max_upscale,
                            skip_grayscale=config.skip_grayscale in ("contents", "all"))
    style_spec = replace(content_spec, skip_grayscale=config.skip_grayscale == "all")
    rank, world, device = accelerator.process_index, accelerator.num_processes, accelerator.device
    styles_source = open_stream(config.style_dataset)  # opened once: its columns decide the balancing
    style_balance = resolve_balance(config, list(styles_source.features or {}))
    if config.loader == "stream":
        content_loader = crop_loader(config.content_dataset, content_spec, config.batch_size, seed=seed, rank=rank,
                                     world_size=world, threads=config.decode_threads)
        style_loader = crop_loader(styles_source, style_spec, config.styles_per_batch, seed=seed + 1, rank=rank,
                                   world_size=world, balance_by=style_balance, threads=config.decode_threads,
                                   name=config.style_dataset)
        return (Feed(config.batch_size, device, loader=content_loader),
                Feed(config.styles_per_batch, device, loader=style_loader))
    threads = config.decode_threads or min(8, os.cpu_count() or 1)
    common = dict(capacity=config.pool_size, device=device, rank=rank, world_size=world, threads=threads)
    content_pool = image_pool(config.content_dataset, content_spec, seed=seed, **common)
    try:
        style_pool = image_pool(styles_source, style_spec, seed=seed + 1, balance_by=style_balance,
                                name=config.style_dataset, **common)
    except BaseException:
        content_pool.close()
        raise
    for pool in (content_pool, style_pool):
        s = pool.summary()
        logger.info("%s: %d images%s, %.0f MB on %s, %s; refused: %s", s.name, s.images,
                    f" in {s.labels} labels drawn evenly" if s.labels else "", s.megabytes, device,
                    "the whole set" if s.fits_whole else "refreshed from the stream",
                    ", ".join(f"{r} {n}" for r, n in s.refused.items()) or "none")
    return (Feed(config.batch_size, device, pool=content_pool),
            Feed(config.styles_per_batch, device, pool=style_pool))


def make_caches(config: TrainConfig, loss_module: StyleTransferLoss, contents: Feed, styles: Feed,
                seed: int) -> tuple[TargetCache, TargetCache] | None:
    """The content and style :class:`~adain_hub.targets.TargetCache` of the fast loop, or ``None``
    (the plain loop, ``target_cache=0``, or the stream loader, which has no pool to draw from)."""
    if config.loop != "fast" or not config.target_cache or contents.pool is None:
        return None
    started = time.perf_counter()
    prepare = lambda crops: to_device_batch(crops, contents.device)  # noqa: E731
    caches = tuple(
        TargetCache(feed.draw, describe, size=config.target_cache, batch=batch, seed=seed + k,
                    refresh=config.target_refresh * batch, prepare=prepare)
        for k, (feed, describe, batch) in enumerate(((contents, loss_module.content_features, config.batch_size),
                                                      (styles, loss_module.style_targets, config.styles_per_batch))))
    logger.info("target caches: %d photo and %d painting crops with their loss-network targets, filled in %.0f s; "
                "%.0f%% of each batch replaced per step", config.target_cache, config.target_cache,
                time.perf_counter() - started, 100 * config.target_refresh)
    return caches


StepCallback = Callable[[int, dict[str, float]], None]


def train(
    config: TrainConfig,
    accelerator: Accelerator,
    on_step: StepCallback | None = None,
    on_sample: Callable[[int, Tensor], None] | None = None,
    stop_at: float | None = None,
) -> AdaIN:
    """Train the decoder; returns the unwrapped model (also saved in ``output_dir/model``).

    ``on_step(step, logs)`` is called after every optimizer step (for a progress bar; the losses in
    ``logs`` are read every ``log_every`` steps, since reading them waits for the device);
    ``on_sample(step, grid)`` with a (content | style | output) image grid every ``sample_every``.
    ``output_dir/throughput.json`` records steps/s and images/s as the run goes. ``stop_at``, a
    ``time.monotonic()`` instant, ends the run cleanly there (as ``time_limit_minutes`` does, but
    counting the data setup and the target caches' fill too: what a caller with a fixed wall-clock
    budget, such as ``adain finetune``, needs); at least one step is always taken.
    """
    output_dir = Path(config.output_dir)
    model, loss_network = build_model(config)
    model.train()
    # faster convs with bf16 on AMX CPUs and GPUs; on the device before the optimizer, for fused Adam
    model = model.to(accelerator.device, memory_format=torch.channels_last)
    if loss_network is not None:
        loss_network = loss_network.to(accelerator.device, memory_format=torch.channels_last)
    torch.backends.cudnn.benchmark = True
    # the fast loop measures with a frozen copy of the loss network in the step's precision (bf16
    # where the CPU or GPU runs it natively): autocast would cast its weights again at every call
    judge_dtype = None if config.loop == "plain" else (
        torch.bfloat16 if accelerator.mixed_precision == "bf16" else torch.float32)
    if config.freeze_encoder and not model.is_vgg:
        model.encoder.requires_grad_(False)
    teacher, anchored = None, anchor_test(config.anchor_styles, config.style_dataset)  # before any data is read
    if config.anchor_styles:  # the starting decoder, frozen, in the judge's precision
        teacher = copy.deepcopy(model.decoder).requires_grad_(False).eval().to(judge_dtype or torch.float32)
    loss_module = StyleTransferLoss(model, loss_network, identity=config.identity_weight > 0, judge_dtype=judge_dtype,
                                    judge_padding=config.judge_padding, teacher=teacher)
    params = [p for p in model.parameters() if p.requires_grad]  # the VGG decoder, or all of lite
    if config.optimizer == "adam":  # fused on GPUs: one kernel for all tensors, not several per tensor
        optimizer = torch.optim.Adam(params, lr=config.lr, fused=accelerator.device.type == "cuda" or None)
    else:
        optimizer = torch.optim.SGD(params, lr=config.lr, momentum=0.9)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: 1.0 / (1.0 + config.lr_decay * it))

    if output_dir.exists() and not output_dir.is_dir():
        raise ValueError(f"{output_dir}: the output folder is a file")
    rank = accelerator.process_index
    # where the step count (and so the schedule) starts: a checkpoint of this output folder, else
    # the model folder resumed from (its training.json), else 0; the runs behind it come along
    history = History.load(config.resume_from) if config.resume_from else History()
    start_step = history.steps
    latest = checkpoint_dirs(output_dir) if config.resume else []
    if latest:
        start_step = json.loads((latest[-1] / "step.json").read_text())["step"]
        if (output_dir / "model").is_dir():
            history = History.load(output_dir / "model")
        history = history.upto(start_step)
    elif config.resume_from:
        if not history.runs:
            raise ValueError(f"resume_from {config.resume_from}: no training history ({config.resume_from}/"
                             f"training.json) to continue; use pretrained to fine-tune it instead")
        scheduler.last_epoch = start_step - 1
        with warnings.catch_warnings():  # "scheduler stepped before the optimizer": on purpose, no update is skipped
            warnings.simplefilter("ignore", UserWarning)
            scheduler.step()  # the schedule continues where the model folder left it
    # a resumed run reseeds its streams so it does not replay the images it already saw
    seed = config.seed + start_step
    data_started = time.perf_counter()
    contents, styles = make_feeds(config, accelerator, seed)
    try:
        caches = make_caches(config, loss_module, contents, styles, seed)
        data_seconds = time.perf_counter() - data_started
        return _train_loop(config, accelerator, loss_module, optimizer, scheduler, contents, styles, caches,
                           latest, start_step, history, data_seconds, on_step, on_sample, stop_at, anchored)
    finally:
        contents.close()
        styles.close()


def _train_loop(
    config: TrainConfig,
    accelerator: Accelerator,
    loss_module: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    contents: Feed,
    styles: Feed,
    caches: tuple[TargetCache, TargetCache] | None,
    latest: list[Path],
    start_step: int,
    history: History,
    data_seconds: float,
    on_step: StepCallback | None,
    on_sample: Callable[[int, Tensor], None] | None,
    stop_at: float | None = None,
    anchored: Callable[[str], bool] | None = None,
) -> AdaIN:
    """The loop of :func:`train`, once the model, optimizer and feeds exist (the feeds are closed by
    the caller, whatever happens here); ``anchored(name)``: whether a style crop is anchored."""
    output_dir, rank = Path(config.output_dir), accelerator.process_index
    # the scheduler is stepped per optimizer step by us, not prepared (a prepared one steps once
    # per process), and registered so that save_state/load_state keep it
    loss_module, optimizer = accelerator.prepare(loss_module, optimizer)
    accelerator.register_for_checkpointing(scheduler)
    if latest:
        accelerator.load_state(str(latest[-1]))
    if config.log_with:
        # trackers take numbers and strings only: a tuple (channels) is logged as its text
        accelerator.init_trackers("adain", config={k: str(v) if isinstance(v, (tuple, list)) else v
                                                   for k, v in asdict(config).items() if v is not None})
    # compiled for the forward and backward only; checkpoints and unwrapping see the plain module
    forward = torch.compile(loss_module) if config.compile else loss_module
    compile_error = ""

    def run_step(fn, content: Tensor, style: Tensor, c_feat: Tensor | None,
                 s_stats: Tensor | None, s_names: list[str]) -> tuple[Tensor, StepLosses]:
        anchor = None
        if anchored is not None:
            anchor = torch.tensor([anchored(name) for name in s_names], device=content.device)
            anchor = anchor.expand(content.shape[0]) if anchor.numel() == 1 else anchor
        with accelerator.autocast():
            losses = fn(content, style, c_feat, s_stats, anchor)
            loss = (config.content_weight * losses.content + config.style_weight * losses.style
                    + config.identity_weight * losses.identity + config.anchor_weight * losses.anchor)
        accelerator.backward(loss)
        return loss, losses

    images_per_step = ((config.batch_size + config.styles_per_batch) * config.gradient_accumulation_steps
                       * accelerator.num_processes)
    meter = Throughput(images_per_step, window=max(100, 5 * config.log_every))
    logs: dict[str, float] = {}
    step = start_step
    # a fresh Adam on a trained model (resume_from, pretrained) takes its first steps at full size: ramp up
    warmup = config.warmup_steps if (config.resume_from or config.pretrained) and not latest else 0

    def warm_up() -> None:
        if step - start_step < warmup:
            for group, lr in zip(optimizer.param_groups, scheduler.get_last_lr(), strict=True):
                group["lr"] = lr * (step - start_step + 1) / warmup

    warm_up()
    started = time.monotonic()
    last_write = 0.0
    deadline = started + 60 * config.time_limit_minutes if config.time_limit_minutes else float("inf")
    deadline = min(deadline, stop_at) if stop_at is not None else deadline
    max_steps = config.max_steps
    while step < max_steps:
        with accelerator.accumulate(loss_module):
            if caches is not None:  # crops the loss network has already judged
                content, c_names, c_feat = caches[0].next(config.batch_size)
                style, s_names, s_stats = caches[1].next(config.styles_per_batch)
            else:
                (content, c_names), (style, s_names), c_feat, s_stats = contents.next(), styles.next(), None, None
            if config.record_seen:
                _record_seen(output_dir, rank, step + 1, c_names, s_names)
            if forward is not loss_module and step == start_step:
                try:  # compilation happens here; if it fails, train on without it
                    loss, losses = run_step(forward, content, style, c_feat, s_stats, s_names)
                except Exception as exc:  # noqa: BLE001 - inductor and triton raise many kinds
                    compile_error = one_line(exc)
                    warnings.warn(f"torch.compile failed, training without it: {compile_error}", stacklevel=2)
                    forward = loss_module
                    optimizer.zero_grad(set_to_none=True)
                    loss, losses = run_step(forward, content, style, c_feat, s_stats, s_names)
            else:
                loss, losses = run_step(forward, content, style, c_feat, s_stats, s_names)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
        if not accelerator.sync_gradients:
            continue
        scheduler.step()
        step += 1
        warm_up()
        meter.tick(step)
        if time.monotonic() > deadline:  # stop cleanly: the last step gets a checkpoint, a sample and a model
            max_steps = step
        sample_now = on_sample and accelerator.is_main_process and (step % config.sample_every == 0
                                                                    or step == max_steps)
        if step % config.log_every == 0 or step == start_step + 1 or step == max_steps:
            logs = {"loss": loss.item(), "content": losses.content.item(), "style": losses.style.item(),
                    "identity": losses.identity.item(), "anchor": losses.anchor.item(),
                    "lr": optimizer.param_groups[0]["lr"], "skipped": contents.skipped + styles.skipped,
                    "steps_per_s": meter.steps_per_s(), "images_per_s": meter.steps_per_s() * images_per_step}
            accelerator.log(logs, step=step)
            if accelerator.is_main_process:
                _append_losses(output_dir, step, logs, time.monotonic() - started)
            contents.refresh(config.pool_refresh * config.log_every)
            styles.refresh(config.pool_refresh * config.log_every)
            if accelerator.is_main_process and (time.monotonic() - last_write > 10 or step == max_steps):
                last_write = time.monotonic()
                _write_throughput(output_dir, config, accelerator, meter, step, start_step, data_seconds,
                                  compile_error, contents, styles, caches)
        if on_step and accelerator.is_main_process:
            on_step(step, logs)
        if sample_now:
            n = min(4, content.shape[0])
            sty = style.expand(content.shape[0], -1, -1, -1) if style.shape[0] == 1 else style
            grid = torch.cat([content[:n], sty[:n], losses.output[:n].detach().float().clamp(0, 1)], dim=3)
            on_sample(step, grid.float().cpu())
        if step % config.checkpoint_every == 0 or step == max_steps:
            save_checkpoint(accelerator, output_dir, step, config.checkpoints_kept)

    unwrapped: AdaIN = accelerator.unwrap_model(loss_module).model
    unwrapped = unwrapped.to(memory_format=torch.contiguous_format).float().eval()
    if accelerator.is_main_process:
        history.runs.append(Run(
            first_step=start_step, last_step=step,  # hours of this process: data setup and cache fill included
            hours=round((time.monotonic() - started + data_seconds) / 3600, 3),
            image_size=config.image_size, batch=f"{config.batch_size} x {config.styles_per_batch}", lr=config.lr,
            identity_weight=config.identity_weight, style_weight=config.style_weight, loop=config.loop,
            device=device_name(accelerator.device), finished=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            judge_padding=config.judge_padding_used))
        unwrapped.save_pretrained(output_dir / "model", model_card_kwargs=card_details(config, step, logs, history))
        history.save(output_dir / "model")
    accelerator.wait_for_everyone()
    accelerator.end_training()  # last: it also ends the process group
    return unwrapped


def _write_throughput(output_dir: Path, config: TrainConfig, accelerator: Accelerator, meter: Throughput,
                      step: int, start_step: int, data_seconds: float, compile_error: str,
                      contents: Feed, styles: Feed, caches: tuple[TargetCache, TargetCache] | None) -> None:
    """``output_dir/throughput.json``: what the benchmark and the GPU driver read back."""
    rate = meter.steps_per_s()
    record = {
        "step": step, "steps_this_run": step - start_step,
        "steps_per_s": round(rate, 3), "images_per_s": round(rate * meter.images_per_step, 1),
        "window_steps": meter.marks[-1][1] - meter.marks[0][1] if meter.marks else 0,
        "steps_per_s_since_first_step": round(meter.overall(), 3),
        "images_per_step": meter.images_per_step,
        "batch_size": config.batch_size, "styles_per_batch": config.styles_per_batch,
        "image_size": config.image_size, "resize": config.resize, "loader": config.loader,
        "loop": config.loop, "judge_padding": config.judge_padding_used,
        "target_cache": config.target_cache if caches else 0,
        "target_refresh": config.target_refresh if caches else None,
        # crops through the loss network's target passes per step (the caches' fill not counted)
        "judged_per_step": (round(sum(c.renewed for c in caches) / max(step - start_step, 1), 2) if caches
                            else config.batch_size + config.styles_per_batch),
        "compile": config.compile and not compile_error, "compile_error": compile_error,
        "mixed_precision": accelerator.mixed_precision, "processes": accelerator.num_processes,
        "device": device_name(accelerator.device), "torch": torch.__version__,
        "data_setup_s": round(data_seconds, 2),
        "pools": [asdict(f.pool.summary()) for f in (contents, styles) if f.pool is not None],
        "skipped": contents.skipped + styles.skipped,
    }
    output_dir.mkdir(parents=True, exist_ok=True)
    tmp = output_dir / ".throughput.json.tmp"
    tmp.write_text(json.dumps(record, indent=1))
    os.replace(tmp, output_dir / "throughput.json")


LOSS_COLUMNS = ("step", "loss", "content", "style", "identity", "anchor", "lr", "seconds")


def anchor_test(folders: Sequence[str], style_dataset: str | None = None) -> Callable[[str], bool] | None:
    """Whether a style crop came from a file under one of ``folders``. Pools name crops by file
    name only, so the test is by name; a local ``style_dataset`` holding the same name outside those
    folders is refused (``ValueError``): that painting would be anchored too."""
    if not folders:
        return None
    anchored = [Path(folder).absolute() for folder in folders]
    names = {path.name for folder in anchored for path in folder.rglob("*")}
    if style_dataset and Path(style_dataset).is_dir():
        clash = sorted({path.name for path in Path(style_dataset).absolute().rglob("*") if path.is_file()
                        and path.name in names and not any(f in path.parents for f in anchored)})
        if clash:
            raise ValueError(f"anchor_styles: {', '.join(clash[:3])} also named outside the anchored folders; "
                             "anchoring goes by file name, so rename them")
    return lambda name: Path(name).name in names


def _append_losses(output_dir: Path, step: int, logs: dict[str, float], seconds: float) -> None:
    """One line of ``output_dir/losses.csv`` (the loss curve, with or without a tracker); a resumed
    run appends to the same file, so the curve spans runs."""
    path = output_dir / "losses.csv"
    new = not path.is_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        if new:
            f.write(",".join(LOSS_COLUMNS) + "\n")
        values = {**logs, "step": step, "seconds": seconds}
        f.write(",".join(f"{values[c]:.6g}" if c != "step" else str(step) for c in LOSS_COLUMNS) + "\n")


def _record_seen(output_dir: Path, rank: int, step: int, contents: list[str], styles: list[str]) -> None:
    """Append which files this process trained on at ``step`` to ``seen/rank_<r>.tsv``."""
    path = output_dir / "seen" / f"rank_{rank}.tsv"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(f"{step}\t{','.join(contents)}\t{','.join(styles)}\n")


def card_details(config: TrainConfig, step: int, logs: dict[str, float], history: History | None = None) -> dict:
    """What the model card records about how the model was trained."""
    runs = history.runs if history else []
    return {
        "training": {
            "steps": step,
            **({"runs": "; ".join(f"steps {r.first_step:,}-{r.last_step:,}: {r.hours:.2f} h, {r.image_size} px, "
                                  f"{r.device}" for r in runs),
                "hours": round(history.hours, 2)} if runs else {}),
            "recipe": config.recipe,
            "optimizer": config.optimizer,
            "lr": config.lr,
            "lr_decay": config.lr_decay,
            "batch": f"{config.batch_size} contents x {config.styles_per_batch} styles",
            "crops": (f"random {config.image_size} px crops, flipped at random, of images whose shorter side was "
                      f"brought down to at most {config.resize} px" + (" (never upscaled)" if config.max_upscale == 1
                      else f" (upscaled at most {config.max_upscale:g}x)")),
            "architecture": config.architecture if not (config.pretrained or config.resume_from) else "as pretrained",
            "started_from": (f"{config.pretrained} (fine-tuned)" if config.pretrained
                             else f"{config.resume_from} (continued)" if config.resume_from
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
