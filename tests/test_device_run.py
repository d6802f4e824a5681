"""What the GPU driver (scripts/train_on_device.sh) packs on the device and brings back becomes model folders that
load strictly, keep their training history (so they can be resumed and their learning curve goes on) and carry the
run's files, each tar under the size a returned file may have."""

from __future__ import annotations

import importlib.util
import sys
import tarfile
from pathlib import Path

import pytest
import torch

from adain_hub import AdaIN, AdaINConfig
from adain_hub.history import History

from .conftest import ROOT, TINY
from .test_history import _run

LITE = AdaINConfig(architecture="lite", channels=(4, 8), blocks=2)


def _script():
    spec = importlib.util.spec_from_file_location("unpack_device_run", ROOT / "scripts" / "unpack_device_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _history(*ends: int) -> History:
    return History([_run(a, b) for a, b in zip((0, *ends[:-1]), ends)])


def _training_output(tmp_path: Path, name: str, model: AdaIN, history: History | None) -> Path:
    """A folder as train_accelerate leaves it on the device: the model, its card and history, the logs, samples."""
    run = tmp_path / f"{name}_run"
    model.save_pretrained(run / "model")
    (run / "model" / "README.md").write_text(f"# the card training wrote for {name}\n")
    if history is not None:
        history.save(run / "model")
    (run / "losses.csv").write_text("step,loss\n25,3.5\n")
    (run / "throughput.json").write_text('{"step": 25}\n')
    (run / "samples").mkdir()
    for step in (10, 20, 25):
        (run / "samples" / f"step_{step:08d}.png").write_bytes(b"png" * 1000)
    return run


@pytest.mark.parametrize("with_history", [True, False], ids=["history", "no history (an older driver)"])
def test_pack_then_unpack_rebuilds_both_models(tmp_path, monkeypatch, with_history):
    torch.manual_seed(0)
    shipped = AdaIN(TINY).eval()  # stands in for model_card/: its encoder is the one the decoder was trained for
    shipped.save_pretrained(tmp_path / "shipped")
    trained_vgg = AdaIN(TINY).eval()
    trained_vgg.encoder.load_state_dict(shipped.encoder.state_dict())
    with torch.no_grad():
        for p in trained_vgg.decoder.parameters():
            p.add_(0.5)  # a decoder that differs from the shipped one everywhere
    trained_lite = AdaIN(LITE).eval()
    files_at = tmp_path / "files_at"
    files_at.mkdir()
    histories = {"vgg": _history(18_000, 26_917, 30_431), "lite": _history(56_316, 63_040)}
    script = _script()
    for name, model in (("vgg", trained_vgg), ("lite", trained_lite)):
        run = _training_output(tmp_path, name, model, histories[name] if with_history else None)
        script.pack_run(run, files_at / f"{name}.tar")  # what the driver runs on the device
        assert (files_at / f"{name}.tar").stat().st_size < script.RETURN_LIMIT

    out = tmp_path / "runs"
    monkeypatch.setattr(sys, "argv", ["unpack_device_run.py", str(files_at), "--vgg-into", str(out / "vgg"),
                                      "--lite-into", str(out / "lite"), "--encoder-from", str(tmp_path / "shipped")])
    script.main()

    for name, model in (("vgg", trained_vgg), ("lite", trained_lite)):
        loaded = AdaIN.from_pretrained(out / name / "model")
        for (key, want), got in zip(model.state_dict().items(), loaded.state_dict().values(), strict=True):
            assert torch.equal(want, got), f"{name}: {key} differs after unpacking"
        assert (out / name / "model" / "README.md").read_text() == f"# the card training wrote for {name}\n"
        assert (out / name / "losses.csv").read_text() == "step,loss\n25,3.5\n"
        assert (out / name / "throughput.json").is_file()
        expected = histories[name].steps if with_history else 0
        assert History.load(out / name / "model").steps == expected
        assert not (out / name / "training.json").exists()  # the history belongs in the model folder alone
        assert sorted(p.name for p in (out / name).glob("*.png")) == ["step_00000020.png", "step_00000025.png"]


def test_pack_leaves_out_samples_that_would_pass_the_return_limit(tmp_path, monkeypatch):
    torch.manual_seed(0)
    run = _training_output(tmp_path, "lite", AdaIN(LITE).eval(), _history(100))
    (run / "samples" / "step_00000025.png").write_bytes(b"x" * 200_000)  # the newest grid is too big to fit
    script = _script()
    weights = (run / "model" / "model.safetensors").stat().st_size
    monkeypatch.setattr(script, "RETURN_LIMIT", weights + 100_000)
    script.pack_run(run, tmp_path / "lite.tar")
    with tarfile.open(tmp_path / "lite.tar") as tar:
        names = sorted(Path(n).name for n in tar.getnames())
    assert (tmp_path / "lite.tar").stat().st_size < script.RETURN_LIMIT
    assert "model.safetensors" in names and "training.json" in names
    assert "step_00000025.png" not in names and "step_00000020.png" in names
