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


def test_median_ratios_reads_the_first_pairs_of_a_whole_split_run(tmp_path):
    from adain_hub import evaluation as ev

    def score(method, content, style, style_loss):
        return ev.PairScore(method, content, style, 1.0, style_loss, 1.0, 0.5, 0.1)

    # styles outer, contents inner, as evaluate() runs them; "ours" fails on the second and third photos
    scores = [score(m, c, s, {"ours": 1.0, "peer": 2.0}[m] * (50.0 if (c != "c1" and m == "ours") else 1.0))
              for s in ("s1", "s2") for c in ("c1", "c2", "c3") for m in ("ours", "peer")]
    with (tmp_path / "pairs.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(ev.PairScore.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(vars(s) for s in scores)
    script = ROOT / "scripts" / "median_ratios.py"

    def ratios(*extra):
        out = subprocess.run([sys.executable, str(script), str(tmp_path / "pairs.csv"), "--baseline", "peer", *extra],
                             capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, out.stderr
        row = next(line for line in out.stdout.splitlines() if line.startswith("| ours |"))
        return out.stdout, row.split(" | ")[2]

    text, style_all = ratios()
    assert text.startswith("6 pairs") and style_all == "25.000x"  # medians 50 against 2
    text, style_first = ratios("--contents", "1")  # the first photo with both paintings: 1 against 2
    assert text.startswith("2 pairs") and style_first == "0.500x"
    bad = subprocess.run([sys.executable, str(script), str(tmp_path / "pairs.csv"), "--baseline", "nobody"],
                         capture_output=True, text=True, timeout=600)
    assert bad.returncode == 2 and "no method 'nobody'" in bad.stderr
    # a second run of "ours" on the same pairs, named apart, sits beside the first; unnamed, it is refused
    only_ours = tmp_path / "ours.csv"
    with only_ours.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(ev.PairScore.__dataclass_fields__))
        writer.writeheader()
        writer.writerows(vars(s) for s in scores if s.method == "ours")
    run = subprocess.run([sys.executable, str(script), str(tmp_path / "pairs.csv"), str(only_ours),
                          "--baseline", "peer"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 2 and "in more than one file" in run.stderr
    run = subprocess.run([sys.executable, str(script), str(tmp_path / "pairs.csv"), f"again={only_ours}",
                          "--baseline", "peer"], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    again = next(line for line in run.stdout.splitlines() if line.startswith("| again |"))
    assert again.split(" | ")[2] == "25.000x"
    assert "Pairs on which again beats peer" in run.stdout
