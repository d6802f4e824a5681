"""What the GPU driver (scripts/train_on_device.sh) brings back becomes model folders that load strictly,
keep their training history (so they can be resumed and their learning curve goes on) and carry the run's files."""

from __future__ import annotations

import importlib.util
import shutil
import sys
import tarfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from adain_hub import AdaIN, AdaINConfig
from adain_hub.history import History, Run

from .conftest import ROOT, TINY

LITE = AdaINConfig(architecture="lite", channels=(4, 8), blocks=2)


def _unpack_main():
    spec = importlib.util.spec_from_file_location("unpack_device_run", ROOT / "scripts" / "unpack_device_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def _history(*ends: int) -> History:
    starts = (0, *ends[:-1])
    return History([Run(first_step=a, last_step=b, hours=0.1, image_size=256, batch="16 x 16", lr=5e-4,
                        identity_weight=50.0, style_weight=7.0, loop="fast", device="NVIDIA H200",
                        finished="2026-12-04T15:18:47Z") for a, b in zip(starts, ends)])


def _tar(files_at: Path, name: str, folder: Path) -> None:
    with tarfile.open(files_at / f"{name}.tar", "w") as tar:
        tar.add(folder, arcname=name)


def _pack(tmp_path: Path, name: str, model: AdaIN, history: History | None) -> Path:
    """A folder packed the way the driver packs it: the VGG model's decoder alone, the lite model whole."""
    run = tmp_path / f"{name}_run"
    model.save_pretrained(run / "model")
    pack = tmp_path / f"{name}_pack"
    pack.mkdir()
    if model.is_vgg:
        save_file({k: v.contiguous() for k, v in model.decoder.state_dict().items()}, pack / "decoder.safetensors")
    else:
        shutil.copy(run / "model" / "model.safetensors", pack)
    shutil.copy(run / "model" / "config.json", pack)
    (pack / "card.md").write_text(f"# the card training wrote for {name}\n")
    (pack / "losses.csv").write_text("step,loss\n25,3.5\n")
    (pack / "throughput.json").write_text('{"step": 25}\n')
    if history is not None:
        history.save(pack)
    return pack


@pytest.mark.parametrize("with_history", [True, False], ids=["history", "no history (an older driver)"])
def test_unpack_rebuilds_both_models(tmp_path, monkeypatch, with_history):
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
    for name, model in (("vgg", trained_vgg), ("lite", trained_lite)):
        _tar(files_at, name, _pack(tmp_path, name, model, histories[name] if with_history else None))

    out = tmp_path / "runs"
    monkeypatch.setattr(sys, "argv", ["unpack_device_run.py", str(files_at), "--vgg-into", str(out / "vgg"),
                                      "--lite-into", str(out / "lite"), "--encoder-from", str(tmp_path / "shipped")])
    _unpack_main()()

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
