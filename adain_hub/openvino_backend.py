"""OpenVINO inference backend: the encoder (image -> relu4_1) and the decoder as two compiled graphs.

Why two graphs and not one: AdaIN itself (and WCT, masks, blending) stays in fp32 PyTorch in the
:class:`~adain_hub.stylizer.Stylizer`, so a style is encoded once and reused, and the statistics
are never computed in reduced precision.

Converting the model takes tens of seconds, so the converted IR is kept on disk under
``$ADAIN_HUB_CACHE/openvino/<key>/`` (default ``~/.cache/adain_hub``), where ``<key>`` hashes the
weights, the config and the OpenVINO version; a later process only reads and compiles it (about a
second). Spatial dimensions are dynamic: one compiled graph serves every image size.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import threading
import warnings
import weakref
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from . import functional as AF
from .cores import available_cores
from .model import AdaIN

# Bump when the exported graphs change, so old cached IR is not reused.
_FORMAT = 2
_GRAPHS = ("encoder", "decoder", "stylize")
# Batches for the fused graph are cut into chunks of about this many pixels (8 images at 224 px),
# one per stream in flight (benchmarks/bench_augment.py times it against the two graphs)
_CHUNK_PIXELS = 8 * 224 * 224


def cache_root() -> Path:
    """Where converted models live: ``$ADAIN_HUB_CACHE`` or ``~/.cache/adain_hub``, plus ``openvino``."""
    base = os.environ.get("ADAIN_HUB_CACHE") or Path.home() / ".cache" / "adain_hub"
    return Path(base) / "openvino"


def model_key(model: AdaIN) -> str:
    """Hash of everything the converted graphs depend on: the model (:meth:`AdaIN.fingerprint`, its
    config and weights), the graphs' format and the OpenVINO version."""
    import openvino as ov

    text = json.dumps([_FORMAT, ov.__version__, model.fingerprint()])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def openvino_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin reports native bf16 (AMX or AVX512-BF16)."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


class _EncoderToRelu41(nn.Module):
    """The encoder with one output, relu4_1, so the exported graph holds nothing else."""

    def __init__(self, model: AdaIN) -> None:
        super().__init__()
        self.encoder = model.encoder

    def forward(self, x: Tensor) -> Tensor:
        return self.encoder(x)[-1]


class _FusedStylize(nn.Module):
    """Encoder, AdaIN with per-sample style statistics and alpha, decoder: one graph for batches
    (:meth:`OpenVINOBackend.stylize`), so features never leave the engine between the halves."""

    def __init__(self, model: AdaIN) -> None:
        super().__init__()
        self.encoder, self.decoder = model.encoder, model.decoder

    def forward(self, image: Tensor, mean: Tensor, std: Tensor, alpha: Tensor) -> Tensor:
        feat = self.encoder(image)[-1]
        target = AF.adaptive_instance_normalization(feat, mean[..., None, None], std[..., None, None])
        return self.decoder(feat + alpha[:, None, None, None] * (target - feat))


def _convert(model: AdaIN, folder: Path) -> None:
    """Export both graphs to IR in ``folder`` (fp32 weights: no fp16 rounding on the way)."""
    import openvino as ov

    # A CPU fp32 copy: the caller's model may live on a GPU, in bf16, or be training.
    cpu = AdaIN(model.config)
    cpu.load_state_dict(model.state_dict())
    cpu = cpu.float().eval()
    example = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        feat = cpu.encode(example)[-1]
    c = feat.shape[1]
    stats = (torch.rand(1, c), torch.rand(1, c) + 0.5, torch.full((1,), 0.5))
    graphs = {
        "encoder": (_EncoderToRelu41(cpu), example, [[-1, 3, -1, -1]]),
        "decoder": (cpu.decoder, feat, [[-1, c, -1, -1]]),
        "stylize": (_FusedStylize(cpu), (example, *stats), [[-1, 3, -1, -1], [-1, c], [-1, c], [-1]]),
    }
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # torch.jit.trace deprecation notices from the converter
        for name, (module, example_input, shapes) in graphs.items():
            ov_model = ov.convert_model(module, example_input=example_input,
                                        input=[ov.PartialShape(shape) for shape in shapes])
            ov.save_model(ov_model, folder / f"{name}.xml", compress_to_fp16=False)


def ensure_ir(model: AdaIN, root: Path | None = None) -> tuple[Path, bool]:
    """The folder holding ``encoder.xml`` and ``decoder.xml`` for ``model``, converting if needed.

    Returns ``(folder, converted)``. Conversion writes to a temporary folder that is renamed into
    place, so concurrent processes never read a half-written model.
    """
    root = root if root is not None else cache_root()
    folder = root / model_key(model)
    if _complete(folder):
        return folder, False
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=root))
    try:
        _convert(model, tmp)
        if folder.exists():  # incomplete leftover, or another process just finished
            if _complete(folder):
                return folder, True
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:  # lost a race to another process; its copy is as good as ours
            if not _complete(folder):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder, True


def _complete(folder: Path) -> bool:
    return all((folder / f"{g}{ext}").is_file() for g in _GRAPHS for ext in (".xml", ".bin"))


def quantize_ir(folder: Path, calibration: tuple[Tensor, Tensor, Tensor]) -> Path:
    """``folder``'s encoder and decoder quantized to int8 by NNCF (post-training, activations per
    tensor, weights per channel), calibrated on ``(images, mean, std)``: the images through the
    encoder, and AdaIN of their features to those styles through the decoder. Kept beside the float
    IR under a hash of the calibration data; returns that folder.

    Only the two convolution stacks are quantized: AdaIN between them stays in fp32 (quantizing it
    with them, in the fused graph, cost 10 dB of PSNR)."""
    import openvino as ov

    try:
        import nncf
    except ImportError:
        raise ImportError("int8 needs NNCF: pip install 'adain-hub[int8]'") from None
    images, mean, std = (t.detach().to("cpu", torch.float32).contiguous() for t in calibration)
    digest = hashlib.sha256(b"".join(t.numpy().tobytes() for t in (images, mean, std)))
    digest.update(nncf.__version__.encode())
    target = folder / f"int8-{digest.hexdigest()[:16]}"
    if all((target / f"{g}.{ext}").is_file() for g in ("encoder", "decoder") for ext in ("xml", "bin")):
        return target
    core = ov.Core()
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=folder))
    try:
        encoder = core.read_model(folder / "encoder.xml")
        float_encoder = core.compile_model(encoder, "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
        samples = [images[i : i + 1].numpy() for i in range(len(images))]
        feats = torch.cat([torch.from_numpy(float_encoder([x])[0].copy()) for x in samples])
        targets = AF.adaptive_instance_normalization(feats, mean[..., None, None], std[..., None, None])
        size = len(samples)
        # library code prints nothing: NNCF's progress bars and log lines go nowhere
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            quantized = {
                "encoder": nncf.quantize(encoder, nncf.Dataset(samples), subset_size=size, fast_bias_correction=True),
                "decoder": nncf.quantize(core.read_model(folder / "decoder.xml"),
                                         nncf.Dataset([targets[i : i + 1].numpy() for i in range(size)]),
                                         subset_size=size, fast_bias_correction=True),
            }
        for name, graph in quantized.items():
            ov.save_model(graph, tmp / f"{name}.xml", compress_to_fp16=False)
        try:
            os.replace(tmp, target)
        except OSError:  # another process got there first; its graphs are the same
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


class OpenVINOBackend:
    """Encoder to relu4_1 and decoder compiled by OpenVINO for the CPU; fp32 tensors in and out.

    Args:
        model: the network; it is converted (or its cached IR loaded), never modified.
        threads: inference threads (default: every core this process may use).
        precision: ``"auto"`` (bf16 where the CPU runs it natively, else fp32), ``"bf16"``, ``"f32"``,
            or ``"int8"``: both halves quantized (:func:`quantize_ir`, needs ``calibration``), about
            twice the images/s of bf16 for VGG-19 at ~35 dB PSNR to fp32; for data, not for prints.
        cache_dir: root for converted models (default :func:`cache_root`).
        calibration: ``(images, mean, std)`` for ``"int8"``: a few dozen images and styles like
            those to come (``adain_hub.int8`` takes them from a style bank).

    Attributes:
        ir_dir: the folder the IR was read from; ``converted``: whether this construction converted.
    """

    name = "openvino"

    def __init__(
        self,
        model: AdaIN,
        threads: int | None = None,
        precision: str = "auto",
        cache_dir: str | os.PathLike | None = None,
        calibration: tuple[Tensor, Tensor, Tensor] | None = None,
    ) -> None:
        import openvino as ov

        if precision not in ("auto", "bf16", "f32", "int8"):
            raise ValueError(f"precision must be 'auto', 'bf16', 'f32' or 'int8', got {precision!r}")
        if precision == "int8" and calibration is None:
            raise ValueError("int8 needs calibration data: (images, mean, std)")
        if precision == "auto":
            precision = "bf16" if openvino_has_bf16() else "f32"
        self.precision = precision
        self.threads = threads or available_cores()
        # ~650 B/px measured for the real widths at 1 megapixel, plus the feature transform
        self.bytes_per_pixel = 13.0 * model.config.channels[0]
        try:
            self.ir_dir, self.converted = ensure_ir(model, Path(cache_dir) / "openvino" if cache_dir else None)
        except OSError:  # cache not writable (read-only home): convert for this process only
            self.ir_dir, self.converted = Path(tempfile.mkdtemp(prefix="adain_hub_openvino_")), True
            weakref.finalize(self, shutil.rmtree, self.ir_dir, True)
            _convert(model, self.ir_dir)
        core = ov.Core()
        graphs = self.ir_dir
        if precision == "int8":  # what NNCF left in float runs in fp32: it costs no time next to the int8 convs
            graphs, self.name = quantize_ir(self.ir_dir, calibration), "openvino-int8"
        config = {
            "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": self.threads,
            "INFERENCE_PRECISION_HINT": "f32" if precision == "int8" else precision,
        }
        self._requests = {
            g: core.compile_model(core.read_model(graphs / f"{g}.xml"), "CPU", config).create_infer_request()
            for g in ("encoder", "decoder")
        }
        self._core, self._config, self._fused = core, config, None
        # One request per graph; its output buffer is reused, hence the lock and the copies.
        self._lock = threading.Lock()

    def _run(self, graph: str, x: Tensor) -> Tensor:
        array = np.ascontiguousarray(x.detach().to("cpu", torch.float32).numpy())
        with self._lock:
            # Zero-copy views both ways; the output is copied once here, before the next call
            # overwrites the request's buffer.
            out = self._requests[graph].infer([array], share_inputs=True, share_outputs=True)[0]
            return torch.from_numpy(np.array(out, dtype=np.float32, copy=True))

    def encode(self, image: Tensor) -> Tensor:
        """``(N, 3, H, W)`` RGB in [0, 1] -> relu4_1 features ``(N, C4, H/8, W/8)``, fp32."""
        return self._run("encoder", image)

    def decode(self, features: Tensor) -> Tensor:
        """relu4_1-shaped features -> ``(N, 3, 8h, 8w)`` image (unclamped), fp32."""
        return self._run("decoder", features)

    @property
    def stylize(self):
        """The fused graph's call (:meth:`stylize_fused`), or ``None`` in int8, whose AdaIN must stay
        fp32 between the quantized halves: :meth:`Stylizer.stylize_batch` then runs the two graphs."""
        return None if self.precision == "int8" else self.stylize_fused

    def stylize_fused(self, images: Tensor, mean: Tensor, std: Tensor, alpha: Tensor) -> Tensor:
        """A batch through the fused graph: ``(N, 3, H, W)`` (``H, W`` multiples of the network's),
        style ``mean``/``std`` ``(N, C)``, ``alpha`` ``(N,)`` -> ``(N, 3, H, W)`` unclamped, fp32.

        The batch is cut into chunks (:data:`_CHUNK_PIXELS`) run on parallel streams, each with a
        share of the threads."""
        import openvino as ov

        if self._fused is None:  # compiled on first use: single-image callers never pay for it
            with self._lock:
                if self._fused is None:
                    streams = max(1, min(2, self.threads))
                    config = {**self._config, "PERFORMANCE_HINT": "THROUGHPUT", "NUM_STREAMS": streams}
                    compiled = self._core.compile_model(self._core.read_model(self.ir_dir / "stylize.xml"), "CPU",
                                                        config)
                    self._fused = (compiled, streams)
        compiled, streams = self._fused
        n, _, h, w = images.shape
        arrays = [np.ascontiguousarray(t.detach().to("cpu", torch.float32).numpy())
                  for t in (images, mean, std, alpha)]
        out = np.empty((n, 3, h, w), np.float32)
        step = max(1, min(_CHUNK_PIXELS // (h * w), -(-n // streams)))  # and every stream gets a share

        def done(request, rows: slice) -> None:
            out[rows] = request.get_output_tensor(0).data

        with self._lock:
            queue = ov.AsyncInferQueue(compiled, streams)
            queue.set_callback(done)
            for i in range(0, n, step):
                rows = slice(i, min(n, i + step))
                queue.start_async([a[rows] for a in arrays], rows)
            queue.wait_all()
        return torch.from_numpy(out)
