"""Hostile data through every data path: a corpus of broken, odd and extreme files
(``scripts/hostile_corpus.py``: truncated, text and PDF named .jpg, bombs, 16-bit, CMYK, palette, EXIF,
animated, 65535 x 1 and 20000 x 3 strips, ...) among photos in class folders, put through
``stylize-dataset`` (files and parquet), ``adain stylize`` and ``StyleAugment``: every good file
stylized at the size :mod:`adain_hub.input_plan` decides, every broken one named with its reason, the
same answer from both commands, a child process's peak memory bounded, and an input that kills its
process refused on the second rerun. On a tiny lite model and the test fixtures (no ../shared)."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, PngImagePlugin

from adain_hub import StyleAugment, Stylizer
from adain_hub.cli import main
from adain_hub.dataset_sources import center_crop
from adain_hub.images import ImageError, load_image
from adain_hub.in_flight import DIED_TWICE, InFlight, read_deaths, record_path
from adain_hub.input_plan import Budget, Header, network_plan, plan_header, plan_input
from adain_hub.manifest import MANIFEST
from adain_hub.stylize_dataset import DatasetOptions, stylize_dataset

from .conftest import FIXTURES, ROOT
from .test_stylize_dataset import bank, model, model_dir  # noqa: F401 (the same tiny lite model and bank)

_spec = importlib.util.spec_from_file_location("hostile_corpus", ROOT / "scripts" / "hostile_corpus.py")
hostile_corpus = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(hostile_corpus)

PHOTOS = [FIXTURES / name for name in ("chelsea.png", "rocket.jpg", "coffee.png", "astronaut.png")]
KINDS = [k for k in hostile_corpus.KINDS if not k.startswith("big_")]  # 12 Mpx: for the docs' measurement
EXTREME = {  # file -> its upright size: what the cap of 64 makes of it, and of size 0
    "strip_65535x1.png": (65535, 1), "tower_1x65535.png": (1, 65535), "strip_20000x3.png": (20000, 3),
    "tower_3x20000.png": (3, 20000), "strip_8000x40.png": (8000, 40), "rotated_strip_4000x8.jpg": (8, 4000),
}
AT_64 = {"strip_65535x1.png": (64, 1), "tower_1x65535.png": (1, 64), "strip_20000x3.png": (64, 1),
         "tower_3x20000.png": (1, 64), "strip_8000x40.png": (64, 1), "rotated_strip_4000x8.jpg": (1, 64),
         "icon_16x16.png": (16, 16), "pixel_1x1.png": (1, 1)}


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: a tiny model on small images gains nothing from more, and on a busy CPU two
    spinning threads made each call of this module take a second instead of a millisecond."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def paintings(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("paintings")
    for name in ["brick.png", "gravel.png"]:
        shutil.copy(FIXTURES / name, folder / name)
    return folder


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, bool]]:
    """6 photos and 49 hostile files in three class folders; each file's path and whether it is good."""
    folder = tmp_path_factory.mktemp("corpus") / "src"
    return folder, hostile_corpus.write_corpus(folder, PHOTOS, count=6, only=KINDS)


def manifest(out: Path) -> dict[str, dict]:
    with open(out / MANIFEST, newline="") as fh:
        return {row["source"]: row for row in csv.DictReader(fh)}


def expected_size(src: Path, size: int) -> tuple[int, int]:
    """The output size from the file itself, worked out here: upright, longer side capped, at least 1 px."""
    name = src.name
    if name in AT_64 and size == 64:
        return AT_64[name]
    if name in EXTREME:
        return EXTREME[name]
    with Image.open(src) as img:
        w, h = img.size
        if img.getexif().get(0x0112) in (6, 8):
            w, h = h, w
    scale = min(1.0, size / max(w, h)) if size else 1.0
    return (w, h) if scale == 1.0 else (max(1, round(w * scale)), max(1, round(h * scale)))


def run_dataset(model, bank, src: Path, out: Path, budget: float = 2048, **options):
    stylizer = Stylizer(model, backend="fp32", cache_size=0, memory_budget=budget)
    return stylize_dataset(src, out, stylizer, bank, DatasetOptions(**options), model_id="tiny")


@pytest.fixture(scope="module")
def at_64(corpus, model, bank, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("at_64") / "out"
    run_dataset(model, bank, corpus[0], out, size=64)
    return out


# -- the rule ---------------------------------------------------------------------------------------
def test_extreme_aspect_ratios_keep_the_cap_and_are_padded_not_enlarged():
    budget = Budget(2048, 208.0)  # the bundled lite model through OpenVINO
    plan = plan_header(Header(65535, 1), budget, 256)
    assert plan.output == (256, 1) and plan.network.scaled == (256, 1) and plan.network.padded == (256, 32)
    own = plan_header(Header(65535, 1), budget, 0)  # its own size: 65535 x 32 mirrored, never 2,097,120 x 32
    assert own.output == (65535, 1) and own.network.padded == (65535, 32) and own.network.tile is None
    assert own.megabytes < 600
    assert plan_header(Header(20000, 3), budget, 256).network.padded == (256, 32)
    assert network_plan(16, 16).padded == (32, 32) == network_plan(16, 16).scaled  # an icon is enlarged
    assert network_plan(20, 10).scaled == (32, 16) and network_plan(20, 10).padded == (32, 32)
    starved = plan_header(Header(65535, 1), Budget(40, 80.0), 0)
    assert starved.reason.startswith("cannot stylize (") and "memory budget of 40 MB" in starved.reason
    whole_only = plan_header(Header(4000, 3000), Budget(2048, 208.0, tiles=False), 0)
    assert "runs whole here" in whole_only.reason
    deep = plan_header(Header(9000, 8000, "I;16"), budget, 512)  # 72 Mpx of 16-bit: its decoding is over 2 GB
    assert deep.reason.startswith("cannot stylize (decoding a 9000x8000 I;16 image")


def test_padding_mirrors_the_image_and_crops_back_exactly():
    net = network_plan(40, 1)
    row = np.arange(40 * 3, dtype=np.uint8).reshape(1, 40, 3)
    padded = net.pad(row)
    assert padded.shape == (32, 40, 3) and net.padding == (15, 16, 0, 0)
    top, _, left, _ = net.padding
    assert np.array_equal(padded[top:top + 1, left:left + 40], row)
    assert all(np.array_equal(r, padded[top]) for r in padded)  # a 1 px side: every row the same
    t = torch.from_numpy(padded).permute(2, 0, 1)[None].float()
    assert torch.equal(net.crop(t), torch.from_numpy(row).permute(2, 0, 1)[None].float())
    assert torch.equal(net.pad(torch.from_numpy(row).permute(2, 0, 1)[None].float()), t)


def test_a_strip_is_centre_cropped_without_resizing_it_whole():
    strip = Image.new("RGB", (65535, 1), (200, 30, 90))  # whole: 16,776,960 x 256 first
    assert center_crop(strip, 224).size == (224, 224)
    photo = Image.open(FIXTURES / "chelsea.png").convert("RGB")
    assert center_crop(photo, 224).size == (224, 224)


def test_the_header_decides_before_anything_is_decoded(corpus):
    src, _ = corpus
    bomb = next(src.rglob("bomb_9000x9000.png"))
    plan = plan_input(bomb, Budget(2048, 80.0))
    assert plan.reason == "image is too large (9000x9000 pixels, limit 80,000,000)"
    rotated = next(src.rglob("rotated_strip_4000x8.jpg"))
    assert plan_input(rotated, Budget(2048, 80.0), 64).output == (1, 64)  # the EXIF turn, from the header
    with pytest.raises(ImageError, match="not an image"):
        plan_input(next(src.rglob("document.jpg")), Budget(2048, 80.0))


# -- stylize-dataset ----------------------------------------------------------------------------------
def test_stylize_dataset_writes_every_good_file_and_names_every_broken_one(corpus, at_64):
    src, good = corpus
    rows = manifest(at_64)
    assert set(rows) == set(good)
    for rel, ok in good.items():
        row = rows[rel]
        if ok:
            assert not row["reason"], (rel, row["reason"])
            with Image.open(at_64 / row["output"]) as out:
                assert out.size == expected_size(src / rel, 64), rel
        else:
            assert row["reason"] and not row["output"], rel
    assert "too large" in rows[next(r for r in good if r.endswith("bomb_30000x30000.png"))]["reason"]
    assert "truncated" in rows[next(r for r in good if r.endswith("truncated_half.jpg"))]["reason"]


def test_stylize_dataset_to_parquet_holds_the_same(corpus, at_64, model, bank, tmp_path):
    import pyarrow.parquet as pq

    src, good = corpus
    out = tmp_path / "parquet"
    summary = run_dataset(model, bank, src, out, size=64, to_dataset=True, shard_size=16)
    assert summary.total_refused == sum(not ok for ok in good.values())
    sizes = {}
    for shard in sorted((out / "data").glob("*.parquet")):
        for row in pq.read_table(shard).to_pylist():
            with Image.open(__import__("io").BytesIO(row["image"]["bytes"])) as img:
                sizes[row["source"]] = img.size
    files = manifest(at_64)
    assert sizes == {rel: Image.open(at_64 / files[rel]["output"]).size for rel, ok in good.items() if ok}
    assert {r: row["reason"] for r, row in manifest(out).items() if row["reason"]} == \
        {r: row["reason"] for r, row in files.items() if row["reason"]}


@pytest.mark.slow
def test_the_command_at_own_size_stays_small_and_a_rerun_writes_nothing(corpus, model_dir, paintings, tmp_path):
    src, good = corpus
    out = tmp_path / "out"
    command = [sys.executable, "-m", "adain_hub.cli", "stylize-dataset", str(src), str(out), "--styles",
               str(paintings), "--model", str(model_dir), "--backend", "fp32", "--device", "cpu", "--size", "0"]

    def measured() -> tuple[int, float, str]:
        """Exit status, peak RSS (GiB) of the child process alone, and its stderr."""
        with open(tmp_path / "err.txt", "w") as err:
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err,
                                    env=dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1"))
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
        return proc.returncode, usage.ru_maxrss / 2**20, (tmp_path / "err.txt").read_text()

    code, peak, err = measured()
    print(f"peak RSS {peak:.2f} GiB")
    assert code == 1 and "Traceback" not in err and "Warning" not in err  # refusals: 1
    assert peak < 3.0  # issue 31's mark; the 65535 x 1 strip once ran at 2,097,120 x 32 (9.9 GiB with the real model)
    rows = manifest(out)
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == sum(not ok for ok in good.values())
    for rel, ok in good.items():
        if ok:
            with Image.open(out / rows[rel]["output"]) as img:
                assert img.size == expected_size(src / rel, 0), rel
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    code, _, err = measured()
    assert code == 1 and "this run wrote 0 (" in err.splitlines()[-1]
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == before


# -- adain stylize gives the same answer --------------------------------------------------------------
@pytest.mark.parametrize("size, budget", [(64, 2048), (0, 40)])
def test_adain_stylize_and_stylize_dataset_give_the_same_answer(corpus, model, model_dir, bank, capsys,
                                                                tmp_path, size, budget):
    src, good = corpus
    out = tmp_path / "dataset"
    run_dataset(model, bank, src, out, budget=budget, size=size)
    rows = manifest(out)
    if budget == 40:  # the 65535 x 32 run of a strip does not fit 40 MB, even in tiles: both refuse it
        assert rows["a/strip_65535x1.png"]["reason"].startswith("cannot stylize (a 65536x32 photo needs")
    for i, rel in enumerate(sorted(good)):
        folder = tmp_path / "cli" / str(i)
        code = main(["stylize", str(src / rel), "--style", str(FIXTURES / "brick.png"), "--backend", "fp32",
                     "--model", str(model_dir), "--out", str(folder), "--size", str(size),
                     "--memory-budget", str(budget)])
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        row = rows[rel]
        if row["reason"]:
            assert code == 1 and err == [f"error: {src / rel}: {row['reason']}"], rel
        else:
            assert code == 0 and not err, (rel, err)
            with Image.open(folder / (Path(rel).stem + ".png")) as mine, Image.open(out / row["output"]) as theirs:
                assert mine.size == theirs.size, rel


# -- a process that dies on an input ------------------------------------------------------------------
KILLER = '''
import os, signal, sys
from PIL import ImageFile

_load = ImageFile.ImageFile.load


def load(self):  # a decoder that crashes the process on this one file, as a segfault would
    if self.info.get("adain-test") == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    return _load(self)


ImageFile.ImageFile.load = load
from adain_hub.cli import main

sys.exit(main(sys.argv[1:]))
'''


@pytest.mark.slow
def test_an_input_that_kills_the_process_is_refused_on_the_second_rerun(model_dir, paintings, tmp_path):
    src = tmp_path / "src"
    info = PngImagePlugin.PngInfo()
    info.add_text("adain-test", "kill")
    killer = Image.open(FIXTURES / "coffee.png").convert("RGB")
    photos = hostile_corpus.write_corpus(src, PHOTOS, count=6, only=["strip_20000x3.png", "cmyk.jpg"])
    killer.save(src / "b" / "killer.png", pnginfo=info)
    driver = tmp_path / "driver.py"
    driver.write_text(KILLER)
    out = tmp_path / "out"
    command = [sys.executable, str(driver), "stylize-dataset", str(src), str(out), "--styles", str(paintings),
               "--model", str(model_dir), "--backend", "fp32", "--device", "cpu", "--size", "64"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))

    def run() -> subprocess.CompletedProcess:
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)

    first = run()
    assert first.returncode == -9  # killed with several inputs in flight
    assert read_deaths(out).get("b/killer.png") == 1
    second = run()  # the others first, then each suspect alone: it kills the process again, alone
    assert second.returncode == -9
    assert read_deaths(out)["b/killer.png"] == 2
    third = run()
    assert third.returncode == 1, third.stderr[-2000:]
    assert f"error: {src / 'b' / 'killer.png'}: {DIED_TWICE}" in third.stderr
    rows = manifest(out)
    assert rows["b/killer.png"]["reason"] == DIED_TWICE
    assert all(rows[rel]["output"] for rel in photos)  # everything else written
    assert read_deaths(out) == {"b/killer.png": 2}  # and so it stays: the next run refuses it unopened


def test_the_in_flight_record_counts_deaths_and_clears_innocent_suspects(tmp_path):
    record = InFlight(tmp_path, 0, {})
    record.start("a.png")
    record.start("b.png")
    record.done("a.png")
    # killed here: b.png in flight; a second process's record carries nothing in flight
    InFlight(tmp_path, 1, {}).close()
    deaths = read_deaths(tmp_path)
    assert deaths == {"b.png": 1}
    again = InFlight(tmp_path, 0, deaths)
    assert again.suspect("b.png") and not again.died_twice("b.png")
    jobs, aside = again.split(["a.png", "b.png", "c.png"], lambda s: s)
    assert list(jobs) == ["a.png", "c.png"] and aside == ["b.png"]
    again.start("b.png")
    again.done("b.png")  # it got through alone: not the killer
    again.close()
    assert read_deaths(tmp_path) == {}
    with open(record_path(tmp_path, 0), "a") as fh:  # a kill mid-line leaves a torn line: skipped
        fh.write(json.dumps({"start": "c.png"}) + "\n" + '{"sta')
    assert read_deaths(tmp_path) == {"c.png": 1}


# -- StyleAugment -------------------------------------------------------------------------------------
def test_style_augment_takes_every_good_file_and_refuses_non_finite_batches(corpus, model, bank):
    src, good = corpus
    augment = StyleAugment(model, bank, p=1.0, seed=0, backend="fp32")
    for rel, ok in sorted(good.items()):
        if not ok:
            continue
        w, h = expected_size(src / rel, 64)
        x = torch.from_numpy(np.array(load_image(src / rel, min_side=1).resize((w, h)))).permute(2, 0, 1)
        y = augment(x)
        assert y.shape == x.shape and y.dtype == torch.uint8, rel
    batch = torch.rand(2, 3, 40, 52)
    batch[0, 1, 3, 4] = float("nan")
    batch[1, 0, :2, :3] = float("inf")
    with pytest.raises(ValueError, match="7 NaN or infinite values"):
        augment(batch)
    strips = torch.rand(2, 3, 1, 300)  # padded to 32 rows, never enlarged: the same shape back
    assert augment(strips).shape == strips.shape and torch.isfinite(augment(strips)).all()
    small = StyleAugment(model, bank, p=1.0, seed=0, backend="fp32", memory_budget=1)
    with pytest.raises(ValueError, match="over the memory budget of 1 MB"):
        small(torch.rand(1, 3, 512, 512))


# -- the app and video: the same rule at their call sites ---------------------------------------------
def test_a_video_whose_frames_do_not_fit_the_budget_is_refused_before_any_frame(model, tmp_path):
    from adain_hub.video import VideoError, stylize_video

    from .test_benchmarks import load

    clips = load("bench_video")
    src = clips.write_clip(tmp_path / "clip.mp4", clips.pan_clip(130, 86, frames=4), fps=24)
    with pytest.raises(VideoError, match=r"clip.mp4: cannot stylize \(.*over the memory budget of 1 MB"):
        stylize_video(Stylizer(model, backend="fp32", memory_budget=1), src, FIXTURES / "brick.png",
                      tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_the_app_refuses_from_the_header_in_the_same_words(corpus, model):
    gr = pytest.importorskip("gradio")
    import app

    src, _ = corpus
    stylize = app.make_stylize_fn(Stylizer(model, backend="fp32", memory_budget=40))
    strip = str(next(src.rglob("strip_65535x1.png")))
    with pytest.raises(gr.Error) as refused:
        stylize(strip, str(FIXTURES / "brick.png"), size=app.ORIGINAL)
    assert refused.value.message.startswith("Content photo: cannot stylize (a 65536x32 photo needs about")
    assert stylize(strip, str(FIXTURES / "brick.png"), size=256).size == (256, 1)
