"""adain-hub: arbitrary style transfer in real time with Adaptive Instance Normalization.

    from adain_hub import AdaIN, Stylizer
    model = AdaIN.from_pretrained("adain-hub/adain-vgg19")   # or a local folder
    stylizer = Stylizer(model)
    image = stylizer("photo.jpg", "painting.jpg", alpha=0.8)
"""

from .functional import adain, calc_mean_std, coral, whiten_colour
from .images import ImageError, load_image
from .model import AdaIN, AdaINConfig

__all__ = [
    "AdaIN",
    "AdaINConfig",
    "ImageError",
    "adain",
    "calc_mean_std",
    "coral",
    "load_image",
    "whiten_colour",
]
__version__ = "0.1.0"
