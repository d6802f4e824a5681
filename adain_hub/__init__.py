"""adain-hub: arbitrary style transfer in real time with Adaptive Instance Normalization.

    from adain_hub import AdaIN, Stylizer
    model = AdaIN.from_pretrained("adain-hub/adain-vgg19")   # or a local folder
    stylizer = Stylizer(model)
    image = stylizer("photo.jpg", "painting.jpg", alpha=0.8)
"""

from .backends import make_backend
from .functional import adain, calc_mean_std, coral, whiten_colour
from .images import ImageError, load_image
from .model import AdaIN, AdaINConfig
from .stylizer import StyleFeatures, Stylizer, stylize

__all__ = [
    "AdaIN",
    "AdaINConfig",
    "ImageError",
    "StyleFeatures",
    "Stylizer",
    "adain",
    "calc_mean_std",
    "coral",
    "load_image",
    "make_backend",
    "stylize",
    "whiten_colour",
]
__version__ = "0.1.0"
