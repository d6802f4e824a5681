"""Export a model to ONNX, so that it runs without PyTorch: onnxruntime, an app, a browser tab.

Three graphs, float32 RGB in [0, 1] in and out, every image side dynamic:

- ``stylize.onnx``: ``content`` (1, 3, H, W), ``style`` (1, 3, H', W'), ``alpha`` (a float32 scalar)
  -> ``image`` (1, 3, H, W) in [0, 1]: the fp32 :class:`~adain_hub.Stylizer` for one style, padding
  to a multiple of 8 and cropping back included.
- ``encoder.onnx``: ``image`` (1, 3, H, W) -> ``features`` (1, C, h, w) and their channel ``mean`` and
  ``std`` (1, C, 1, 1); the image is reflection-padded to a multiple of 8 inside the graph.
- ``decoder.onnx``: ``features`` (1, C, h, w) -> ``image`` (1, 3, d*h, d*w) in [0, 1], at the padded
  size: cut the photo back out with :func:`crop_box`.

With a model that ships a style bank (famous paintings), ``styles.json`` goes beside them: each painting's
name, credit line, thumbnail and statistics, so that a page (adain-hub's ``web/``) offers them without
encoding any.

Why two halves: a painting's style is two vectors of C floats, computed once and kept; a photo is
encoded once, and every change of alpha or style then reruns only the decoder. The AdaIN step between
them is one multiply-add per feature (:func:`adain_step`), small enough for numpy or JavaScript, so it
stays outside the graphs and can be mixed, masked or blended as the caller likes.

Needs the ``onnx`` extra (``pip install 'adain-hub[onnx]'``: onnx and onnxscript for torch's exporter,
onnxruntime to run the graphs).
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import __version__
from . import functional as AF
from .images import ENCODER_MIN_SIDE
from .model import AdaIN

if TYPE_CHECKING:
    from .style_bank import StyleBank

DEFAULT_OPSET = 18  # the first opset of torch's exporter; onnxruntime has run it since 1.14
MIN_OPSET = 18  # lower ones need onnx's version converter, which has no adapter for Pad and keeps 18
PAD_MULTIPLE = 8  # the Stylizer pads every image to this, for both architectures
GRAPHS = ("stylize.onnx", "encoder.onnx", "decoder.onnx")
STYLES_FILE = "styles.json"  # the model's style bank, for pages: names, credits, thumbnails, statistics
STYLES_FORMAT = "adain-hub-web-styles/1"
_EXAMPLE = {"content": (64, 80), "style": (72, 64)}  # traced at these sizes; any size runs


def crop_box(height: int, width: int) -> tuple[int, int]:
    """``(top, left)`` of a ``height x width`` photo inside the decoder's padded output: the padding
    to a multiple of 8 is split evenly between opposite sides, as :func:`adain_hub.images.pad_amounts`."""
    return (-height % PAD_MULTIPLE) // 2, (-width % PAD_MULTIPLE) // 2


def adain_step(features: np.ndarray, content_mean: np.ndarray, content_std: np.ndarray,
               style_mean: np.ndarray, style_std: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """AdaIN between ``encoder.onnx`` and ``decoder.onnx``: give the photo's features ``(1, C, h, w)``
    the painting's channel statistics ``(1, C, 1, 1)``, then blend ``alpha`` of that with the photo's
    own features. The same arithmetic as the Stylizer (one multiply-add per feature)."""
    scale = style_std / content_std
    target = features * scale + (style_mean - content_mean * scale)
    return (alpha * target + (1.0 - alpha) * features).astype(np.float32)


def _pad(x: Tensor) -> Tensor:
    """Reflection-pad to a multiple of 8 with amounts computed from the (dynamic) input size."""
    h, w = x.shape[-2:]
    ph, pw = -h % PAD_MULTIPLE, -w % PAD_MULTIPLE
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), mode="reflect")


class StylizeGraph(nn.Module):
    """``content, style, alpha -> image``: encode both, AdaIN, blend, decode, crop, clamp."""

    def __init__(self, model: AdaIN) -> None:
        super().__init__()
        self.model = model

    def forward(self, content: Tensor, style: Tensor, alpha: Tensor) -> Tensor:
        h, w = content.shape[-2:]
        c = self.model.encode(_pad(content))[-1]
        s_mean, s_std = AF.calc_mean_std(self.model.encode(_pad(style))[-1])
        t = AF.adaptive_instance_normalization(c, s_mean, s_std)
        image = self.model.decode(alpha * t + (1.0 - alpha) * c)
        top, left = (-h % PAD_MULTIPLE) // 2, (-w % PAD_MULTIPLE) // 2
        return image[..., top : top + h, left : left + w].clamp(0.0, 1.0)


class EncoderGraph(nn.Module):
    """``image -> features, mean, std``: the encoder half, with the statistics AdaIN needs."""

    def __init__(self, model: AdaIN) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        features = self.model.encode(_pad(image))[-1]
        mean, std = AF.calc_mean_std(features)
        return features, mean, std


class DecoderGraph(nn.Module):
    """``features -> image``: the decoder half, clamped to [0, 1], at the padded size."""

    def __init__(self, model: AdaIN) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: Tensor) -> Tensor:
        return self.model.decode(features).clamp(0.0, 1.0)


@dataclass(frozen=True)
class _Spec:
    module: type[nn.Module]
    inputs: dict[str, tuple[str, ...]]  # name -> dimension names (scalars: ())
    outputs: dict[str, tuple[str, ...]]


def _specs(model: AdaIN) -> dict[str, _Spec]:
    c, d = str(model.config.feature_channels), model.config.downsample
    return {
        "stylize.onnx": _Spec(StylizeGraph, {"content": ("1", "3", "H", "W"), "style": ("1", "3", "Hs", "Ws"),
                                             "alpha": ()}, {"image": ("1", "3", "H", "W")}),
        "encoder.onnx": _Spec(EncoderGraph, {"image": ("1", "3", "H", "W")},
                              {"features": ("1", c, "h", "w"), "mean": ("1", c, "1", "1"), "std": ("1", c, "1", "1")}),
        "decoder.onnx": _Spec(DecoderGraph, {"features": ("1", c, "h", "w")},
                              {"image": ("1", "3", f"{d}*h", f"{d}*w")}),
    }


def _example(spec: _Spec, model: AdaIN) -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(0)
    d, c = model.config.downsample, model.config.feature_channels
    shapes = {"content": (1, 3, *_EXAMPLE["content"]), "style": (1, 3, *_EXAMPLE["style"]),
              "image": (1, 3, *_EXAMPLE["content"]), "alpha": (),
              "features": (1, c, *(side // d for side in _EXAMPLE["content"]))}
    return tuple(torch.tensor(0.8) if name == "alpha" else torch.rand(shapes[name], generator=g)
                 for name in spec.inputs)


def export_graph(model: AdaIN, name: str, path: str | Path, opset: int = DEFAULT_OPSET) -> Path:
    """Write one of :data:`GRAPHS` for ``model`` to ``path`` (one self-contained file, weights inside).
    The model is copied to fp32 on the CPU in eval mode first, so the caller's stays as it is."""
    import onnx

    require_exporter()
    check_opset(opset)
    spec = _specs(model)[name]
    net = spec.module(copy.deepcopy(model).float().cpu()).eval()
    dynamic = {k: ({i: dim for i, dim in enumerate(dims) if not dim.isdigit()} or None)
               for k, dims in spec.inputs.items()}
    with torch.inference_mode(False), torch.no_grad():
        program = torch.onnx.export(net, _example(spec, model), input_names=list(spec.inputs),
                                    dynamic_shapes=dynamic, opset_version=opset, dynamo=True, verbose=False)
    proto = program.model_proto
    _name_outputs(proto.graph, list(spec.outputs))
    got = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if got != opset:  # the exporter falls back to its own opset when it cannot convert
        raise ValueError(f"the exporter wrote opset {got}, not the {opset} asked for")
    for value, dims in zip(proto.graph.output, spec.outputs.values()):
        for dim, label in zip(value.type.tensor_type.shape.dim, dims):  # readable names, not sympy's
            if not label.isdigit():
                dim.dim_param = label
    onnx.helper.set_model_props(proto, {
        "adain_hub.version": __version__,
        "architecture": model.config.architecture,
        "feature_channels": str(model.config.feature_channels),
        "downsample": str(model.config.downsample),
        "pad_multiple": str(PAD_MULTIPLE),
        "eps": str(AF.EPS),
        "min_side": str(ENCODER_MIN_SIDE),
    })
    proto.doc_string = f"adain-hub {name}: {spec.module.__doc__.splitlines()[0]}"
    path = Path(path)
    onnx.save_model(proto, str(path))
    return path


def _name_outputs(graph, names: list[str]) -> None:
    """Name the graph's outputs ``names``, in place. Not the exporter's ``output_names``: torch's exporter
    names inner values after the Python variables that held them, and an output named like one of those
    (``mean``, the channel statistics' local) made two values of one name, a graph onnxruntime refuses.
    Here such an inner value is renamed first, so any output name is safe."""
    taken = {value for node in graph.node for value in node.output}
    taken |= {value.name for value in (*graph.input, *graph.initializer)}
    aside: dict[str, str] = {}
    for value, name in zip(graph.output, names):
        if name != value.name and name in taken:
            fresh = next(f"{name}_{i}" for i in range(len(taken) + 1) if f"{name}_{i}" not in taken)
            taken.add(fresh)
            aside[name] = fresh
    _rename_values(graph, aside)
    _rename_values(graph, {value.name: name for value, name in zip(graph.output, names) if value.name != name})


def _rename_values(graph, renames: dict[str, str]) -> None:
    """Rename values of a flat graph wherever they are written or read."""
    if not renames:
        return
    for node in graph.node:
        node.input[:] = [renames.get(v, v) for v in node.input]
        node.output[:] = [renames.get(v, v) for v in node.output]
    for value in (*graph.input, *graph.output, *graph.value_info, *graph.initializer):
        value.name = renames.get(value.name, value.name)


def require_exporter() -> None:
    """Raise ``ImportError`` with one line naming what is missing when torch's ONNX exporter cannot run
    here (it needs the onnx and onnxscript packages)."""
    import importlib.util

    missing = [name for name in ("onnx", "onnxscript") if importlib.util.find_spec(name) is None]
    if missing:
        raise ImportError(f"ONNX export needs {' and '.join(missing)} (the onnx extra)")


def check_opset(opset: int) -> None:
    """Raise ``ValueError`` for an opset this exporter cannot write."""
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= newest:
        raise ValueError(f"opset must be {MIN_OPSET} to {newest} (torch's exporter starts at {MIN_OPSET}), got {opset}")


def export(model: AdaIN, out: str | Path, opset: int = DEFAULT_OPSET, source: str = "",
           styles: bool = True) -> list[Path]:
    """Write :data:`GRAPHS` and a ``README.md`` on calling them into the folder ``out`` (created);
    ``source`` names the model in the README. With ``styles`` and a model that has a style bank,
    also :data:`STYLES_FILE` (:func:`styles_json`); a bank built for another encoder raises
    :class:`~adain_hub.StyleBankError`, before anything is written. Returns the paths written."""
    require_exporter()
    check_opset(opset)
    bank = _model_bank(model) if styles else None
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [export_graph(model, name, out / name, opset) for name in GRAPHS]
    if bank is not None:
        paths.append(out / STYLES_FILE)
        paths[-1].write_text(json.dumps(styles_json(bank), ensure_ascii=False, separators=(",", ":")),
                             encoding="utf-8")
    readme = out / "README.md"
    readme.write_text(folder_readme(model, source, opset, len(bank) if bank is not None else 0), encoding="utf-8")
    return [*paths, readme]


def _model_bank(model: AdaIN) -> StyleBank | None:
    """The style bank shipped beside ``model``'s weights, checked against its encoder; ``None`` if none."""
    from .style_bank import StyleBank

    return StyleBank.from_pretrained(model) if model.style_bank_file else None


def styles_json(bank: StyleBank) -> dict[str, Any]:
    """A style bank as the page reads it: per painting its name, credit line, thumbnail (a JPEG ``data:``
    URL, or ``""``) and channel ``mean`` and ``std``, the same numbers as the bank's (9 significant digits
    give every float32 back exactly), so the page paints with a famous painting what the Stylizer does."""
    def floats(values: Any) -> list[float]:
        return [float(f"{v:.9g}") for v in values.tolist()]

    thumbnails = bank.thumbnails or (b"",) * len(bank)
    return {
        "format": STYLES_FORMAT,
        "encoder": bank.encoder,
        "channels": bank.channels,
        "styles": [
            {"name": name, "credit": credit, "mean": floats(bank.mean[i].float()), "std": floats(bank.std[i].float()),
             "thumbnail": f"data:image/jpeg;base64,{base64.b64encode(thumb).decode()}" if thumb else ""}
            for i, (name, credit, thumb) in enumerate(zip(bank.names, bank.credits, thumbnails))
        ],
    }


def folder_readme(model: AdaIN, source: str = "", opset: int = DEFAULT_OPSET, styles: int = 0) -> str:
    """The README.md written next to the graphs: what each takes and gives, and how to call them
    (``styles``: how many famous paintings :data:`STYLES_FILE` holds; 0: there is none)."""
    cfg = model.config
    styles_line = (f"\n`{STYLES_FILE}` holds the model's {styles} famous paintings (its style bank): per painting "
                   f"`name`, `credit`,\n`thumbnail` (a JPEG `data:` URL) and the `mean` and `std` of its "
                   f"features ({cfg.feature_channels} floats each): reshaped to (1, {cfg.feature_channels}, 1, 1),\n"
                   f"they are `style_mean` and `style_std` below, with no painting to encode.\n" if styles else "")
    return README_TEMPLATE.format(
        source=f" of `{source}`" if source else "", architecture=cfg.architecture, opset=opset,
        channels=cfg.feature_channels, d=cfg.downsample, min_side=ENCODER_MIN_SIDE, eps=AF.EPS,
        version=__version__, styles=styles_line,
    )


README_TEMPLATE = """\
# ONNX export{source}

AdaIN style transfer (`{architecture}` architecture) exported by `adain export` (adain-hub {version},
opset {opset}). Every image is float32 RGB in [0, 1], shaped (1, 3, height, width); every side is
dynamic (at least {min_side} px; the Stylizer runs photos at most 512 px on the longer side, so resize
larger ones first, and upscales smaller than 32 px).

| file | inputs | outputs |
|---|---|---|
| `stylize.onnx` | `content` (1, 3, H, W), `style` (1, 3, H', W'), `alpha` (float32 scalar, 0..1) | `image` (1, 3, H, W) in [0, 1] |
| `encoder.onnx` | `image` (1, 3, H, W) | `features` (1, {channels}, h, w), `mean` and `std` (1, {channels}, 1, 1) |
| `decoder.onnx` | `features` (1, {channels}, h, w) | `image` (1, 3, {d}h, {d}w) in [0, 1] |

`stylize.onnx` is the whole stylization in one call. The two halves are for reuse: encode a painting
once and keep its `mean` and `std` (its style: {channels} floats each), encode a photo once, and every
new alpha or style then runs only the decoder. The encoder pads the image to a multiple of 8 by
reflection, h = ceil(H / 8) * 8 / {d}, so the decoder's image is the padded size: the photo is at
`top = (-H % 8) // 2`, `left = (-W % 8) // 2`. AdaIN between the halves, per channel
(eps = {eps:g} is already inside `std`):

    scale = style_std / content_std
    target = features * scale + (style_mean - content_mean * scale)
    decoder_input = alpha * target + (1 - alpha) * features
{styles}
```python
import numpy as np
import onnxruntime as ort
from PIL import Image

def load(path):  # (1, 3, H, W) float32 in [0, 1]
    return (np.asarray(Image.open(path).convert("RGB"), np.float32) / 255).transpose(2, 0, 1)[None].copy()

photo, painting, alpha = load("photo.jpg"), load("painting.jpg"), 0.8
stylize = ort.InferenceSession("stylize.onnx")
image = stylize.run(None, {{"content": photo, "style": painting, "alpha": np.array(alpha, np.float32)}})[0]

# the same with the halves: the painting's statistics and the photo's features computed once
encoder, decoder = ort.InferenceSession("encoder.onnx"), ort.InferenceSession("decoder.onnx")
_, style_mean, style_std = encoder.run(None, {{"image": painting}})
features, content_mean, content_std = encoder.run(None, {{"image": photo}})
scale = style_std / content_std
target = features * scale + (style_mean - content_mean * scale)
padded = decoder.run(None, {{"features": (alpha * target + (1 - alpha) * features).astype(np.float32)}})[0]
H, W = photo.shape[2:]
top, left = (-H % 8) // 2, (-W % 8) // 2
halves = padded[:, :, top:top + H, left:left + W]

Image.fromarray((image[0].transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)).save("stylized.png")
```

In a browser, onnxruntime-web runs the same files (adain-hub's `web/` page uses the halves). On the
Hugging Face Hub these files live in the model repository's `onnx/` folder:
`hf download REPO --include "onnx/*" --local-dir .` fetches them.
"""
