"""int8 for the data paths (``StyleAugment``, ``adain stylize-dataset``): an OpenVINO backend whose
encoder and decoder are quantized by NNCF, calibrated on a style bank, so no images need be given.

Stylizing a dataset or a training batch is judged by what a network trained on it learns, not by a
viewer: on a CPU without AMX, where VGG-19 is bound by bf16 arithmetic, int8 doubles its images/s
for about 35 dB of PSNR to the fp32 result (bf16: 54 dB). Prints and the app keep the float backends.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .backends import Backend, make_backend
from .model import AdaIN
from .style_bank import StyleBank, StyleBankError

INT8 = "openvino-int8"  # the backend's name where data paths take one
CALIBRATION_SIDE = 224


def calibration_from_bank(bank: StyleBank, side: int = CALIBRATION_SIDE) -> tuple[Tensor, Tensor, Tensor]:
    """``(images, mean, std)``: the bank's thumbnails at ``side`` px as the content, each with the
    statistics of the style half the bank away (so no painting meets its own style)."""
    if len(bank) < 2 or not bank.thumbnails:
        raise StyleBankError("int8 calibrates on a style bank's thumbnails: this bank has fewer than two, "
                             "or none (StyleBank.from_images(..., thumbnail=96) keeps them)")
    from torchvision.transforms.functional import pil_to_tensor, resize

    images = torch.stack([resize(pil_to_tensor(bank.thumbnail(i)), [side, side], antialias=True)
                          for i in range(len(bank))]).float().div(255)
    other = [(i + len(bank) // 2) % len(bank) for i in range(len(bank))]
    return images, bank.mean[other].float(), bank.std[other].float()


def data_backend(model: AdaIN, name: str = "auto", threads: int | None = None,
                 bank: StyleBank | None = None) -> Backend:
    """:func:`~adain_hub.backends.make_backend`, plus :data:`INT8`: calibrated on ``bank``, or on the
    model's own bank (:meth:`StyleBank.from_pretrained`) when none is given."""
    if name != INT8:
        return make_backend(model, name, threads)
    from .openvino_backend import OpenVINOBackend

    if next(model.parameters()).device.type != "cpu":
        raise ValueError(f"{INT8} runs on the CPU; this model is on {next(model.parameters()).device}")
    calibration = calibration_from_bank(bank if bank is not None else StyleBank.from_pretrained(model))
    return OpenVINOBackend(model, threads=threads, precision="int8", calibration=calibration)
