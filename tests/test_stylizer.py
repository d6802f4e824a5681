"""The Stylizer on a tiny model: what reaches the decoder, sizes, caching, options and errors."""

import pytest
import torch

from adain_hub import functional as AF
from adain_hub.images import to_tensor
from adain_hub.stylizer import StyleFeatures, Stylizer

torch.manual_seed(0)


@pytest.fixture
def stylizer(tiny_model):
    return Stylizer(tiny_model, backend="fp32", size=128)


def _features(seed, c=16, h=8, w=8, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(1, c, h, w, generator=g) * (1 + seed % 3) + shift


def test_alpha_zero_gives_back_content_features():
    c = _features(1)
    style = StyleFeatures.from_features(_features(2, shift=3.0))
    torch.testing.assert_close(Stylizer.transform(c, [style], alpha=0.0), c)
    full = Stylizer.transform(c, [style], alpha=1.0)
    half = Stylizer.transform(c, [style], alpha=0.5)
    torch.testing.assert_close(half, 0.5 * full + 0.5 * c)


def test_interpolation_weights_sum_as_specified():
    c = _features(3)
    styles = [StyleFeatures.from_features(_features(s, shift=s)) for s in (4, 5)]
    out = Stylizer.transform(c, styles, weights=[3, 1])  # scaled to 0.75 / 0.25
    expected = 0.75 * AF.adain(c, styles[0].features) + 0.25 * AF.adain(c, styles[1].features)
    torch.testing.assert_close(out, expected, atol=1e-4, rtol=1e-4)
    mean, _ = AF.calc_mean_std(out)
    torch.testing.assert_close(mean, 0.75 * styles[0].mean + 0.25 * styles[1].mean, atol=1e-4, rtol=1e-4)


def test_mask_regions_take_their_own_style_statistics():
    c = _features(6)
    styles = [StyleFeatures.from_features(_features(s, shift=2 * s)) for s in (7, 8)]
    left = torch.zeros(1, 1, 64, 64)
    left[..., :32] = 1.0  # image-sized mask; features are 8x8, so columns 0-3 are the left region
    out = Stylizer.transform(c, styles, regions=[left, 1 - left])
    for region, style in ((out[..., :4], styles[0]), (out[..., 4:], styles[1])):
        mean, std = AF.calc_mean_std(region.contiguous())
        torch.testing.assert_close(mean, style.mean, atol=1e-4, rtol=1e-4)
        torch.testing.assert_close(std, style.std, atol=1e-3, rtol=1e-3)


def test_one_style_with_mask_keeps_content_outside():
    c = _features(9)
    style = StyleFeatures.from_features(_features(10, shift=5.0))
    top = torch.zeros(1, 1, 64, 64)
    top[..., :32, :] = 1.0
    out = Stylizer.transform(c, [style], regions=[top])
    torch.testing.assert_close(out[..., 4:, :], c[..., 4:, :])
    assert not torch.allclose(out[..., :4, :], c[..., :4, :])


def test_wct_output_has_style_covariance():
    c = _features(11, c=16, h=12, w=12)
    style = StyleFeatures.from_features(_features(12, c=16, h=10, w=10, shift=1.0))
    out = Stylizer.transform(c, [style], method="wct")
    _, cov = AF.feature_covariance(out)
    torch.testing.assert_close(cov, style.covariance()[1], atol=1e-3, rtol=1e-3)


def test_outputs_keep_the_photo_size_and_aspect_under_the_cap(tiny_model, fixtures):
    stylizer = Stylizer(tiny_model, backend="fp32", size=None, style_size=128)
    out = stylizer.stylize(fixtures / "coffee.png", fixtures / "brick.png", size=100)
    assert out.size == (100, 67)  # 600x400 capped at 100, not rounded to multiples of 8
    out = stylizer.stylize(fixtures / "chelsea.png", fixtures / "brick.png")
    assert out.size == (451, 300)  # the photo's own size: no cap, no stretching
    masked = stylizer.stylize(fixtures / "chelsea.png", [fixtures / "brick.png", fixtures / "gravel.png"],
                              masks=fixtures / "coffee.png")
    assert masked.size == (451, 300)


def test_odd_sizes_are_reflection_padded_for_the_network_and_cropped_back(tiny_model, fixtures):
    stylizer = Stylizer(tiny_model, backend="fp32", size=None, style_size=128)
    content = stylizer.prepare_content(fixtures / "chelsea.png")  # 451 x 300
    style = stylizer.encode_style(fixtures / "brick.png")
    x = to_tensor(content)
    padded = torch.nn.functional.pad(x, (2, 3, 2, 2), mode="reflect")  # to 456 x 304
    with torch.no_grad():
        decoded = stylizer.model.decoder(Stylizer.transform(stylizer.model.encode(padded)[-1], [style]))
    expected = decoded[..., 2 : 2 + 300, 2 : 2 + 451]
    got = to_tensor(stylizer.stylize(content, style))
    assert got.shape == expected.shape
    assert (got - expected.clamp(0, 1)).abs().max() <= 1 / 255 + 1e-6  # uint8 rounding only


def test_styles_and_contents_are_encoded_once(stylizer, fixtures):
    calls = []
    encode = stylizer.backend.encode
    stylizer.backend.encode = lambda x: calls.append(tuple(x.shape)) or encode(x)
    for alpha in (0.2, 0.6, 1.0):
        stylizer.stylize(fixtures / "coffee.png", [fixtures / "brick.png", fixtures / "gravel.png"],
                         alpha=alpha, weights=[alpha, 1])
    assert len(calls) == 3  # one content + two styles, however often alpha and weights change
    features = stylizer.encode_style(fixtures / "rocket.jpg")
    stylizer.stylize(fixtures / "coffee.png", features)
    assert len(calls) == 4


def test_alpha_moves_the_image_from_photo_to_style(fixtures):
    from adain_hub import AdaIN

    from .conftest import BUNDLED_MODEL

    stylizer = Stylizer(AdaIN.from_pretrained(BUNDLED_MODEL), backend="fp32", size=128)
    photo = to_tensor(stylizer.prepare_content(fixtures / "coffee.png"))
    a0 = to_tensor(stylizer.stylize(fixtures / "coffee.png", fixtures / "rocket.jpg", alpha=0.0))
    a1 = to_tensor(stylizer.stylize(fixtures / "coffee.png", fixtures / "rocket.jpg", alpha=1.0))
    # the trained decoder reconstructs the photo at alpha 0 and departs from it at alpha 1
    assert (a0 - photo).abs().mean() < 0.25
    assert (a1 - photo).abs().mean() > (a0 - photo).abs().mean() + 0.04


def test_preserve_color_recolours_the_style(stylizer, fixtures):
    plain = stylizer.encode_style(fixtures / "rocket.jpg")
    content = stylizer.prepare_content(fixtures / "coffee.png")
    kept = stylizer.encode_style(fixtures / "rocket.jpg", colour_from=content)
    assert not torch.allclose(plain.mean, kept.mean)
    out = stylizer.stylize(fixtures / "coffee.png", fixtures / "rocket.jpg", preserve_color=True)
    assert out.size == content.size


def test_preserve_color_works_with_a_style_encoded_once(stylizer, fixtures):
    encoded = stylizer.encode_style(fixtures / "rocket.jpg")
    content = stylizer.prepare_content(fixtures / "coffee.png")
    from_image = stylizer.encode_style(fixtures / "rocket.jpg", colour_from=content)
    from_encoded = stylizer.encode_style(encoded, colour_from=content)  # what stylize(preserve_color=True) does
    assert torch.equal(from_encoded.mean, from_image.mean) and torch.equal(from_encoded.std, from_image.std)
    assert not torch.allclose(from_encoded.mean, encoded.mean)  # recoloured, not the plain style
    bare = StyleFeatures.from_features(encoded.features)  # no image to recolour
    with pytest.raises(ValueError, match="preserve_color"):
        stylizer.stylize(fixtures / "coffee.png", bare, preserve_color=True)


def test_style_features_compare_by_identity(stylizer, fixtures):
    a = stylizer.encode_style(fixtures / "rocket.jpg")
    b = StyleFeatures.from_features(a.features)
    assert a == a and a != b and a in [b, a]


def test_bad_arguments_raise_value_error(stylizer, fixtures):
    with pytest.raises(ValueError, match="alpha"):
        stylizer.stylize(fixtures / "coffee.png", fixtures / "brick.png", alpha=1.5)
    with pytest.raises(ValueError, match="weights"):
        stylizer.stylize(fixtures / "coffee.png", [fixtures / "brick.png"], weights=[1, 2])
    with pytest.raises(ValueError, match="masks"):
        stylizer.stylize(fixtures / "coffee.png", [fixtures / "brick.png"], masks=[fixtures / "gravel.png"] * 2)
    with pytest.raises(ValueError, match="method"):
        stylizer.stylize(fixtures / "coffee.png", fixtures / "brick.png", method="gatys")
    with pytest.raises(ValueError, match="masks or weights"):
        stylizer.stylize(fixtures / "coffee.png", [fixtures / "brick.png", fixtures / "rocket.jpg"],
                         weights=[0.9, 0.1], masks=fixtures / "gravel.png")
    with pytest.raises(ValueError, match="weights"):
        stylizer.stylize(fixtures / "coffee.png", [fixtures / "brick.png", fixtures / "rocket.jpg"],
                         weights=[float("nan"), 1.0])


def test_accepts_pil_and_tensor_inputs(stylizer, fixtures):
    from adain_hub.images import load_image

    content = load_image(fixtures / "coffee.png")
    style = to_tensor(load_image(fixtures / "brick.png"))[0]
    assert stylizer.stylize(content, style).size == stylizer.stylize(fixtures / "coffee.png", fixtures / "brick.png").size


def test_frames_seen_once_stay_out_of_the_cache(stylizer, fixtures):
    """cache=False (a webcam's frames) encodes the photo every time and keeps nothing of it, so a stream of
    frames cannot push the encoded styles out of the cache; the result is the cached call's."""
    from PIL import Image

    calls = []
    encode = stylizer.backend.encode
    stylizer.backend.encode = lambda image: calls.append(1) or encode(image)
    frame = Image.open(fixtures / "chelsea.png").convert("RGB")
    style = fixtures / "brick.png"
    cached = stylizer(frame, style)
    assert len(calls) == 2  # the photo and the style
    for _ in range(20):
        out = stylizer(frame, style, cache=False)
    assert len(calls) == 2 + 20  # every frame encoded, the style never again
    assert list(out.getdata()) == list(cached.getdata())
    stylizer(frame, style)
    assert len(calls) == 22  # the cached photo's encoding was not pushed out either
