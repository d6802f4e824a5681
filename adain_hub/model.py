"""The AdaIN network: a frozen normalised VGG-19 encoder to relu4_1 and a mirrored decoder.

Both halves are built from one spec list (as timm builds VGG), with stages named after the
layer they end at, so no code anywhere cuts the network by index.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Literal

import os
from pathlib import Path

import safetensors.torch
from huggingface_hub import PyTorchModelHubMixin, hf_hub_download
from huggingface_hub.constants import SAFETENSORS_SINGLE_FILE
from torch import Tensor, nn

from . import functional as AF

STAGES = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")

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


@dataclass
class AdaINConfig:
    """Architecture of the network; everything needed to rebuild it from ``config.json``.

    ``channels`` are the widths of the four VGG blocks (the real VGG-19 is ``(64, 128, 256, 512)``;
    tests use a tiny one). ``upsample`` is the decoder's 2x upsampling: ``"nearest"`` as in the
    paper, or ``"bilinear"``, which gave fewer checkerboard artefacts in our experiments.
    """

    channels: tuple[int, int, int, int] = (64, 128, 256, 512)
    upsample: Literal["nearest", "bilinear"] = "nearest"

    def __post_init__(self) -> None:
        self.channels = tuple(int(c) for c in self.channels)  # JSON gives lists back
        if len(self.channels) != 4 or min(self.channels) <= 0:
            raise ValueError(f"channels must be four positive widths, got {self.channels}")
        if self.upsample not in ("nearest", "bilinear"):
            raise ValueError(f"upsample must be 'nearest' or 'bilinear', got {self.upsample!r}")


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


MODEL_CARD_TEMPLATE = """---
{{ card_data }}
---

# AdaIN: arbitrary style transfer in real time

A decoder trained for Adaptive Instance Normalization ([Huang & Belongie, ICCV 2017]({{ paper_url }})) on a frozen,
normalised VGG-19 encoder. Code: {{ repo_url }}

```python
from adain_hub import AdaIN, Stylizer

stylizer = Stylizer(AdaIN.from_pretrained("{{ repo_id | default("path/to/this/folder", true) }}"))
stylizer("photo.jpg", "painting.jpg", alpha=0.8).save("out.png")
```
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
    file. The encoder is frozen; only the decoder trains. For images, use :class:`adain_hub.Stylizer`.
    """

    def __init__(self, config: AdaINConfig | dict | None = None) -> None:
        super().__init__()
        if isinstance(config, dict):  # as read back from config.json
            config = AdaINConfig(**config)
        self.config = config if config is not None else AdaINConfig()
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
        return model.eval()

    def save_pretrained(self, save_directory: str | Path, **kwargs) -> str | None:
        """The mixin's save, with ``config.json`` always written from :class:`AdaINConfig` (the
        mixin only records constructor arguments that were passed explicitly). The model card's
        usage example names ``repo_id`` when given, else the folder saved to."""
        if kwargs.get("config") is None:
            kwargs["config"] = asdict(self.config)
        card = dict(kwargs.get("model_card_kwargs") or {})
        card.setdefault("repo_id", kwargs.get("repo_id") or str(save_directory))
        kwargs["model_card_kwargs"] = card
        return super().save_pretrained(save_directory, **kwargs)

    def push_to_hub(self, repo_id: str, **kwargs) -> str:
        """The mixin's upload, with the model card's usage example naming ``repo_id``."""
        card = dict(kwargs.get("model_card_kwargs") or {})
        card.setdefault("repo_id", repo_id)
        kwargs["model_card_kwargs"] = card
        return super().push_to_hub(repo_id, **kwargs)

    def train(self, mode: bool = True) -> "AdaIN":
        """Switch the decoder's mode; the frozen encoder always stays in eval mode."""
        super().train(mode)
        self.encoder.eval()
        return self

    def encode(self, image: Tensor, upto: str = "relu4_1") -> list[Tensor]:
        """Encoder features of an RGB batch in [0, 1], from relu1_1 up to ``upto``."""
        return self.encoder(image, upto)

    def decode(self, features: Tensor) -> Tensor:
        """Decoder image (unclamped) from relu4_1-shaped features."""
        return self.decoder(features)

    def forward(self, content: Tensor, style: Tensor, alpha: float = 1.0) -> Tensor:
        """Stylize a content batch with a style batch (same N) at trade-off ``alpha``; unclamped."""
        c = self.encode(content)[-1]
        s = self.encode(style)[-1]
        t = AF.adain(c, s)
        t = alpha * t + (1 - alpha) * c.float()
        return self.decode(t.to(c.dtype))
