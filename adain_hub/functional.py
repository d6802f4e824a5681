"""Pure tensor functions of the method: statistics, feature transforms, colour transfer, losses.

Nothing here holds state. Feature maps are ``(N, C, H, W)``; statistics are ``(N, C, 1, 1)``.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

EPS = 1e-5


def luminance(image: Tensor) -> Tensor:
    """Y of YCbCr (ITU-R BT.601 full range, as JPEG and PIL define it): ``(N, 3, H, W) -> (N, 1, H, W)``."""
    r, g, b = image[:, 0:1], image[:, 1:2], image[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def calc_mean_std(feat: Tensor, eps: float = EPS) -> tuple[Tensor, Tensor]:
    """Channel-wise mean and standard deviation over space: ``(N, C, H, W) -> 2 x (N, C, 1, 1)``.

    The variance is the biased one plus ``eps`` so that flat regions do not divide by zero.
    """
    if feat.dim() != 4:
        raise ValueError(f"expected a (N, C, H, W) feature map, got shape {tuple(feat.shape)}")
    if feat.dtype in (torch.bfloat16, torch.float16):  # training under autocast: see _HalfMeanVar
        mean, var = _HalfMeanVar.apply(feat)
    else:
        mean, var = _mean_var(feat.float())
    return mean, (var + eps).sqrt()


def _mean_var(x: Tensor) -> tuple[Tensor, Tensor]:
    """Channel mean and biased variance of a float32 map, two passes (the mean, then the squared
    deviations from it), each a sum over one dimension of a view (:func:`_pixels_by_channel`).
    ``torch.var_mean`` over space took 4.2 ms for the lite model's 96 x 128 x 128 features at 512 px
    on a 2-core AMX Xeon, a fifth of the network's time, against about 1 ms here (one-off timing)."""
    n, c = x.shape[:2]
    flat, dim = _pixels_by_channel(x)
    mean = flat.mean(dim, keepdim=True)
    var = (flat - mean).square().mean(dim)
    return mean.reshape(n, c, 1, 1), var.reshape(n, c, 1, 1)


def _pixels_by_channel(x: Tensor) -> tuple[Tensor, int]:
    """``x`` as a 3-D view, without a copy, and the dimension of it that runs over space: ``(N, H*W, C)``
    and 1 for channels_last maps, ``(N, C, H*W)`` and 2 otherwise. Reductions over one dimension of
    such a view run at memory speed; over dims (2, 3) of a channels_last map they ran 5-8x slower."""
    n, c, h, w = x.shape
    if x.is_contiguous(memory_format=torch.channels_last) and not x.is_contiguous():
        return x.permute(0, 2, 3, 1).reshape(n, h * w, c), 1
    return x.reshape(n, c, h * w), 2


class _HalfMeanVar(torch.autograd.Function):
    """Channel mean and biased variance (float32, ``(N, C, 1, 1)``) of a bf16/fp16 feature map.

    In a CPU training step the statistics of the output's four VGG layers, forward and backward,
    were a third of the time: ``var_mean`` and reductions over dims (2, 3) of channels_last maps
    are slow there, and autograd's backward makes several more full-size float32 passes. Here the
    forward is one float32 copy of the map (exact) summed, squared in place and summed again, each
    a reduction over one dimension of a view (:func:`_pixels_by_channel`: 34 ms -> 4.5 ms for
    8 x 64 x 128 x 128 on a 2-core AMX Xeon in a one-off timing, same float32 accumulation), and the backward one fused
    pass in the map's own dtype: ``d mean / dx = 1 / n``, ``d var / dx = 2 (x - mean) / n``.
    """

    @staticmethod
    def forward(ctx, x: Tensor) -> tuple[Tensor, Tensor]:
        n = x.shape[2] * x.shape[3]
        flat, dim = _pixels_by_channel(x)
        values = flat.float()  # a new tensor (the input is bf16 or fp16), so it may be squared in place
        mean = values.sum(dim) / n
        square = values.square_().sum(dim) / n
        mean, square = (t.reshape(x.shape[0], x.shape[1], 1, 1) for t in (mean, square))
        ctx.save_for_backward(x, mean)
        return mean, (square - mean * mean).clamp_min(0.0)

    @staticmethod
    def backward(ctx, grad_mean: Tensor, grad_var: Tensor) -> Tensor:
        x, mean = ctx.saved_tensors
        n = x.shape[2] * x.shape[3]
        scale = 2.0 * grad_var / n  # grad = x * scale + (grad_mean / n - mean * scale)
        shift = grad_mean / n - mean * scale
        return torch.addcmul(shift.to(x.dtype), x, scale.to(x.dtype))


def masked_mean_std(feat: Tensor, mask: Tensor, eps: float = EPS) -> tuple[Tensor, Tensor]:
    """Mean and std of ``feat`` over the positions where ``mask`` (``(N, 1, H, W)``, 0..1) is on."""
    weight = mask.float()
    total = weight.sum(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    mean = (feat.float() * weight).sum(dim=(2, 3), keepdim=True) / total
    var = ((feat.float() - mean) ** 2 * weight).sum(dim=(2, 3), keepdim=True) / total
    return mean, (var + eps).sqrt()


def feature_sums(feat: Tensor, weight: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """``(sum w, sum w*f, sum w*f^2)`` over space in float64: ``(N, 1, 1, 1)``, ``2 x (N, C, 1, 1)``.

    Sums add up across tiles, so statistics of a whole image can be gathered one piece at a time
    (:func:`mean_std_from_sums`). ``weight`` is an optional ``(N, 1, H, W)`` mask.
    """
    f = feat.double()
    if weight is None:
        count = f.new_full((f.shape[0], 1, 1, 1), float(f.shape[2] * f.shape[3]))
        return count, f.sum(dim=(2, 3), keepdim=True), (f * f).sum(dim=(2, 3), keepdim=True)
    w = weight.double()
    wf = f * w
    return w.sum(dim=(2, 3), keepdim=True), wf.sum(dim=(2, 3), keepdim=True), (wf * f).sum(dim=(2, 3), keepdim=True)


def mean_std_from_sums(
    count: Tensor, total: Tensor, total_sq: Tensor, eps: float = EPS
) -> tuple[Tensor, Tensor]:
    """Channel mean and std (biased variance plus ``eps``, as :func:`calc_mean_std`) from
    :func:`feature_sums`, in float32."""
    n = count.clamp_min(1e-6)
    mean = total / n
    var = (total_sq / n - mean * mean).clamp_min(0.0)
    return mean.float(), (var + eps).sqrt().float()


def adaptive_instance_normalization(
    content_feat: Tensor,
    style_mean: Tensor,
    style_std: Tensor,
    eps: float = EPS,
    content_stats: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """AdaIN (Huang & Belongie eq. 8): give the content features the style's channel mean and std.

    ``content_stats`` (mean, std) replaces the content's own statistics: a tile of a large image is
    normalised with those of the whole image, so that all tiles match. Computed as one multiply-add
    per element (``x * scale + shift``) rather than four passes: at the lite model's size the
    transform was a third of a CPU stylization.
    """
    c_mean, c_std = content_stats if content_stats is not None else calc_mean_std(content_feat, eps)
    scale = style_std / c_std
    return torch.addcmul(style_mean - c_mean * scale, content_feat.float(), scale)


def adain(content_feat: Tensor, style_feat: Tensor, eps: float = EPS) -> Tensor:
    """AdaIN from two feature maps; the style map may have any spatial size."""
    s_mean, s_std = calc_mean_std(style_feat, eps)
    return adaptive_instance_normalization(content_feat, s_mean, s_std, eps)


def blend_stats(
    means: Sequence[Tensor], stds: Sequence[Tensor], weights: Sequence[float]
) -> tuple[Tensor, Tensor]:
    """Interpolate several styles' statistics with weights.

    AdaIN is affine in the style statistics, so blending the statistics gives exactly
    ``sum_i w_i * AdaIN(c, s_i)``, at the cost of a single transform.
    """
    if not (len(means) == len(stds) == len(weights)) or not means:
        raise ValueError("need one weight per style and at least one style")
    mean = sum(w * m for w, m in zip(weights, means))
    std = sum(w * s for w, s in zip(weights, stds))
    return mean, std


def normalize_weights(weights: Sequence[float] | None, count: int) -> list[float]:
    """Check interpolation weights and scale them to sum to one (equal weights when ``None``)."""
    if weights is None:
        return [1.0 / count] * count
    weights = [float(w) for w in weights]
    if len(weights) != count:
        raise ValueError(f"got {len(weights)} weights for {count} styles")
    if not all(math.isfinite(w) for w in weights) or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"weights must be non-negative with a positive sum, got {weights}")
    total = sum(weights)
    return [w / total for w in weights]


def feature_covariance(feat: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``(C, 1)`` and covariance ``(C, C)`` of one feature map ``(1, C, H, W)`` over positions."""
    if feat.dim() != 4 or feat.shape[0] != 1:
        raise ValueError(f"expected a single (1, C, H, W) feature map, got {tuple(feat.shape)}")
    flat = feat[0].reshape(feat.shape[1], -1).double()
    mean = flat.mean(dim=1, keepdim=True)
    centred = flat - mean
    cov = centred @ centred.T / max(flat.shape[1] - 1, 1)
    return mean, cov


def covariance_sums(feat: Tensor) -> tuple[int, Tensor, Tensor]:
    """``(positions, sum f (C, 1), sum f f^T (C, C))`` of ``(1, C, H, W)`` in float64; they add up
    across tiles (:func:`covariance_from_sums`)."""
    if feat.dim() != 4 or feat.shape[0] != 1:
        raise ValueError(f"expected a single (1, C, H, W) feature map, got {tuple(feat.shape)}")
    flat = feat[0].reshape(feat.shape[1], -1).double()
    return flat.shape[1], flat.sum(dim=1, keepdim=True), flat @ flat.T


def covariance_from_sums(count: int, total: Tensor, outer: Tensor) -> tuple[Tensor, Tensor]:
    """Mean ``(C, 1)`` and (unbiased) covariance ``(C, C)`` as :func:`feature_covariance` gives them."""
    mean = total / max(count, 1)
    cov = (outer - count * (mean @ mean.T)) / max(count - 1, 1)
    return mean, cov


def _matrix_power_sym(cov: Tensor, power: float, eps: float) -> Tensor:
    """``cov ** power`` for a symmetric positive semi-definite matrix, small eigenvalues dropped."""
    evals, evecs = torch.linalg.eigh(cov)
    keep = evals > eps
    evals, evecs = evals[keep], evecs[:, keep]
    return (evecs * evals.pow(power)) @ evecs.T


def whiten_colour(
    content_feat: Tensor,
    style_mean: Tensor,
    style_cov: Tensor,
    eps: float = 1e-5,
    content_cov: tuple[Tensor, Tensor] | None = None,
) -> Tensor:
    """WCT (Li et al. 2017): whiten the content features, then colour them with the style covariance.

    ``content_feat`` is ``(1, C, H, W)``; ``style_mean`` is ``(C, 1)`` and ``style_cov`` ``(C, C)``
    as returned by :func:`feature_covariance`. The output has the style's mean and covariance.
    ``content_cov`` (mean, covariance) replaces the content's own, e.g. a whole image's for a tile.
    """
    c_mean, c_cov = content_cov if content_cov is not None else feature_covariance(content_feat)
    _, c, h, w = content_feat.shape
    flat = content_feat[0].reshape(c, -1).double() - c_mean
    whitened = _matrix_power_sym(c_cov, -0.5, eps) @ flat
    coloured = _matrix_power_sym(style_cov.double(), 0.5, eps) @ whitened + style_mean.double()
    return coloured.reshape(1, c, h, w).to(torch.float32)


def coral(source: Tensor, target: Tensor, eps: float = 1e-5) -> Tensor:
    """Match the colour mean and covariance of ``source`` image ``(3, H, W)`` to ``target``'s.

    Used for colour preservation: recolouring the style image with the photo's palette before
    encoding keeps the photo's colours in the result (Gatys et al. 2016, "colour histogram matching").
    """
    if source.dim() != 3 or target.dim() != 3 or source.shape[0] != 3 or target.shape[0] != 3:
        raise ValueError("coral expects two (3, H, W) images")
    if source[0].numel() < 2 or target[0].numel() < 2:
        raise ValueError("coral needs at least two pixels in each image to estimate a covariance")
    s = source.reshape(3, -1).double()
    t = target.reshape(3, -1).double()
    s_mean, t_mean = s.mean(1, keepdim=True), t.mean(1, keepdim=True)
    s_cov = torch.cov(s) + eps * torch.eye(3, dtype=s.dtype)
    t_cov = torch.cov(t) + eps * torch.eye(3, dtype=t.dtype)
    out = _matrix_power_sym(t_cov, 0.5, 0.0) @ _matrix_power_sym(s_cov, -0.5, 0.0) @ (s - s_mean) + t_mean
    return out.reshape(source.shape).clamp(0, 1).to(source.dtype)


def content_loss(output_feat: Tensor, target: Tensor) -> Tensor:
    """MSE between the output's relu4_1 features and the AdaIN target (paper eq. 12)."""
    return F.mse_loss(output_feat.float(), target.float())


def style_statistics(feats: Sequence[Tensor]) -> list[tuple[Tensor, Tensor]]:
    """``(mean, std)`` of each layer's features: all the style loss and AdaIN ever read of a style."""
    return [calc_mean_std(f) for f in feats]


def style_loss(output_feats: Sequence[Tensor], style_feats: Sequence[Tensor]) -> Tensor:
    """Sum over layers of the MSE of channel means plus the MSE of channel stds (paper eq. 13)."""
    return style_loss_to_stats(output_feats, style_statistics(style_feats))


def style_loss_to_stats(output_feats: Sequence[Tensor], style_stats: Sequence[tuple[Tensor, Tensor]]) -> Tensor:
    """:func:`style_loss` against a style's :func:`style_statistics`, computed once (a training run
    keeps them for the paintings it reuses)."""
    loss = output_feats[0].new_zeros((), dtype=torch.float32)
    for out, (s_mean, s_std) in zip(output_feats, style_stats, strict=True):
        o_mean, o_std = calc_mean_std(out)
        loss = loss + F.mse_loss(o_mean, s_mean) + F.mse_loss(o_std, s_std)
    return loss


def gram_matrix(feat: Tensor) -> Tensor:
    """Gram matrix ``(N, C, C)`` normalised by the number of positions (Gatys et al.)."""
    n, c = feat.shape[:2]
    flat = feat.reshape(n, c, -1).float()
    return flat @ flat.transpose(1, 2) / flat.shape[2]


def gram_loss(output_feats: Sequence[Tensor], style_feats: Sequence[Tensor]) -> Tensor:
    """Sum over layers of the MSE between Gram matrices, a second opinion on style match."""
    loss = output_feats[0].new_zeros((), dtype=torch.float32)
    for out, sty in zip(output_feats, style_feats, strict=True):
        loss = loss + F.mse_loss(gram_matrix(out), gram_matrix(sty))
    return loss
