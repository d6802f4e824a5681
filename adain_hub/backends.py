"""Ways to run the encoder and decoder for inference; the transforms between them stay in fp32.

A backend only has to map images to relu4_1 features and back. ``"fp32"`` is the reference,
``"bf16"`` is eager PyTorch with bf16 weights in channels_last (AMX on recent x86 CPUs), and
``"openvino"`` (see :mod:`adain_hub.openvino_backend`) is the fastest on CPUs.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor

from .model import AdaIN

BACKENDS = ("auto", "fp32", "bf16", "openvino")


class Backend(Protocol):
    """Encoder to relu4_1 and decoder, fp32 tensors in and out.

    ``bytes_per_pixel`` is the peak memory of encoding plus decoding, per image pixel, that the
    :class:`~adain_hub.Stylizer` sizes its tiles by (measured; see benchmarks/README.md).
    """

    name: str
    bytes_per_pixel: float

    def encode(self, image: Tensor) -> Tensor: ...

    def decode(self, features: Tensor) -> Tensor: ...


class TorchBackend:
    """Eager PyTorch in the model's own precision, or bf16 weights + channels_last."""

    def __init__(self, model: AdaIN, dtype: torch.dtype = torch.float32) -> None:
        self.name = "fp32" if dtype == torch.float32 else "bf16"
        self.device = next(model.parameters()).device
        if dtype == torch.float32:  # "the model's own precision": a half model on a GPU stays half
            self.dtype = next(model.parameters()).dtype
            self.model = model.eval()
        else:  # a converted copy, so the caller's model keeps training in fp32
            self.dtype = dtype
            self.model = AdaIN(model.config).to(self.device)
            self.model.load_state_dict(model.state_dict())
            self.model = self.model.to(dtype=dtype, memory_format=torch.channels_last).eval()
        self.memory_format = torch.contiguous_format if dtype == torch.float32 else torch.channels_last
        # ~1,100 B/px measured for the real widths at 1 megapixel (activations of the 64-wide first
        # block, reflection-padded copies), plus the feature transform and some margin
        self.bytes_per_pixel = 20.0 * model.config.channels[0]

    def _prep(self, x: Tensor) -> Tensor:
        return x.to(self.device, self.dtype).contiguous(memory_format=self.memory_format)

    @torch.inference_mode()
    def encode(self, image: Tensor) -> Tensor:
        return self.model.encode(self._prep(image))[-1].float()

    @torch.inference_mode()
    def decode(self, features: Tensor) -> Tensor:
        return self.model.decode(self._prep(features)).float()


def make_backend(model: AdaIN, name: str = "auto") -> Backend:
    """Pick a backend by name; ``"auto"`` is OpenVINO on CPU when installed, else bf16 on CPU
    (fp32 where the CPU lacks native bf16), and fp32 on GPUs."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")
    on_cpu = next(model.parameters()).device.type == "cpu"
    if name == "auto":
        if not on_cpu:
            name = "fp32"
        else:
            try:
                import openvino  # noqa: F401

                name = "openvino"
            except ImportError:
                name = "bf16" if cpu_has_bf16() else "fp32"
    if name == "openvino":
        from .openvino_backend import OpenVINOBackend

        return OpenVINOBackend(model)
    return TorchBackend(model, torch.bfloat16 if name == "bf16" else torch.float32)


def cpu_has_bf16() -> bool:
    """Whether the CPU runs bf16 natively (AMX or AVX512-BF16); emulated bf16 is slower than fp32."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
