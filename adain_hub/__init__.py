"""adain-hub: arbitrary style transfer in real time with Adaptive Instance Normalization.

    from adain_hub import AdaIN, Stylizer
    model = AdaIN.from_pretrained("adain-hub/adain-vgg19")   # or a local folder
    stylizer = Stylizer(model)
    image = stylizer("photo.jpg", "painting.jpg", alpha=0.8)

    # training data: stylize half of each batch with random famous paintings
    augment = StyleAugment(model, p=0.5)               # the model's StyleBank; or "random"

Names are imported on first use, so ``adain --help`` does not wait for torch to load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .backends import make_backend
    from .functional import adain, calc_mean_std, coral, whiten_colour
    from .hub import ModelLoadError, load_model
    from .images import ImageError, load_image
    from .model import AdaIN, AdaINConfig
    from .augment import StyleAugment
    from .style_bank import StyleBank, StyleBankError
    from .stylizer import StyleFeatures, Stylizer, stylize
    from .video import VideoError, stylize_video

_EXPORTS = {
    "AdaIN": "model",
    "AdaINConfig": "model",
    "ImageError": "images",
    "ModelLoadError": "hub",
    "StyleAugment": "augment",
    "StyleBank": "style_bank",
    "StyleBankError": "style_bank",
    "StyleFeatures": "stylizer",
    "VideoError": "video",
    "Stylizer": "stylizer",
    "adain": "functional",
    "calc_mean_std": "functional",
    "coral": "functional",
    "load_image": "images",
    "load_model": "hub",
    "make_backend": "backends",
    "stylize": "stylizer",
    "stylize_video": "video",
    "whiten_colour": "functional",
}
__all__ = [  # spelled out (not computed) so that type checkers read it; a test keeps it equal to _EXPORTS
    "AdaIN",
    "AdaINConfig",
    "ImageError",
    "ModelLoadError",
    "StyleAugment",
    "StyleBank",
    "StyleBankError",
    "StyleFeatures",
    "Stylizer",
    "VideoError",
    "adain",
    "calc_mean_std",
    "coral",
    "load_image",
    "load_model",
    "make_backend",
    "stylize",
    "stylize_video",
    "whiten_colour",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
