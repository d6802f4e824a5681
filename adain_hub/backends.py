"""Ways to run the encoder and decoder for inference; the transforms between them stay in fp32.

A backend only has to map images to the features AdaIN transforms and back. ``"fp32"`` is the
reference, ``"bf16"`` is eager PyTorch with bf16 weights in channels_last (AMX on recent x86 CPUs),
``"fp16"`` the same in half precision (GPUs: tensor cores; the default there), and ``"openvino"``
(see :mod:`adain_hub.openvino_backend`) is the fastest on CPUs. PyTorch backends can also be
compiled (``TorchBackend(..., compile="max-autotune")``): that pays only for long runs of one
image size, since every new size compiles again.
"""

from __future__ import annotations

from typing import Callable, Protocol

import torch
from torch import Tensor

from .model import AdaIN

BACKENDS = ("auto", "fp32", "bf16", "fp16", "openvino")
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


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
    """Eager PyTorch in the model's own precision, or a bf16/fp16 copy in channels_last.

    ``compile`` is a ``torch.compile`` mode (``"default"``, ``"reduce-overhead"`` for CUDA graphs,
    ``"max-autotune"``) or ``None`` for eager.
    """

    def __init__(self, model: AdaIN, dtype: torch.dtype = torch.float32, compile: str | None = None) -> None:
        self.name = {v: k for k, v in _DTYPES.items()}[dtype]
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
        self._encoder: Callable[[Tensor], Tensor] = lambda x: self.model.encode(x)[-1]
        self._decoder: Callable[[Tensor], Tensor] = self.model.decode
        if compile:
            self.name += f"+compile({compile})"
            self._encoder = torch.compile(self._encoder, mode=compile)
            self._decoder = torch.compile(self._decoder, mode=compile)

    def _prep(self, x: Tensor) -> Tensor:
        return x.to(self.device, self.dtype).contiguous(memory_format=self.memory_format)

    @torch.inference_mode()
    def encode(self, image: Tensor) -> Tensor:
        return self._encoder(self._prep(image)).float()

    @torch.inference_mode()
    def decode(self, features: Tensor) -> Tensor:
        return self._decoder(self._prep(features)).float()


def make_backend(model: AdaIN, name: str = "auto", threads: int | None = None) -> Backend:
    """Pick a backend by name; ``"auto"`` is OpenVINO on CPU when installed, else bf16 on CPU
    (fp32 where the CPU lacks native bf16), and fp16 in channels_last on CUDA GPUs (fp32 on
    other accelerators). ``threads``: OpenVINO's (default: every core this process may use);
    processes or DataLoader workers sharing a CPU give each its share."""
    if name not in BACKENDS:
        raise ValueError(f"unknown backend {name!r}; choose one of {BACKENDS}")
    device = next(model.parameters()).device.type
    on_cpu = device == "cpu"
    if name == "auto":
        if not on_cpu:
            name = "fp16" if device == "cuda" else "fp32"
        else:
            try:
                import openvino  # noqa: F401

                name = "openvino"
            except ImportError:
                name = "bf16" if cpu_has_bf16() else "fp32"
    if name == "openvino":
        from .openvino_backend import OpenVINOBackend

        return OpenVINOBackend(model, threads=threads)
    return TorchBackend(model, _DTYPES[name])


def cpu_has_bf16() -> bool:
    """Whether the CPU runs bf16 natively (AMX or AVX512-BF16); emulated bf16 is slower than fp32."""
    try:
        flags = open("/proc/cpuinfo").read()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags
