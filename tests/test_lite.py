"""The lite architecture: a configuration of the same AdaIN class, through every part that takes a model."""

import json

import pytest
import torch
from safetensors.torch import load_file

from adain_hub import AdaIN, AdaINConfig, Stylizer
from adain_hub.backends import make_backend

LITE = AdaINConfig(architecture="lite", channels=(4, 8), blocks=2)


@pytest.fixture
def lite_model() -> AdaIN:
    torch.manual_seed(0)
    return AdaIN(LITE).eval()


def test_lite_shapes_stack_two_levels_at_a_quarter_resolution(lite_model):
    x = torch.rand(2, 3, 64, 48)
    feats = lite_model.encode(x)
    assert len(feats) == 1 and feats[0].shape == (2, 16, 16, 12)
    assert LITE.feature_channels == 16 and LITE.downsample == 4
    assert lite_model.decode(feats[0]).shape == x.shape
    # the two stacked levels differ (the deep one went through more blocks)
    assert not torch.allclose(feats[0][:, :8], feats[0][:, 8:])


def test_lite_trains_encoder_and_decoder(lite_model):
    lite_model.train()
    assert all(p.requires_grad for p in lite_model.parameters())
    assert lite_model.encoder.training and not lite_model.is_vgg


def test_default_lite_config_is_small():
    config = AdaINConfig(architecture="lite")
    assert config.channels == (16, 48)
    params = sum(p.numel() for p in AdaIN(config).parameters())
    assert params * 4 < 4_000_000  # the 4 MB bound on the shipped file, in fp32
    assert AdaINConfig().channels == (64, 128, 256, 512) and AdaINConfig().architecture == "vgg19"


def test_lite_config_validation():
    with pytest.raises(ValueError, match="architecture"):
        AdaINConfig(architecture="resnet")
    with pytest.raises(ValueError, match="2 positive widths for lite"):
        AdaINConfig(architecture="lite", channels=(4, 8, 8, 16))
    with pytest.raises(ValueError, match="blocks"):
        AdaINConfig(architecture="lite", blocks=1)
    counted = AdaIN(AdaINConfig(architecture="lite", channels=(4, 8), blocks=3))
    assert len(counted.encoder.shallow) + len(counted.encoder.deep) == 3 == len(counted.decoder.deep) + len(
        counted.decoder.shallow)


def test_lite_round_trip_is_bit_exact_and_strict(tmp_path, lite_model):
    lite_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config == {"architecture": "lite", "blocks": 2, "channels": [4, 8], "upsample": "nearest", "antialias": False}
    assert "adain-lite" in (tmp_path / "README.md").read_text()
    loaded = AdaIN.from_pretrained(tmp_path)
    assert loaded.config == lite_model.config
    assert set(load_file(tmp_path / "model.safetensors")) == set(lite_model.state_dict())
    x, s = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 24, 24)
    with torch.no_grad():
        assert torch.equal(lite_model(x, s), loaded(x, s))


@pytest.mark.parametrize("backend", ["fp32", "openvino"])
def test_lite_runs_every_stylizer_feature(lite_model, fixtures, backend):
    """Alpha, interpolation, masks, colour preservation and WCT all work on the lite features."""
    stylizer = Stylizer(lite_model, backend=backend, size=72)
    photo, a, b = fixtures / "chelsea.png", fixtures / "coffee.png", fixtures / "brick.png"
    outputs = [
        stylizer(photo, a, alpha=0.5),
        stylizer(photo, [a, b], weights=[0.7, 0.3]),
        stylizer(photo, [a, b], masks=torch.linspace(0, 1, 72).expand(1, 48, 72)),
        stylizer(photo, a, preserve_color=True),
        stylizer(photo, a, method="wct"),
    ]
    size = stylizer.prepare_content(photo).size
    assert all(o.size == size for o in outputs)
    assert len({o.tobytes() for o in outputs}) == len(outputs)  # each option changed the result


def test_lite_openvino_matches_fp32(lite_model):
    x = torch.rand(1, 3, 64, 80)
    from adain_hub.openvino_backend import OpenVINOBackend

    fp32, ov = make_backend(lite_model, "fp32"), OpenVINOBackend(lite_model, precision="f32")
    feats = fp32.encode(x)
    assert torch.allclose(ov.encode(x), feats, atol=1e-4, rtol=1e-3)
    assert torch.allclose(ov.decode(feats), fp32.decode(feats), atol=1e-4, rtol=1e-3)


def test_cli_stylizes_and_evaluates_a_lite_model(lite_model, fixtures, tmp_path, capsys):
    """`adain stylize` and `adain eval` take a lite folder; eval scores it with a VGG judge, and a
    lite model cannot be the judge."""
    from adain_hub.cli import main
    from adain_hub.images import load_image

    from .conftest import TINY

    lite_dir, vgg_dir = tmp_path / "lite", tmp_path / "vgg"
    lite_model.save_pretrained(lite_dir)
    AdaIN(TINY).save_pretrained(vgg_dir)
    out = tmp_path / "out"
    code = main(["stylize", str(fixtures / "chelsea.png"), "--style", str(fixtures / "coffee.png"), "--size", "64",
                 "--model", str(lite_dir), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert (out / "chelsea.png").is_file()

    c, s = tmp_path / "content", tmp_path / "style"
    c.mkdir(), s.mkdir()
    load_image(fixtures / "astronaut.png").resize((64, 64)).save(c / "a.png")
    load_image(fixtures / "brick.png").resize((64, 64)).save(s / "b.png")
    common = ["eval", "--contents", str(c), "--styles", str(s), "--model", str(lite_dir), "--backend", "fp32",
              "--size", "64", "--sweep-pairs", "0"]
    assert main([*common, "--out", str(tmp_path / "ev"), "--judge", str(vgg_dir)]) == 0, capsys.readouterr().err
    assert (tmp_path / "ev" / "pairs.csv").is_file()
    assert main([*common, "--out", str(tmp_path / "ev2"), "--judge", str(lite_dir)]) == 2
    assert "must be a VGG-19 model" in capsys.readouterr().err


@pytest.mark.parametrize("options", [{}, {"masks": "coffee.png"}, {"method": "wct"}], ids=["adain", "mask", "wct"])
def test_lite_tiles_match_the_untiled_result(lite_model, fixtures, options):
    """Tiles sit on an 8 px grid; the lite features are at 1/4, so tiles and mask grids index them by 4."""
    import numpy as np

    if "masks" in options:
        options = {"masks": fixtures / options["masks"]}
    styles = [fixtures / "brick.png", fixtures / "gravel.png"] if "masks" in options else fixtures / "brick.png"
    whole = Stylizer(lite_model, backend="fp32", size=None, style_size=128)
    tiled = Stylizer(lite_model, backend="fp32", size=None, style_size=128, tile=96)
    a = whole.stylize(fixtures / "chelsea.png", styles, **options)
    b = tiled.stylize(fixtures / "chelsea.png", styles, **options)
    assert a.size == b.size == (451, 300)
    diff = np.abs(np.asarray(a, np.int16) - np.asarray(b, np.int16))
    assert diff.max() <= 2, diff.max()


def test_lite_decoder_starts_as_nearest_neighbour_upsampling():
    """ICNR: the convolution before each pixel shuffle starts with equal sub-pixel filters, so a
    fresh decoder gives 2x2 blocks of equal pixels (no checkerboard to unlearn)."""
    torch.manual_seed(0)
    model = AdaIN(LITE).eval()
    with torch.no_grad():
        out = model.decode(torch.randn(1, 16, 8, 8))
    blocks = [out[..., i::2, j::2] for i in (0, 1) for j in (0, 1)]
    assert all(torch.allclose(b, blocks[0]) for b in blocks[1:])
    assert out.std() > 0  # and not trivially constant
