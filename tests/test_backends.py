"""Inference backends agree with the fp32 reference; OpenVINO's converted model is cached on disk."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from adain_hub import AdaIN
from adain_hub.backends import TorchBackend, make_backend
from adain_hub.stylizer import Stylizer

from .conftest import FIXTURES, TINY


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@pytest.fixture(scope="module")
def model() -> AdaIN:
    torch.manual_seed(0)
    return AdaIN(TINY).eval()


@pytest.fixture(scope="module")
def ov_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("adain_cache")


@pytest.fixture(scope="module")
def ov_backend(model: AdaIN, ov_cache: Path):
    """Converted once for the module (a second or two for the tiny model)."""
    pytest.importorskip("openvino")
    from adain_hub.openvino_backend import OpenVINOBackend

    return OpenVINOBackend(model, cache_dir=ov_cache)


def test_make_backend_rejects_unknown_name(model: AdaIN) -> None:
    with pytest.raises(ValueError, match="unknown backend"):
        make_backend(model, "tensorrt")


@pytest.mark.parametrize("shape", [(1, 3, 64, 64), (1, 3, 40, 72), (2, 3, 48, 32)])
def test_openvino_matches_fp32(model: AdaIN, ov_backend, shape: tuple[int, ...]) -> None:
    """Any size and batch through one dynamic-shape graph; fp32 on CPUs without native bf16."""
    torch.manual_seed(1)
    x = torch.rand(shape)
    ref = TorchBackend(model)
    tol = 1e-4 if ov_backend.precision == "f32" else 3e-2
    feats, ref_feats = ov_backend.encode(x), ref.encode(x)
    assert feats.dtype == torch.float32 and feats.shape == ref_feats.shape
    assert rel_err(feats, ref_feats) < tol
    image, ref_image = ov_backend.decode(ref_feats), ref.decode(ref_feats)
    assert image.shape == ref_image.shape == (shape[0], 3, shape[2] // 8 * 8, shape[3] // 8 * 8)
    assert rel_err(image, ref_image) < tol


def test_openvino_outputs_are_copies(ov_backend) -> None:
    """The request's output buffer is reused; results handed out earlier must not change."""
    a = ov_backend.encode(torch.rand(1, 3, 32, 32))
    kept = a.clone()
    ov_backend.encode(torch.rand(1, 3, 32, 32))
    assert torch.equal(a, kept)


def test_bf16_matches_fp32(model: AdaIN) -> None:
    torch.manual_seed(2)
    x = torch.rand(1, 3, 64, 64)
    ref, bf16 = TorchBackend(model), TorchBackend(model, torch.bfloat16)
    assert bf16.name == "bf16" and next(model.parameters()).dtype == torch.float32  # caller's model untouched
    assert rel_err(bf16.encode(x), ref.encode(x)) < 3e-2
    feats = ref.encode(x)
    assert rel_err(bf16.decode(feats), ref.decode(feats)) < 3e-2


def test_default_torch_backend_runs_a_half_precision_model_in_its_own_dtype(model: AdaIN) -> None:
    half = AdaIN(TINY)
    half.load_state_dict(model.state_dict())
    half = half.to(torch.bfloat16).eval()  # as `model.half().cuda()` would be on a GPU
    backend = TorchBackend(half)
    x = torch.rand(1, 3, 64, 64)
    feats = backend.encode(x)
    assert feats.dtype == torch.float32 and backend.decode(feats).dtype == torch.float32
    assert rel_err(feats, TorchBackend(model).encode(x)) < 3e-2


def test_openvino_ir_cache_is_reused(model: AdaIN, ov_backend, ov_cache: Path, monkeypatch) -> None:
    import adain_hub.openvino_backend as ovb

    assert ov_backend.converted and ov_backend.ir_dir.parent == ov_cache / "openvino"
    files = sorted(ov_backend.ir_dir.iterdir())
    assert [f.name for f in files] == ["decoder.bin", "decoder.xml", "encoder.bin", "encoder.xml", "stylize.bin",
                                       "stylize.xml"]
    mtimes = [f.stat().st_mtime_ns for f in files]

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted again although the IR was cached")

    monkeypatch.setattr(ovb, "_convert", no_conversion)
    monkeypatch.setenv("ADAIN_HUB_CACHE", str(ov_cache))  # the default location, through the env var
    again = make_backend(model, "openvino")
    assert again.name == "openvino" and not again.converted and again.ir_dir == ov_backend.ir_dir
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(again.encode(x), ov_backend.encode(x))


def test_cache_key_follows_weights_and_config(model: AdaIN) -> None:
    pytest.importorskip("openvino")
    import adain_hub.openvino_backend as ovb

    key = ovb.model_key(model)
    assert ovb.model_key(model) == key
    changed = AdaIN(TINY)
    changed.load_state_dict(model.state_dict())
    assert ovb.model_key(changed) == key
    with torch.no_grad():
        changed.decoder.layers.to_rgb[1].bias[0] += 1e-3
    assert ovb.model_key(changed) != key
    bilinear = AdaIN(type(TINY)(channels=TINY.channels, upsample="bilinear"))
    bilinear.load_state_dict(model.state_dict())
    assert ovb.model_key(bilinear) != key


def test_incomplete_cache_is_rebuilt(model: AdaIN, ov_backend, tmp_path: Path, monkeypatch) -> None:
    """A folder left without its weights (a killed process) is written again, not read; the new
    files arrive through a temporary folder renamed into place."""
    import shutil

    import adain_hub.openvino_backend as ovb

    calls = []

    def copy_converted(model: AdaIN, folder: Path) -> None:  # the real IR, minus the conversion time
        calls.append(folder)
        shutil.copytree(ov_backend.ir_dir, folder, dirs_exist_ok=True)

    monkeypatch.setattr(ovb, "_convert", copy_converted)
    root = tmp_path / "openvino"
    folder = root / ovb.model_key(model)
    folder.mkdir(parents=True)
    (folder / "encoder.xml").write_text("<truncated")
    folder_back, converted = ovb.ensure_ir(model, root)
    assert converted and folder_back == folder and len(calls) == 1 and calls[0] != folder
    assert (folder / "encoder.xml").read_bytes() == (ov_backend.ir_dir / "encoder.xml").read_bytes()
    assert [p.name for p in root.iterdir()] == [folder.name]  # no temporary folder left behind
    assert ovb.ensure_ir(model, root) == (folder, False)
    assert len(calls) == 1


def test_unwritable_cache_falls_back_to_a_temporary_copy(model: AdaIN, ov_backend, tmp_path: Path,
                                                         monkeypatch) -> None:
    import gc
    import shutil

    import adain_hub.openvino_backend as ovb

    monkeypatch.setattr(ovb, "_convert", lambda m, folder: shutil.copytree(ov_backend.ir_dir, folder,
                                                                         dirs_exist_ok=True))
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("a file where the cache folder should be")
    backend = ovb.OpenVINOBackend(model, cache_dir=blocker)
    assert backend.converted and not backend.ir_dir.is_relative_to(blocker)
    x = torch.rand(1, 3, 32, 32)
    assert torch.equal(backend.encode(x), ov_backend.encode(x))
    ir_dir = backend.ir_dir
    del backend
    gc.collect()
    assert not ir_dir.exists()


def test_stylizer_openvino_close_to_fp32(model: AdaIN, ov_backend) -> None:
    import numpy as np

    fast = Stylizer(model, backend=ov_backend, size=64, style_size=64)
    ref = Stylizer(model, backend="fp32", size=64, style_size=64)
    content, style = FIXTURES / "astronaut.png", FIXTURES / "coffee.png"
    a = np.asarray(fast.stylize(content, style, alpha=0.7), dtype=np.float32)
    b = np.asarray(ref.stylize(content, style, alpha=0.7), dtype=np.float32)
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= (1 if ov_backend.precision == "f32" else 16)
