"""The grid score (issue 32) and the lite decoder's anti-aliasing blurs that keep the mesh out."""

import csv
import math

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from adain_hub import AdaIN, AdaINConfig
from adain_hub import evaluation as ev
from adain_hub.grid import grid_penalty, grid_ratios, grid_score
from adain_hub.images import load_image, to_tensor
from adain_hub.training import TrainConfig, build_model

LITE = AdaINConfig(architecture="lite", channels=(4, 8), blocks=2)


def _mesh(h: int, w: int, period: int) -> torch.Tensor:
    """A fixed sub-pixel pattern of ``period`` px, as a shuffle with unequal sub-pixel filters paints."""
    cell = torch.rand(period, period, generator=torch.Generator().manual_seed(1)) - 0.5
    return cell.repeat(h // period, w // period)[None, None].expand(1, 3, h, w)


def test_a_photo_scores_low_and_a_mesh_over_it_scores_high(fixtures):
    photo = to_tensor(load_image(fixtures / "chelsea.png"))
    photo = photo[..., : photo.shape[-2] // 4 * 4, : photo.shape[-1] // 4 * 4]
    clean = grid_score(photo)
    assert clean < 5, clean
    for period, faint in ((4, 0.03), (2, 0.03)):
        meshed = (photo + faint * _mesh(*photo.shape[-2:], period)).clamp(0, 1)
        assert grid_score(meshed) > 5 * clean, (period, grid_score(meshed), clean)


def test_the_score_looks_at_each_of_the_five_frequencies():
    """A pure pattern at each frequency lights up its own ratio and leaves a period it does not have alone."""
    torch.manual_seed(0)
    base = F.avg_pool2d(torch.rand(1, 1, 132, 132), 5, stride=1)[..., :128, :128]  # smooth, broadband
    y, x = torch.meshgrid(torch.arange(128.0), torch.arange(128.0), indexing="ij")
    for k, (fy, fx) in enumerate(((0, 0.25), (0.25, 0), (0.25, 0.25), (0, 0.5), (0.5, 0))):
        wave = 0.05 * torch.cos(2 * math.pi * (fy * y + fx * x))
        ratios = grid_ratios(base + wave)[0]
        assert int(ratios.argmax()) == k, ratios
        assert ratios[k] > 20


def test_score_refuses_what_it_cannot_measure():
    with pytest.raises(ValueError, match="one image"):
        grid_score(torch.rand(2, 3, 64, 64))
    with pytest.raises(ValueError, match="32"):
        grid_score(torch.rand(3, 16, 64))


def test_penalty_grows_with_a_mesh_and_its_gradient_removes_it(fixtures):
    photo = to_tensor(load_image(fixtures / "chelsea.png"))[..., :128, :128]
    clean = float(grid_penalty(photo))
    meshed = (photo + 0.05 * _mesh(128, 128, 4)).requires_grad_(True)
    before = float(grid_penalty(meshed.detach()))
    grid_penalty(meshed).backward()
    stepped = (meshed - 0.02 * meshed.grad / meshed.grad.abs().max()).detach()
    assert before > clean + 3
    assert float(grid_penalty(stepped)) < before


def _interior_spread(model: AdaIN) -> float:
    """The decoder's output for flat features (no content at all), away from the borders: whatever varies
    there is a pattern the decoder draws by itself."""
    features = torch.full((1, 2 * model.config.channels[1], 12, 12), 0.7)
    with torch.no_grad():
        out = model.decode(features)
    return float(out[..., 8:-8, 8:-8].std(dim=(-2, -1)).max())


def test_antialiased_lite_decoder_cannot_draw_a_mesh_on_flat_features():
    torch.manual_seed(0)
    plain = AdaIN(LITE).eval()
    with torch.no_grad():  # unequal sub-pixel filters, as training leaves them (ICNR starts them equal)
        for conv in (plain.decoder.up.conv1[1], plain.decoder.up.to_rgb[1]):
            conv.weight.add_(0.2 * torch.randn_like(conv.weight))
    blurred = AdaIN(AdaINConfig(architecture="lite", channels=(4, 8), blocks=2, antialias=True)).eval()
    blurred.load_state_dict(plain.state_dict())  # the blurs have no weights: the same tensors load
    assert _interior_spread(plain) > 1e-3
    assert _interior_spread(blurred) < 1e-5


@pytest.mark.parametrize("pad", [(1, 0, 1, 0), (0, 1, 0, 1)])
def test_shuffle_blur_is_a_replicated_two_by_two_average(pad):
    """The blur is computed as a fixed depthwise convolution (cheaper in OpenVINO); it must stay the
    average it is documented as, edges included, and move with the model to another dtype."""
    from adain_hub.model import ShuffleBlur

    torch.manual_seed(0)
    x = torch.randn(2, 5, 9, 12)
    blur = ShuffleBlur(5, pad)
    expected = F.avg_pool2d(F.pad(x, pad, mode="replicate"), 2, stride=1)
    assert torch.allclose(blur(x), expected, atol=1e-6)
    assert blur(x).shape == x.shape and not blur.state_dict()
    assert blur.to(torch.float64)(x.double()).dtype == torch.float64


def test_antialias_is_in_the_config_and_leaves_older_fingerprints_alone(tmp_path):
    torch.manual_seed(0)
    plain = AdaIN(LITE)
    blurred = AdaIN(AdaINConfig(architecture="lite", channels=(4, 8), blocks=2, antialias=True))
    blurred.load_state_dict(plain.state_dict())
    assert blurred.fingerprint("encoder") == plain.fingerprint("encoder")  # its style banks stay valid
    assert blurred.fingerprint() != plain.fingerprint()  # but it is another model
    blurred.save_pretrained(tmp_path / "m")
    assert AdaIN.from_pretrained(tmp_path / "m").config.antialias is True
    with pytest.raises(ValueError, match="lite decoder"):
        AdaINConfig(antialias=True)  # vgg19 has no shuffles


def test_training_adds_the_blurs_to_a_lite_model_it_continues(tmp_path):
    torch.manual_seed(0)
    lite = AdaIN(LITE)
    lite.save_pretrained(tmp_path / "lite")
    vgg = AdaIN(AdaINConfig(channels=(4, 8, 8, 16)))
    vgg.save_pretrained(tmp_path / "vgg")
    config = TrainConfig(pretrained=str(tmp_path / "lite"), encoder_from=str(tmp_path / "vgg"), antialias=True,
                         image_size=64)
    model, loss_network = build_model(config)
    assert model.config.antialias and loss_network is not None
    for name, tensor in lite.state_dict().items():
        assert torch.equal(model.state_dict()[name], tensor), name
    with pytest.raises(ValueError, match="lite decoder"):
        build_model(TrainConfig(pretrained=str(tmp_path / "vgg"), antialias=True, image_size=64))


def test_eval_reports_the_grid_score_and_reads_older_reports(tmp_path):
    vgg = AdaIN(AdaINConfig(channels=(4, 8, 8, 16))).eval()
    judge = ev.Judge(vgg, size=64)
    photo = Image.effect_noise((64, 64), 40).convert("RGB")
    ref = judge.reference("p", photo)
    scores = judge.score(photo, ref, ref)
    assert 0 < scores["grid"] < 10
    old = tmp_path / "pairs.csv"
    with old.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["method", "content", "style", "content_loss", "style_loss", "gram_loss", "ssim", "seconds"])
        w.writerow(["a", "c", "s", 1, 2, 3, 0.5, 0.1])
    (row,) = ev.read_pairs(old)
    assert math.isnan(row.grid) and row.ssim == 0.5
    assert math.isnan(ev.median_metric([row], "a", "grid"))


def test_antialiased_decoder_runs_the_same_on_openvino():
    from adain_hub.backends import make_backend
    from adain_hub.openvino_backend import OpenVINOBackend

    torch.manual_seed(0)
    model = AdaIN(AdaINConfig(architecture="lite", channels=(4, 8), blocks=2, antialias=True)).eval()
    feats = torch.randn(1, 16, 16, 20)
    fp32, ov = make_backend(model, "fp32"), OpenVINOBackend(model, precision="f32")
    assert torch.allclose(ov.decode(feats), fp32.decode(feats), atol=1e-4, rtol=1e-3)
