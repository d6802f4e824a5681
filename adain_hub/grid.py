"""The grid score: how much of an image is a fixed 4 px or 2 px mesh (issue 32).

Pixel-shuffle and strided networks can paint a regular pattern of the period of their up- and
downsampling over every output (Odena et al., "Deconvolution and Checkerboard Artifacts", Distill
2016). It shows as sharp peaks in the spectrum at the frequencies of that period. The score compares
the power at those peaks with the power of the frequencies around them, so a photo scores about 1-3
whatever its content, and a meshed output tens.

Pure tensor functions: the score for measuring (:func:`grid_score`) and, built from the same
spectrum, a differentiable penalty for training (:func:`grid_penalty`).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .functional import luminance

# The frequencies (cycles per pixel along height, width) of a 4 px and a 2 px period.
GRID_FREQUENCIES: tuple[tuple[float, float], ...] = ((0.0, 0.25), (0.25, 0.0), (0.25, 0.25), (0.0, 0.5), (0.5, 0.0))
PEAK = 3  # the bins around each frequency that hold its peak
RING = 13  # the neighbourhood the peak is compared with (without the peak's bins)


def power_spectrum(image: Tensor) -> Tensor:
    """``(N, C, H, W)`` in [0, 1] -> ``(N, H, W)``: |FFT|^2 of the luminance minus its mean, Hann-windowed
    (the window keeps the image's borders from smearing power over every frequency)."""
    image = image.float()
    y = (image if image.shape[1] == 1 else luminance(image))[:, 0]  # (N, H, W)
    y = y - y.mean(dim=(-2, -1), keepdim=True)
    h, w = y.shape[-2:]
    window = torch.outer(torch.hann_window(h, periodic=False, device=y.device),
                         torch.hann_window(w, periodic=False, device=y.device))
    return torch.fft.fft2(y * window).abs().square()


def _bins(size: int, freq: float, half: int, device: torch.device) -> Tensor:
    centre = round(freq * size)
    return (torch.arange(centre - half, centre + half + 1, device=device)) % size


def grid_ratios(image: Tensor, eps: float = 1e-12) -> Tensor:
    """``(N, C, H, W) -> (N, 5)``: at each of :data:`GRID_FREQUENCIES`, the mean power of the 3 x 3 bins
    around it over the mean power of the 13 x 13 bins around it without those 9. Differentiable."""
    power = power_spectrum(image)
    n, h, w = power.shape
    peak_mask = torch.zeros(RING, RING, dtype=torch.bool, device=power.device)
    lo, hi = (RING - PEAK) // 2, (RING + PEAK) // 2
    peak_mask[lo:hi, lo:hi] = True
    ratios = []
    for fy, fx in GRID_FREQUENCIES:
        rows = _bins(h, fy, RING // 2, power.device)
        cols = _bins(w, fx, RING // 2, power.device)
        patch = power[:, rows][:, :, cols]  # (N, 13, 13)
        peak = patch[:, peak_mask].mean(dim=1)
        ring = patch[:, ~peak_mask].mean(dim=1)
        ratios.append(peak / (ring + eps))
    return torch.stack(ratios, dim=1)


@torch.no_grad()
def grid_score(image: Tensor) -> float:
    """The grid score of one image ``(1, C, H, W)`` or ``(C, H, W)`` in [0, 1]: the largest of its five
    :func:`grid_ratios`. Photos score about 1-3; at least 32 px a side (the ring needs 13 bins)."""
    if image.dim() == 3:
        image = image.unsqueeze(0)
    if image.shape[0] != 1:
        raise ValueError(f"grid_score takes one image, got a batch of {image.shape[0]}")
    if min(image.shape[-2:]) < 32:
        raise ValueError(f"the grid score needs at least 32 x 32 pixels, got {tuple(image.shape[-2:])}")
    return float(grid_ratios(image).max())


def grid_penalty(image: Tensor, floor: float = 1.0) -> Tensor:
    """A training loss on the same peaks: the mean over a batch of ``log(max(ratio, floor))`` summed over
    the five frequencies, so outputs already as clean as a photo (ratio near 1) cost nothing and a
    mesh costs in proportion to how many times it stands above its surroundings."""
    ratios = grid_ratios(image.float())
    return torch.log(ratios.clamp_min(floor)).sum(dim=1).mean()
