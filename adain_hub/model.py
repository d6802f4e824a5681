"""The AdaIN network, in one of two architectures chosen by :class:`AdaINConfig`.

- ``"vgg19"`` (the paper's): a frozen normalised VGG-19 encoder to relu4_1 and a mirrored decoder.
  Both halves are built from one spec list (as timm builds VGG), with stages named after the layer
  they end at, so no code anywhere cuts the network by index.
- ``"lite"``: a small trainable encoder and decoder (about 0.2 M parameters, ~25x less work than
  VGG) that run at a quarter of the resolution, for CPUs; VGG-19 is only its loss network in
  training. See :class:`LiteEncoder`.

Either way the encoder maps an image to the features AdaIN transforms and the decoder maps them
back, so the Stylizer, backends, CLI and app never ask which one they hold.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Literal

from pathlib import Path

import safetensors.torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from huggingface_hub.constants import SAFETENSORS_SINGLE_FILE
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from . import functional as AF

STAGES = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
STYLE_BANK_FILE = "style_bank.safetensors"  # a model's bank of famous paintings, beside its weights

# VGG-19 convolutions up to relu4_1, grouped by the stage they end in. "M" is 2x2 max pooling.
# Entries are (name, width index) with width index into ``AdaINConfig.channels``.
_ENCODER_SPEC: dict[str, list[tuple[str, int] | str]] = {
    "relu1_1": [("conv1_1", 0)],
    "relu2_1": [("conv1_2", 0), "M", ("conv2_1", 1)],
    "relu3_1": [("conv2_2", 1), "M", ("conv3_1", 2)],
    "relu4_1": [("conv3_2", 2), ("conv3_3", 2), ("conv3_4", 2), "M", ("conv4_1", 3)],
}

# The decoder mirrors the encoder from relu4_1: (name, in width idx, out width idx) and "U" = 2x up.
_DECODER_SPEC: list[tuple[str, int, int] | str] = [
    ("conv4_1", 3, 2), "U",
    ("conv3_4", 2, 2), ("conv3_3", 2, 2), ("conv3_2", 2, 2), ("conv3_1", 2, 1), "U",
    ("conv2_2", 1, 1), ("conv2_1", 1, 0), "U",
    ("conv1_2", 0, 0),
]


Architecture = Literal["vgg19", "lite"]
ARCHITECTURES: tuple[str, ...] = ("vgg19", "lite")
_DEFAULT_CHANNELS = {"vgg19": (64, 128, 256, 512), "lite": (16, 48)}


@dataclass
class AdaINConfig:
    """Architecture of the network; everything needed to rebuild it from ``config.json``.

    ``architecture`` is ``"vgg19"`` (the paper's) or ``"lite"`` (small, for CPUs). ``channels``
    are its widths (default per architecture): for ``vgg19`` the four VGG blocks (the real VGG-19
    is ``(64, 128, 256, 512)``; tests use a tiny one); for ``lite`` the half- and quarter-resolution
    widths, ``(16, 48)``. ``upsample`` is the VGG decoder's 2x upsampling: ``"nearest"`` as in
    the paper, or ``"bilinear"``, which gave fewer checkerboard artefacts in our experiments (the
    lite decoder upsamples by pixel shuffle and ignores it). ``blocks`` is the number of residual
    blocks on each side of the lite network's bottleneck, split between its two levels (so at
    least 2: one each). ``antialias`` puts a fixed 2 x 2 box blur after each of the lite decoder's
    pixel shuffles (fastai's ``PixelShuffle_ICNR(blur=True)``): it zeroes the period-2 pattern a shuffle
    paints from its four sub-pixel filters, so the decoder cannot draw the 4 px and 2 px mesh
    (:mod:`adain_hub.grid`). It has no weights; a model trained without it is changed by it.
    """

    channels: tuple[int, ...] | None = None
    upsample: Literal["nearest", "bilinear"] = "nearest"
    architecture: Architecture = "vgg19"
    blocks: int = 2
    antialias: bool = False

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, got {self.architecture!r}")
        if self.channels is None:
            self.channels = _DEFAULT_CHANNELS[self.architecture]
        self.channels = tuple(int(c) for c in self.channels)  # JSON gives lists back
        want = len(_DEFAULT_CHANNELS[self.architecture])
        if len(self.channels) != want or min(self.channels) <= 0:
            raise ValueError(f"channels must be {want} positive widths for {self.architecture}, got {self.channels}")
        if self.upsample not in ("nearest", "bilinear"):
            raise ValueError(f"upsample must be 'nearest' or 'bilinear', got {self.upsample!r}")
        if int(self.blocks) != self.blocks or self.blocks < 2:
            raise ValueError(f"blocks must be a whole number of at least 2 (one per level), got {self.blocks}")
        self.blocks = int(self.blocks)
        if self.antialias and self.architecture != "lite":
            raise ValueError("antialias is the lite decoder's blur after its pixel shuffles; vgg19 has none")
        self.antialias = bool(self.antialias)

    @property
    def feature_channels(self) -> int:
        """Channels of the features AdaIN transforms (relu4_1 for VGG; both lite levels stacked)."""
        return self.channels[3] if self.architecture == "vgg19" else 2 * self.channels[1]

    @property
    def downsample(self) -> int:
        """How much smaller than the image those features are on each side."""
        return 8 if self.architecture == "vgg19" else 4


def _conv(cin: int, cout: int) -> nn.Sequential:
    """3x3 convolution with reflection padding, as the AdaIN authors' VGG and decoder use."""
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, 3))


class Encoder(nn.Module):
    """Normalised VGG-19 from RGB in [0, 1] to relu4_1, one child module per returned stage.

    ``rgb_to_bgr`` is the 1x1 convolution the authors put in front: it turns RGB in [0, 1] into the
    Caffe input (BGR, 0..255, mean subtracted) so callers never deal with Caffe preprocessing.
    """

    def __init__(self, channels: tuple[int, int, int, int]) -> None:
        super().__init__()
        self.rgb_to_bgr = nn.Conv2d(3, 3, 1)
        cin = 3
        for stage, layers in _ENCODER_SPEC.items():
            modules: dict[str, nn.Module] = {}
            for i, item in enumerate(layers):
                if item == "M":
                    modules[f"pool{i}"] = nn.MaxPool2d(2, 2)
                else:
                    name, width = item
                    modules[name] = _conv(cin, channels[width])
                    modules[f"relu{name[4:]}"] = nn.ReLU(inplace=True)
                    cin = channels[width]
            # named children give readable weight keys: encoder.relu2_1.conv2_1.1.weight
            setattr(self, stage, nn.Sequential(OrderedDict(modules)))

    def forward(self, x: Tensor, upto: str = "relu4_1") -> list[Tensor]:
        """Features of every stage up to ``upto``: a list of ``(N, C_i, H / 2^i, W / 2^i)``."""
        if upto not in STAGES:
            raise ValueError(f"unknown stage {upto!r}; expected one of {STAGES}")
        feats = []
        x = self.rgb_to_bgr(x)
        for stage in STAGES:
            x = getattr(self, stage)(x)
            feats.append(x)
            if stage == upto:
                break
        return feats

    def conv_layers(self) -> dict[str, nn.Conv2d]:
        """The VGG convolutions by their VGG name (``conv1_1`` ...), in network order."""
        return {
            name: block[1]
            for stage in STAGES
            for name, block in getattr(self, stage).named_children()
            if name.startswith("conv")
        }


class Decoder(nn.Module):
    """The encoder mirrored from relu4_1 back to pixels; pooling becomes 2x upsampling."""

    def __init__(self, channels: tuple[int, int, int, int], upsample: str = "nearest") -> None:
        super().__init__()
        layers: dict[str, nn.Module] = {}
        for i, item in enumerate(_DECODER_SPEC):
            if item == "U":
                align = None if upsample == "nearest" else False
                layers[f"up{i}"] = nn.Upsample(scale_factor=2, mode=upsample, align_corners=align)
            else:
                name, cin, cout = item
                layers[name] = _conv(channels[cin], channels[cout])
                layers[f"relu{name[4:]}"] = nn.ReLU(inplace=True)
        layers["to_rgb"] = _conv(channels[0], 3)  # no activation: clamped when turned into an image
        self.layers = nn.Sequential(OrderedDict(layers))

    def forward(self, t: Tensor) -> Tensor:
        """``(N, C_4, h, w) -> (N, 3, 8h, 8w)`` image, roughly in [0, 1]."""
        return self.layers(t)


class _Residual(nn.Module):
    """``x + conv(relu(conv(x)))``: two reflection-padded 3x3 convolutions at constant width."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.conv1 = _conv(width, width)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv(width, width)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.conv2(self.relu(self.conv1(x)))


class LiteEncoder(nn.Module):
    """Image -> ``(N, 2 * C, H / 4, W / 4)``: the small network's features, for CPUs.

    Why this shape (chosen by measured CPU time, ``benchmarks/bench_lite.py``): no convolution
    runs at full resolution (a pixel unshuffle folds 2x2 pixels into 12 channels first), the work
    sits at a quarter resolution where convolutions are efficient, and the features of two depths
    (after each residual block group) are stacked along channels. AdaIN is per channel, so
    transforming the stack gives each depth its own style statistics, as MicroAST's multi-level
    modulation does, while the Stylizer still sees one feature map.
    """

    def __init__(self, channels: tuple[int, ...], blocks: int = 2) -> None:
        super().__init__()
        half, quarter = channels
        self.stem = nn.Sequential(OrderedDict(
            unshuffle=nn.PixelUnshuffle(2), conv1=_conv(12, half), relu1=nn.ReLU(inplace=True),
            down=nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(half, quarter, 3, stride=2)),
            relu2=nn.ReLU(inplace=True),
        ))
        self.shallow = nn.Sequential(*[_Residual(quarter) for _ in range(blocks // 2)])
        self.deep = nn.Sequential(*[_Residual(quarter) for _ in range(blocks - blocks // 2)])

    def forward(self, x: Tensor, upto: str | None = None) -> list[Tensor]:
        """``[features]``: a list of one, as :meth:`Encoder.forward` returns its stages."""
        shallow = self.shallow(self.stem(x))
        return [torch.cat([shallow, self.deep(shallow)], dim=1)]


class ShuffleBlur(nn.Module):
    """A 2 x 2 box average (stride 1, edges replicated), as fastai puts after ``PixelShuffle_ICNR``:
    its response is zero at the Nyquist frequency, where the period-2 pattern of a pixel shuffle's
    four sub-pixel filters sits. The lite decoder has one at half resolution, after its last ReLU (a
    ReLU can make that frequency again from others; the convolution and shuffle after it cannot, so
    no 4 px period reaches the image), and one at full resolution after the last shuffle (the 2 px
    period). Their paddings are split (top-left, then bottom-right) so the pair shifts the image by
    half a pixel at most.

    Computed as a depthwise 2 x 2 convolution of fixed weights, not an average pool: the same
    numbers, at about a fifth of the pool's cost in OpenVINO (the pair adds 6% to the network's
    graphs at 512 px instead of 29%, ``benchmarks/bench_blur.py``). The weights are a buffer left
    out of the state dict: there is nothing to learn or to ship."""

    def __init__(self, channels: int, pad: tuple[int, int, int, int] = (1, 0, 1, 0)) -> None:
        super().__init__()
        self.pad = pad
        self.register_buffer("weight", torch.full((channels, 1, 2, 2), 0.25), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(F.pad(x, self.pad, mode="replicate"), self.weight, groups=self.weight.shape[0])


class LiteDecoder(nn.Module):
    """``(N, 2 * C, h, w) -> (N, 3, 4h, 4w)``: the deep level through residual blocks, fused with
    the shallow level by a 1x1 convolution, then two pixel-shuffle upsamplings (each followed by
    a :class:`ShuffleBlur` when ``antialias``)."""

    def __init__(self, channels: tuple[int, ...], blocks: int = 2, antialias: bool = False) -> None:
        super().__init__()
        half, quarter = channels
        self.quarter = quarter
        self.deep = nn.Sequential(*[_Residual(quarter) for _ in range(blocks // 2)])
        self.fuse = nn.Conv2d(2 * quarter, quarter, 1)
        self.shallow = nn.Sequential(*[_Residual(quarter) for _ in range(blocks - blocks // 2)])
        layers: dict[str, nn.Module] = dict(
            conv1=_conv(quarter, 4 * half), shuffle1=nn.PixelShuffle(2), relu1=nn.ReLU(inplace=True),
            conv2=_conv(half, half), relu2=nn.ReLU(inplace=True))
        if antialias:  # just before the last linear layers: nothing after it can bring the period back
            layers["blur1"] = ShuffleBlur(half, (1, 0, 1, 0))
        layers.update(to_rgb=_conv(half, 12), shuffle2=nn.PixelShuffle(2))  # no activation: clamped as an image
        if antialias:
            layers["blur2"] = ShuffleBlur(3, (0, 1, 0, 1))
        self.up = nn.Sequential(OrderedDict(layers))
        for conv in (self.up.conv1[1], self.up.to_rgb[1]):
            _icnr_(conv, 2)

    def forward(self, t: Tensor) -> Tensor:
        shallow, deep = t[:, : self.quarter], t[:, self.quarter :]
        h = self.fuse(torch.cat([self.deep(deep), shallow], dim=1))
        return self.up(self.shallow(h))


def _bank_beside(model_id: str, revision: str | None, cache_dir: str | Path | None, token: str | bool | None,
                 local_files_only: bool) -> str | None:
    """The path of the style bank shipped beside a model's weights (a folder's file, or one fetched
    from the Hub or read from its cache), or ``None`` when the model has none."""
    if os.path.isdir(model_id):
        path = os.path.join(model_id, STYLE_BANK_FILE)
        return path if os.path.isfile(path) else None
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return hf_hub_download(repo_id=model_id, filename=STYLE_BANK_FILE, revision=revision, cache_dir=cache_dir,
                               token=token, local_files_only=local_files_only)
    except (EntryNotFoundError, OSError):  # no bank in this repository (or not in the offline cache)
        return None


def _icnr_(conv: nn.Conv2d, scale: int) -> None:
    """ICNR initialisation (Aitken et al. 2017) of a convolution followed by ``PixelShuffle(scale)``:
    the ``scale**2`` outputs that land in one output pixel's block start equal, so the pair begins as
    nearest-neighbour upsampling and training starts without the checkerboard a random init gives
    (seen in a 400-step CPU run before this)."""
    out_channels = conv.out_channels // scale**2
    weight = torch.empty(out_channels, *conv.weight.shape[1:])
    nn.init.kaiming_uniform_(weight, a=5**0.5)  # nn.Conv2d's own default, on the smaller kernel
    with torch.no_grad():
        conv.weight.copy_(weight.repeat_interleave(scale**2, dim=0))
        if conv.bias is not None:
            conv.bias.copy_(conv.bias[:: scale**2].repeat_interleave(scale**2))


MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# AdaIN: arbitrary style transfer in real time

{% if lite %}A small encoder and decoder (adain-lite, for CPUs) trained for Adaptive Instance Normalization
([Huang & Belongie, ICCV 2017]({{ paper_url }})), with a normalised VGG-19 as the loss network only.
{% else %}A decoder trained for Adaptive Instance Normalization ([Huang & Belongie, ICCV 2017]({{ paper_url }})) on a frozen,
normalised VGG-19 encoder.
{% endif %}Code: {{ repo_url }}

```python
from adain_hub import AdaIN, Stylizer

stylizer = Stylizer(AdaIN.from_pretrained("{{ repo_id | default("path/to/this/folder", true) }}"))
stylizer("photo.jpg", "painting.jpg", alpha=0.8).save("out.png")
```

## ONNX

For onnxruntime, apps and browsers: `stylize.onnx` (photo, painting and alpha in, the stylized photo out)
and its two halves `encoder.onnx` and `decoder.onnx` (encode once, decode many), with a README on calling
them. On the Hub they sit in the repository's `onnx/` folder (`hf download <repo id> --include "onnx/*"
--local-dir .` fetches it); any copy of this model writes them with `pip install 'adain-hub[onnx]'` and
`adain export --model {{ repo_id | default("path/to/this/folder", true) }} --out onnx/`.
{% if training %}
## Training

| setting | value |
|---|---|
{% for key, value in training.items() %}| {{ key }} | {{ value }} |
{% endfor %}
{% endif %}
"""


class AdaIN(
    nn.Module,
    PyTorchModelHubMixin,
    library_name="adain-hub",
    pipeline_tag="image-to-image",
    license="mit",
    tags=["style-transfer", "adain", "arbitrary-style-transfer", "pytorch"],
    repo_url="https://github.com/adain-hub/adain-hub",
    paper_url="https://arxiv.org/abs/1703.06868",
    model_card_template=MODEL_CARD_TEMPLATE,
):
    """Arbitrary style transfer with Adaptive Instance Normalization (Huang & Belongie, ICCV 2017).

    ``AdaIN.from_pretrained(folder_or_repo_id)`` loads encoder and decoder from one safetensors
    file. With the VGG-19 architecture the encoder is frozen and only the decoder trains; the lite
    one trains both. For images, use :class:`adain_hub.Stylizer`.
    """

    style_bank_file: str | None = None
    """The model's :class:`~adain_hub.StyleBank` file, found beside the weights by ``from_pretrained``."""

    def __init__(self, config: AdaINConfig | dict | None = None) -> None:
        super().__init__()
        if isinstance(config, dict):  # as read back from config.json
            config = AdaINConfig(**config)
        self.config = config if config is not None else AdaINConfig()
        if self.config.architecture == "lite":  # trained whole, with VGG-19 only as the loss network
            self.encoder = LiteEncoder(self.config.channels, self.config.blocks)
            self.decoder = LiteDecoder(self.config.channels, self.config.blocks, self.config.antialias)
        else:  # the paper's: a frozen VGG-19 encoder, only the decoder trains
            self.encoder = Encoder(self.config.channels)
            self.decoder = Decoder(self.config.channels, self.config.upsample)
            self.encoder.requires_grad_(False)

    @classmethod
    def _from_pretrained(
        cls,
        *,
        model_id: str,
        revision: str | None,
        cache_dir: str | Path | None,
        force_download: bool,
        local_files_only: bool,
        token: str | bool | None,
        map_location: str = "cpu",
        strict: bool = True,
        **model_kwargs,
    ) -> "AdaIN":
        """Load ``model.safetensors`` strictly: every tensor present and used, nothing unpickled.

        (The mixin's default is non-strict, which would silently keep a random decoder.)
        """
        model = cls(**model_kwargs)
        if os.path.isdir(model_id):
            model_file = os.path.join(model_id, SAFETENSORS_SINGLE_FILE)
            if not os.path.isfile(model_file):
                raise FileNotFoundError(f"{model_id} has no {SAFETENSORS_SINGLE_FILE}")
        else:
            model_file = hf_hub_download(
                repo_id=model_id,
                filename=SAFETENSORS_SINGLE_FILE,
                revision=revision,
                cache_dir=cache_dir,
                force_download=force_download,
                token=token,
                local_files_only=local_files_only,
            )
        safetensors.torch.load_model(model, model_file, strict=strict, device=map_location)
        model.style_bank_file = _bank_beside(model_id, revision, cache_dir, token, local_files_only)
        return model.eval()

    def save_pretrained(self, save_directory: str | Path, **kwargs) -> str | None:
        """The mixin's save, with ``config.json`` always written from :class:`AdaINConfig` (the
        mixin only records constructor arguments that were passed explicitly). The model card's
        usage example names ``repo_id`` when given, else the folder saved to."""
        if kwargs.get("config") is None:
            kwargs["config"] = asdict(self.config)
        card = dict(kwargs.get("model_card_kwargs") or {})
        card.setdefault("repo_id", kwargs.get("repo_id") or str(save_directory))
        card.setdefault("lite", not self.is_vgg)
        kwargs["model_card_kwargs"] = card
        return super().save_pretrained(save_directory, **kwargs)

    def push_to_hub(self, repo_id: str, **kwargs) -> str:
        """The mixin's upload, with the model card's usage example naming ``repo_id``."""
        card = dict(kwargs.get("model_card_kwargs") or {})
        card.setdefault("repo_id", repo_id)
        kwargs["model_card_kwargs"] = card
        return super().push_to_hub(repo_id, **kwargs)

    def train(self, mode: bool = True) -> "AdaIN":
        """Switch the trainable parts' mode; a frozen VGG encoder always stays in eval mode."""
        super().train(mode)
        if self.is_vgg:
            self.encoder.eval()
        return self

    def fingerprint(self, part: Literal["model", "encoder"] = "model") -> str:
        """A short hash of the config and every tensor of the whole model or of its encoder only:
        what a style bank was built with (statistics are the encoder's), and what a dataset's
        manifest names its outputs' model by."""
        config = asdict(self.config)
        if part == "encoder" or not config["antialias"]:  # the decoder's blur: absent from older hashes
            del config["antialias"]
        h = hashlib.sha256(json.dumps(config, sort_keys=True).encode())
        module = self if part == "model" else self.encoder
        for name, tensor in sorted(module.state_dict().items()):
            t = tensor.detach().to("cpu", torch.float32).contiguous()
            h.update(f"{name}|{tuple(t.shape)}".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().data)
        return h.hexdigest()[:16]

    @property
    def is_vgg(self) -> bool:
        """Whether this is the paper's VGG-19 architecture (whose encoder can judge and teach)."""
        return self.config.architecture == "vgg19"

    def encode(self, image: Tensor, upto: str = "relu4_1") -> list[Tensor]:
        """Encoder features of an RGB batch in [0, 1]; the last is what AdaIN transforms. VGG gives
        every stage from relu1_1 up to ``upto``; lite gives its one feature map."""
        return self.encoder(image, upto)

    def decode(self, features: Tensor) -> Tensor:
        """Decoder image (unclamped) from features shaped like ``encode(...)[-1]``."""
        return self.decoder(features)

    def forward(self, content: Tensor, style: Tensor, alpha: float = 1.0) -> Tensor:
        """Stylize a content batch with a style batch (same N) at trade-off ``alpha``; unclamped."""
        c = self.encode(content)[-1]
        s = self.encode(style)[-1]
        t = AF.adain(c, s)
        t = alpha * t + (1 - alpha) * c.float()
        return self.decode(t.to(c.dtype))
