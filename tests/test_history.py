"""Training across sessions: a model folder's training.json, and continuing from the folder alone."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState

from adain_hub import AdaIN
from adain_hub.history import History, Run
from adain_hub.training import TrainConfig, train

from .conftest import ROOT
from .test_training import PRECISION, _config, _fresh_accelerator_state, data, tiny_source  # noqa: F401


def _run(first: int, last: int) -> Run:
    return Run(first_step=first, last_step=last, hours=0.5, image_size=128, batch="8 x 8", lr=5e-4,
               identity_weight=50.0, style_weight=10.0, loop="fast", device="cpu", finished="2026-12-01T00:00:00Z")


def test_history_round_trips_and_counts_steps_and_hours(tmp_path):
    assert History.load(tmp_path).steps == 0  # a folder with no history
    history = History([_run(0, 100), _run(100, 250)])
    history.save(tmp_path)
    back = History.load(tmp_path)
    assert back == history and back.steps == 250 and back.hours == pytest.approx(1.0)
    assert json.loads((tmp_path / "training.json").read_text())["steps"] == 250
    assert history.upto(100).runs == [_run(0, 100)]
    older = json.loads((tmp_path / "training.json").read_text())  # written before runs recorded their padding
    for run in older["runs"]:
        del run["judge_padding"]
    (tmp_path / "training.json").write_text(json.dumps(older))
    assert [r.judge_padding for r in History.load(tmp_path).runs] == ["reflect", "reflect"]
    (tmp_path / "training.json").write_text("{not json")
    with pytest.raises(ValueError, match="not a training history"):
        History.load(tmp_path)


def test_resume_from_a_model_folder_continues_steps_schedule_and_history(data, tiny_source, tmp_path):
    first = tmp_path / "session1"
    train(_config(data, first, tiny_source, max_steps=3, lr_decay=0.1), Accelerator(cpu=True, mixed_precision=PRECISION))
    committed = tmp_path / "committed"  # what a session commits: the model folder only
    shutil.copytree(first / "model", committed)
    assert History.load(committed).steps == 3
    AcceleratorState._reset_state(True)

    logs = []
    second = tmp_path / "session2"
    model = train(_config(data, second, tiny_source, max_steps=5, lr_decay=0.1, resume_from=str(committed),
                          warmup_steps=0, log_every=1),
                  Accelerator(cpu=True, mixed_precision=PRECISION), on_step=lambda s, l: logs.append((s, l)))
    assert [s for s, _ in logs] == [4, 5]
    # the schedule goes on from step 3, not from 0: lr / (1 + decay * step)
    assert logs[-1][1]["lr"] == pytest.approx(1e-4 / (1 + 0.1 * 5))
    # the loss curve spans both runs when they share a folder; here each has its own, steps as counted
    assert [int(line.split(",")[0]) for line in (second / "losses.csv").read_text().splitlines()[1:]] == [4, 5]
    history = History.load(second / "model")
    assert [(r.first_step, r.last_step) for r in history.runs] == [(0, 3), (3, 5)]
    # it trained on from the committed weights, not from a fresh decoder
    start = AdaIN.from_pretrained(committed)
    diff = (model.decoder.layers.to_rgb[1].weight - start.decoder.layers.to_rgb[1].weight).abs().max()
    assert 0 < diff < 1e-2
    assert "steps 0-3" in (second / "model" / "README.md").read_text()


def test_resume_from_needs_a_history_and_excludes_pretrained(data, tiny_source, tmp_path):
    with pytest.raises(ValueError, match="no training history"):
        train(_config(data, tmp_path / "out", tiny_source, resume_from=tiny_source),
              Accelerator(cpu=True, mixed_precision=PRECISION))
    with pytest.raises(ValueError, match="not both"):
        TrainConfig(resume_from=tiny_source, pretrained=tiny_source)
    with pytest.raises(ValueError, match="not a model folder"):
        TrainConfig(resume_from=str(tmp_path))


def test_warm_up_after_resume_from_starts_small(data, tiny_source, tmp_path, monkeypatch):
    first = tmp_path / "a"
    train(_config(data, first, tiny_source, max_steps=2), Accelerator(cpu=True, mixed_precision=PRECISION))
    AcceleratorState._reset_state(True)
    used: list[float] = []  # the learning rate of each update, read as Adam takes its step
    original = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        used.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    train(_config(data, tmp_path / "b", tiny_source, max_steps=8, lr_decay=0.0, resume_from=str(first / "model"),
                  warmup_steps=4), Accelerator(cpu=True, mixed_precision=PRECISION))
    assert used == pytest.approx([2.5e-5, 5e-5, 7.5e-5, 1e-4, 1e-4, 1e-4])


def test_resume_from_keeps_the_recipe_unless_a_flag_changes_it(tiny_source, tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_script", ROOT / "train_accelerate.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    folder = tmp_path / "m"
    shutil.copytree(tiny_source, folder)
    History([_run(0, 100)]).save(folder)  # lr 5e-4, identity 50, 128 px, 8 x 8, fast
    config = script.parse_args(["--resume-from", str(folder)])
    assert (config.lr, config.identity_weight, config.image_size, config.batch_size, config.styles_per_batch) == (
        5e-4, 50.0, 128, 8, 8)
    assert script.parse_args(["--resume-from", str(folder), "--image-size", "256"]).image_size == 256
    plain = History([dataclasses.replace(_run(0, 100), loop="plain", judge_padding="zero")])
    plain.save(folder)  # a model trained before the fast loop existed: the loop is not part of its recipe
    config = script.parse_args(["--resume-from", str(folder)])
    assert config.loop == "fast" and config.judge_padding == "zero"
    assert script.parse_args(["--resume-from", str(folder), "--loop", "plain"]).loop == "plain"
