"""scripts/learning_curve.py: one measured row per session, kept in the model folder."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from PIL import Image

from adain_hub import AdaIN, AdaINConfig
from adain_hub.history import History, Run

from .conftest import FIXTURES, ROOT

SCRIPT = ROOT / "scripts" / "learning_curve.py"


@pytest.mark.slow
def test_a_row_is_measured_against_the_peer_and_replaced_not_repeated(tmp_path):
    bench = tmp_path / "bench"
    for sub, names in (("content", ("astronaut.png", "coffee.png")), ("style", ("rocket.jpg", "brick.png"))):
        (bench / sub).mkdir(parents=True)
        for name in names:
            Image.open(FIXTURES / name).convert("RGB").resize((96, 80)).save(bench / sub / f"{name}.png")
    model_dir = tmp_path / "model"
    AdaIN(AdaINConfig(architecture="lite")).save_pretrained(model_dir)
    run = Run(first_step=0, last_step=120, hours=0.25, image_size=128, batch="8 x 8", lr=5e-4, identity_weight=50,
              style_weight=10, loop="fast", device="cpu (test, 2 threads)", finished="2026-12-01T00:00:00Z")
    History([run]).save(model_dir)
    cmd = [sys.executable, str(SCRIPT), "--model", str(model_dir), "--bench", str(bench), "--contents", "2",
           "--styles", "2", "--size", "64", "--report", str(tmp_path / "eval")]
    for _ in range(2):  # the second run replaces the row for step 120
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
    with (model_dir / "learning_curve.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1 and rows[0]["steps"] == "120" and rows[0]["hours"] == "0.25" and rows[0]["crop_px"] == "128"
    for key in ("content_vs_peer", "style_vs_peer", "ssim_vs_peer"):
        assert 0 < float(rows[0][key]) < 100
    assert 0 < float(rows[0]["self_style_psnr_db"]) < 60  # a random network does not give the photo back
    table = (model_dir / "learning_curve.md").read_text()
    assert "| 120 | 0.25 | 128 |" in table and "self-style PSNR" in table
    assert (tmp_path / "eval" / "contact_sheet.jpg").is_file() and (tmp_path / "eval" / "summary.md").is_file()


def test_a_folder_without_history_is_one_line(tmp_path):
    AdaIN(AdaINConfig(architecture="lite")).save_pretrained(tmp_path / "m")
    result = subprocess.run([sys.executable, str(SCRIPT), "--model", str(tmp_path / "m")], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 2 and "no training.json" in result.stderr and "Traceback" not in result.stderr
