"""The transforms compute what the papers say: statistics after AdaIN, WCT, CORAL; losses."""

import pytest
import torch

from adain_hub import functional as AF


def _feats(n=2, c=6, h=9, w=7, seed=0, scale=3.0, shift=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, c, h, w, generator=g) * scale + shift


def test_adain_output_has_style_statistics():
    content, style = _feats(seed=1), _feats(h=5, w=11, seed=2, scale=0.5, shift=-2.0)
    out = AF.adain(content, style)
    o_mean, o_std = AF.calc_mean_std(out)
    s_mean, s_std = AF.calc_mean_std(style)
    torch.testing.assert_close(o_mean, s_mean, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(o_std, s_std, atol=1e-3, rtol=1e-3)


def test_adain_keeps_normalised_content_pattern():
    content, style = _feats(seed=3), _feats(seed=4)
    out = AF.adain(content, style)
    c_mean, c_std = AF.calc_mean_std(content)
    o_mean, o_std = AF.calc_mean_std(out)
    torch.testing.assert_close((out - o_mean) / o_std, (content - c_mean) / c_std, atol=1e-3, rtol=1e-3)


def test_blended_stats_equal_weighted_sum_of_adain_outputs():
    content = _feats(n=1, seed=5)
    styles = [_feats(n=1, seed=s, shift=s) for s in (6, 7, 8)]
    weights = [0.5, 0.3, 0.2]
    stats = [AF.calc_mean_std(s) for s in styles]
    mean, std = AF.blend_stats([m for m, _ in stats], [s for _, s in stats], weights)
    blended = AF.adaptive_instance_normalization(content, mean, std)
    expected = sum(w * AF.adain(content, s) for w, s in zip(weights, styles))
    torch.testing.assert_close(blended, expected, atol=1e-4, rtol=1e-4)


def test_normalize_weights():
    assert AF.normalize_weights([2, 2], 2) == [0.5, 0.5]
    assert AF.normalize_weights(None, 4) == [0.25] * 4
    with pytest.raises(ValueError, match="weights"):
        AF.normalize_weights([1, 2], 3)
    with pytest.raises(ValueError, match="non-negative"):
        AF.normalize_weights([1, -1], 2)
    with pytest.raises(ValueError):
        AF.normalize_weights([0, 0], 2)
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValueError, match="weights"):
            AF.normalize_weights([bad, 1.0], 2)


def test_wct_output_covariance_equals_style_covariance():
    content = _feats(n=1, c=5, h=12, w=12, seed=9)
    g = torch.Generator().manual_seed(10)
    mix = torch.randn(5, 5, generator=g)
    style = torch.einsum("ij,njhw->nihw", mix, _feats(n=1, c=5, h=10, w=14, seed=11)) + 4.0
    s_mean, s_cov = AF.feature_covariance(style)
    out = AF.whiten_colour(content, s_mean, s_cov)
    o_mean, o_cov = AF.feature_covariance(out)
    torch.testing.assert_close(o_mean, s_mean, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(o_cov, s_cov, atol=1e-3, rtol=1e-3)
    # and it is not just the style copied: it still follows the content's layout
    assert out.shape == content.shape


def test_masked_mean_std_matches_plain_stats_on_region():
    feat = _feats(n=1, seed=12)
    mask = torch.zeros(1, 1, 9, 7)
    mask[..., :, :3] = 1
    m, s = AF.masked_mean_std(feat, mask)
    m_ref, s_ref = AF.calc_mean_std(feat[..., :, :3].contiguous())
    torch.testing.assert_close(m, m_ref, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(s, s_ref, atol=1e-5, rtol=1e-5)


def test_coral_matches_target_colour_statistics():
    g = torch.Generator().manual_seed(13)
    source = torch.rand(3, 32, 32, generator=g) * 0.4 + 0.1
    target = torch.rand(3, 16, 16, generator=g) * 0.3 + torch.tensor([0.6, 0.2, 0.3]).view(3, 1, 1)
    out = AF.coral(source, target)
    torch.testing.assert_close(out.mean(dim=(1, 2)), target.mean(dim=(1, 2)), atol=1e-3, rtol=1e-3)
    torch.testing.assert_close(torch.cov(out.reshape(3, -1)), torch.cov(target.reshape(3, -1)), atol=1e-3, rtol=1e-2)
    with pytest.raises(ValueError, match="two pixels"):
        AF.coral(torch.rand(3, 1, 1), target)


def test_losses_are_zero_for_identical_inputs_and_positive_otherwise():
    feats = [_feats(seed=s) for s in range(4)]
    others = [_feats(seed=s + 10, shift=2.0) for s in range(4)]
    assert AF.style_loss(feats, feats).item() == pytest.approx(0.0, abs=1e-8)
    assert AF.style_loss(feats, others).item() > 0.1
    assert AF.gram_loss(feats, feats).item() == pytest.approx(0.0, abs=1e-8)
    assert AF.gram_loss(feats, others).item() > 0.1
    assert AF.content_loss(feats[0], feats[0]).item() == 0.0


def test_calc_mean_std_rejects_wrong_rank():
    with pytest.raises(ValueError, match="N, C, H, W"):
        AF.calc_mean_std(torch.zeros(3, 4, 4))


LAYOUTS = {  # the statistics read a map through a view that depends on its layout: every one must agree
    "channels_last": lambda t: t.contiguous(memory_format=torch.channels_last),
    "nchw": lambda t: t.contiguous(),
    "strided": lambda t: t.contiguous(memory_format=torch.channels_last)[:, :, 1:, ::2],  # neither layout
}


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_half_precision_statistics_match_float64_forward_and_backward(dtype, layout):
    torch.manual_seed(0)
    leaf = (torch.randn(3, 5, 8, 18).relu() * 3 + 0.5).to(dtype).requires_grad_()
    x = LAYOUTS[layout](leaf)
    ref = x.detach().double().requires_grad_()
    mean, std = AF.calc_mean_std(x)
    assert mean.dtype == std.dtype == torch.float32  # statistics in float32 whatever the map's dtype
    var, ref_mean = torch.var_mean(ref, dim=(2, 3), correction=0, keepdim=True)
    ref_std = (var + AF.EPS).sqrt()
    assert torch.allclose(mean.double(), ref_mean, atol=1e-6) and torch.allclose(std.double(), ref_std, atol=1e-5)
    g_mean, g_std = torch.randn_like(mean), torch.randn_like(std)
    (mean * g_mean + std * g_std).sum().backward()
    (ref_mean * g_mean.double() + ref_std * g_std.double()).sum().backward()
    grad = leaf.grad[:, :, 1:, ::2] if layout == "strided" else leaf.grad
    assert grad.dtype == dtype
    assert (grad.double() - ref.grad).norm() / ref.grad.norm() < 1e-2  # the rounding of the map's dtype
