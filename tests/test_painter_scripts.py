"""The scripts behind docs/finetune.md's measurements: picking a painter's works (scripts/pick_painter_works.py)
and splitting a style loss by layer (scripts/style_layers.py)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import torch
from PIL import Image

from adain_hub import AdaIN, AdaINConfig, Stylizer
from adain_hub import evaluation as ev
from adain_hub.backends import cpu_has_bf16
from adain_hub.images import fit

from .conftest import FIXTURES, ROOT, TINY, responsive


def _git(repo, *args) -> None:
    subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)


def test_picked_works_are_reproducible_keep_versions_together_and_leave_out_shared_and_grey(tmp_path):
    repo, shared = tmp_path / "wikiart", tmp_path / "shared"
    (repo / "Rococo").mkdir(parents=True)
    (shared / "style").mkdir(parents=True)
    rng = np.random.default_rng(0)
    titles = [f"work-{chr(97 + i)}" for i in range(12)]
    for title in titles:  # two versions of each title, colourful
        for version in ("", "-2"):
            pixels = rng.integers(0, 255, (24, 24, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(repo / "Rococo" / f"painter-x_{title}{version}.jpg")
    Image.new("RGB", (24, 24), (90, 90, 90)).save(repo / "Rococo" / "painter-x_grey-study-1750.jpg")
    Image.new("RGB", (24, 24), (200, 10, 10)).save(repo / "Rococo" / "painter-y_other-painter.jpg")
    Image.new("RGB", (24, 24), (0, 200, 10)).save(shared / "style" / "painter-x_work-a-1751.jpg")  # in ../shared
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "paintings")
    script = ROOT / "scripts" / "pick_painter_works.py"

    def pick(out):
        cmd = [sys.executable, str(script), str(repo / ".git"), "Rococo/painter-x", str(out), "--shared", str(shared),
               "--train", "6", "--heldout", "3"]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        assert result.returncode == 0, result.stderr
        return {split: sorted(p.name for p in (out / split).iterdir()) for split in ("train", "heldout")}

    first, second = pick(tmp_path / "a"), pick(tmp_path / "b")
    assert first == second and len(first["train"]) == 6 and len(first["heldout"]) == 3
    chosen = first["train"] + first["heldout"]
    assert all(name.startswith("painter-x_") for name in chosen)  # one painter
    assert not any(name.startswith("painter-x_work-a") or "grey" in name for name in chosen)
    train_titles = {name.removesuffix(".jpg").removesuffix("-2") for name in first["train"]}
    assert not train_titles & {name.removesuffix(".jpg").removesuffix("-2") for name in first["heldout"]}
    assert len({name.removesuffix(".jpg").removesuffix("-2") for name in chosen}) == len(chosen)  # one file a title
    too_many = subprocess.run([sys.executable, str(script), str(repo / ".git"), "Rococo/painter-x", str(tmp_path / "c"),
                               "--shared", str(shared), "--train", "10", "--heldout", "5"], capture_output=True, text=True,
                              check=False)
    assert too_many.returncode != 0 and "11 candidates, 15 needed" in too_many.stderr


def test_style_layers_add_up_to_the_judges_style_loss(tmp_path):
    torch.manual_seed(0)
    judge_dir, model_dir = tmp_path / "judge", tmp_path / "lite"
    AdaIN(TINY).save_pretrained(judge_dir)
    responsive(AdaIN(AdaINConfig(architecture="lite", channels=(8, 16)))).save_pretrained(model_dir)
    folders = {"contents": ("astronaut.png", "coffee.png"), "styles": ("rocket.jpg", "brick.png")}
    for sub, names in folders.items():
        (tmp_path / sub).mkdir()
        for name in names:
            Image.open(FIXTURES / name).convert("RGB").resize((96, 72)).save(tmp_path / sub / f"{name}.png")
    cmd = [sys.executable, str(ROOT / "scripts" / "style_layers.py"), "--contents", str(tmp_path / "contents"),
           "--styles", str(tmp_path / "styles"), "--model", f"lite={model_dir}", "--judge", str(judge_dir),
           "--size", "64"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    row = next(line for line in result.stdout.splitlines() if line.startswith("| lite |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    layers = [tuple(float(v) for v in c.split(" / ")) for c in cells[1:5]]
    total, content = float(cells[5]), float(cells[6])
    assert abs(sum(m + s for m, s in layers) - total) < 1e-3 * total and all(m > 0 and s > 0 for m, s in layers)

    # the same pairs scored as adain eval scores them: its style loss is the layers' sum
    judge = ev.Judge(AdaIN.from_pretrained(judge_dir), 64, torch.bfloat16 if cpu_has_bf16() else torch.float32)
    stylizer = Stylizer(AdaIN.from_pretrained(model_dir), backend="fp32", size=64, style_size=64, cache_size=0)
    photos = [judge.reference(n, im) for n, im in ev.load_folder(tmp_path / "contents", size=64)[0]]
    paintings = [judge.reference(n, im) for n, im in ev.load_folder(tmp_path / "styles", size=64)[0]]
    scores = [judge.score(fit(stylizer.stylize(p.image, s.image), p.image.size), p, s) for p in photos for s in paintings]
    assert np.isclose(total, np.mean([s["style_loss"] for s in scores]), rtol=1e-2)
    assert np.isclose(content, np.mean([s["content_loss"] for s in scores]), rtol=1e-2)
