"""``adain stylize-dataset`` / ``stylize_dataset``: the source's tree mirrored, styles and alphas that
depend only on (seed, path, version), a run split over processes equal to one process, resuming after
an interruption (and a kill -9) without redoing anything, bad files refused and listed, parquet output
that ``load_dataset`` reads with its labels, and the command's exit codes. On a tiny lite model."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain_hub import AdaIN, AdaINConfig
from adain_hub.cli import main
from adain_hub.dataset_sources import center_crop, output_bases, safe_relative
from adain_hub.images import output_size
from adain_hub.manifest import MANIFEST
from adain_hub.style_bank import StyleBank
from adain_hub.stylize_dataset import DatasetOptions, assign, stylize_dataset
from adain_hub.stylizer import Stylizer

from .conftest import FIXTURES, responsive

TREE = {  # relative path -> fixture: two class folders, one with a sub-folder
    "cat/chelsea.png": "chelsea.png",
    "cat/coffee.png": "coffee.png",
    "dog/rocket.jpg": "rocket.jpg",
    "dog/astronaut.png": "astronaut.png",
    "dog/puppies/gravel.png": "gravel.png",
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_lite")
    torch.manual_seed(0)
    responsive(AdaIN(AdaINConfig(architecture="lite", channels=(4, 8)))).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def model(model_dir) -> AdaIN:
    return AdaIN.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def bank(model) -> StyleBank:
    return StyleBank.from_images(model, FIXTURES, size=64, backend="fp32")


@pytest.fixture(scope="module")
def paintings(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("paintings")
    for name in ["brick.png", "gravel.png", "coffee.png"]:
        shutil.copy(FIXTURES / name, folder / name)
    return folder


@pytest.fixture
def src(tmp_path) -> Path:
    folder = tmp_path / "src"
    for rel, fixture in TREE.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / fixture, folder / rel)
    return folder


def stylizer(model: AdaIN) -> Stylizer:
    return Stylizer(model, backend="fp32", cache_size=0)


def run(model, bank, src, out, **options) -> object:
    options.setdefault("size", 64)
    return stylize_dataset(src, out, stylizer(model), bank, DatasetOptions(**options), model_id="tiny")


def images_in(folder: Path) -> dict[str, np.ndarray]:
    """Every image file under ``folder`` by relative path (hidden files included), as pixels."""
    return {p.relative_to(folder).as_posix(): np.asarray(Image.open(p).convert("RGB"))
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix in (".png", ".jpg", ".webp")}


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(((a.astype(np.float64) - b.astype(np.float64)) ** 2).mean())
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def manifest(out: Path) -> list[dict]:
    with open(out / MANIFEST, newline="") as fh:
        return list(csv.DictReader(fh))


def stamps(folder: Path) -> dict[str, tuple[int, int]]:
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in folder.rglob("*.png")}


# -- structure, names, geometry -----------------------------------------------------------------
def test_outputs_mirror_the_source_tree_and_names(model, bank, src, tmp_path):
    out = tmp_path / "out"
    summary = run(model, bank, src, out)
    expected = {str(Path(rel).with_suffix(".png")) for rel in TREE}
    assert set(images_in(out)) == expected
    for rel in TREE:
        written = Image.open(out / Path(rel).with_suffix(".png"))
        assert written.format == "PNG" and written.size == output_size(*Image.open(src / rel).size, 64)
    rows = manifest(out)
    assert [(r["source"], r["output"], r["k"]) for r in rows] == \
        [(rel, str(Path(rel).with_suffix(".png")), "0") for rel in sorted(TREE)]
    assert all(r["model"] == "tiny" and r["model_fingerprint"] == model.fingerprint() and not r["reason"]
               for r in rows)
    assert summary.written == summary.total_outputs == len(TREE) and summary.total_refused == 0

    several = tmp_path / "several"
    run(model, bank, src, several, per_image=3, format="jpg", quality=90)
    assert set(images_in(several)) == {str(Path(rel).with_suffix("")) + f"_{k}.jpg" for rel in TREE for k in range(3)}
    assert Image.open(several / "cat" / "chelsea_2.jpg").format == "JPEG"


def test_styles_and_alphas_are_a_function_of_seed_path_and_version(model, bank, src, tmp_path):
    out = tmp_path / "out"
    run(model, bank, src, out, per_image=2, alpha=(0.25, 0.75), seed=7)
    rows = manifest(out)
    for row in rows:
        style, alpha = assign(7, row["source"], int(row["k"]), len(bank), (0.25, 0.75))
        assert row["style"] == bank.names[style] and float(row["alpha"]) == alpha
    assert len({r["style"] for r in rows}) > 1 and all(0.25 <= float(r["alpha"]) <= 0.75 for r in rows)
    assert len({r["alpha"] for r in rows}) == len(rows)  # drawn per output
    other_seed = tmp_path / "seed8"
    run(model, bank, src, other_seed, per_image=2, alpha=(0.25, 0.75), seed=8)
    assert [r["alpha"] for r in manifest(other_seed)] != [r["alpha"] for r in rows]


def test_center_crop_is_torchvisions_resize_256_and_center_crop_224():
    from torchvision import transforms

    reference = transforms.Compose([transforms.Resize(256), transforms.CenterCrop(224)])
    for name in ["chelsea.png", "rocket.jpg", "gravel.png"]:
        img = Image.open(FIXTURES / name).convert("RGB")
        for picture in (img, img.transpose(Image.Transpose.ROTATE_90)):  # landscape and portrait
            ours = np.asarray(center_crop(picture, 224), dtype=np.int16)
            theirs = np.asarray(reference(picture), dtype=np.int16)
            assert ours.shape == (224, 224, 3) and np.abs(ours - theirs).max() <= 1


def test_center_crop_outputs_are_square(model, bank, src, tmp_path):
    out = tmp_path / "out"
    run(model, bank, src, out, center_crop=48, size=512)
    assert {im.shape for im in images_in(out).values()} == {(48, 48, 3)}


def test_names_that_collide_are_told_apart_deterministically():
    rels = ["a.jpg", "a.png", "A.gif", "b/a.jpg", "a_png.jpg", "c.tar.gz"]
    bases = output_bases(rels)
    assert bases == ["a", "a_png_2", "A_gif", "b/a", "a_png", "c.tar"]  # plain names first, in order
    assert len({b.casefold() for b in bases}) == len(bases)
    assert output_bases(list(reversed(rels))) != list(reversed(bases))  # it depends on the list: sorted by callers


def test_dataset_paths_cannot_leave_the_output_folder(tmp_path):
    root = tmp_path / "data"
    (root / "cat").mkdir(parents=True)
    assert safe_relative(str(root / "cat" / "x.jpg"), root.resolve()) == "cat/x.jpg"
    assert safe_relative("cat/x.jpg", None) == "cat/x.jpg"
    for bad in ["../x.jpg", "cat/../../x.jpg", "/etc/passwd", ".hidden/x.jpg", "C:/x.jpg", ""]:
        assert safe_relative(bad, root.resolve()) is None, bad


# -- determinism across batches and processes ---------------------------------------------------
def test_outputs_do_not_depend_on_the_batch(model, bank, src, tmp_path):
    one, seven = tmp_path / "one", tmp_path / "seven"
    run(model, bank, src, one, per_image=2, alpha=(0.5, 1.0), batch_size=1)
    run(model, bank, src, seven, per_image=2, alpha=(0.5, 1.0), batch_size=7, center_crop=None)
    a, b = images_in(one), images_in(seven)
    assert a.keys() == b.keys() and len(a) == 2 * len(TREE)
    assert min(psnr(a[k], b[k]) for k in a) >= 40
    assert manifest(one) == manifest(seven)


class Ranks:
    """Two simulated processes in threads: ``accelerate``'s ``PartialState`` as far as a run needs it."""

    def __init__(self, rank: int, world: int, barrier: threading.Barrier) -> None:
        self.process_index, self.num_processes, self.is_main_process = rank, world, rank == 0
        self.barrier = barrier

    def wait_for_everyone(self) -> None:
        self.barrier.wait(timeout=60)


def run_in_ranks(model, bank, src, out, world: int, **options) -> list:
    options.setdefault("size", 64)
    barrier = threading.Barrier(world)
    summaries, errors = [None] * world, []

    def one(rank: int) -> None:
        try:
            summaries[rank] = stylize_dataset(src, out, stylizer(model), bank, DatasetOptions(**options),
                                              model_id="tiny", processes=Ranks(rank, world, barrier))
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)
            barrier.abort()

    threads = [threading.Thread(target=one, args=(r,)) for r in range(world)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return summaries


def test_a_run_split_over_two_processes_equals_one_process(model, bank, src, tmp_path):
    single, split = tmp_path / "single", tmp_path / "split"
    run(model, bank, src, single, per_image=2, alpha=(0.3, 1.0), batch_size=3)
    summaries = run_in_ranks(model, bank, src, split, 2, per_image=2, alpha=(0.3, 1.0), batch_size=4)
    assert [s.images for s in summaries] == [3, 2]  # contiguous shares of the 5 sorted inputs
    assert sum(s.written for s in summaries) == 2 * len(TREE)  # each output written once
    a, b = images_in(single), images_in(split)
    assert a.keys() == b.keys() and min(psnr(a[k], b[k]) for k in a) >= 40
    assert manifest(single) == manifest(split)
    assert sorted(p.name for p in split.glob("manifest*")) == [MANIFEST]  # the parts are merged and gone


# -- resuming -----------------------------------------------------------------------------------
def test_a_rerun_writes_nothing_done_again_and_completes_the_rest(model, bank, src, tmp_path):
    out = tmp_path / "out"
    run(model, bank, src, out, per_image=2)
    reference = images_in(out)
    (out / "cat" / "coffee_1.png").unlink()  # as if the run had stopped before these
    (out / "dog" / "puppies" / "gravel_0.png").unlink()
    stale = out / "dog" / ".rocket_0.png.999.deadbeef.tmp"  # what a kill -9 leaves mid-write
    stale.write_bytes(b"half a png")
    (out / MANIFEST).unlink()
    before = stamps(out)
    time.sleep(0.01)
    summary = run(model, bank, src, out, per_image=2)
    assert summary.written == 2 and summary.already_done == 2 * len(TREE) - 2
    after = stamps(out)
    assert all(after[k] == v for k, v in before.items())  # untouched: same inode, same mtime
    assert images_in(out).keys() == reference.keys() and not stale.exists()
    assert min(psnr(images_in(out)[k], reference[k]) for k in reference) >= 40
    rows = manifest(out)
    assert len(rows) == 2 * len(TREE) and len({r["output"] for r in rows}) == len(rows)


def test_a_rerun_with_other_settings_is_refused(model, bank, src, tmp_path):
    out = tmp_path / "out"
    run(model, bank, src, out, seed=1)
    with pytest.raises(ValueError, match="another job .*seed"):
        run(model, bank, src, out, seed=2)
    run(model, bank, src, out, seed=1, batch_size=3)  # batching is not a setting of the outputs


@pytest.mark.slow
def test_kill_9_mid_run_then_the_same_command_completes_it(model_dir, paintings, tmp_path):
    src = tmp_path / "src"
    for i in range(120):
        (src / f"c{i % 3}").mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / "coffee.png", src / f"c{i % 3}" / f"{i:03d}.png")
    out = tmp_path / "out"
    command = [sys.executable, "-m", "adain_hub.cli", "stylize-dataset", str(src), str(out), "--styles", str(paintings),
               "--model", str(model_dir), "--backend", "fp32", "--device", "cpu", "--size", "256", "--batch-size", "2"]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.rglob("*.png"))) < 10 and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = stamps(out)
    assert 10 <= len(done) < 120, "the run was not killed in the middle"
    print(f"killed with {len(done)} of 120 outputs written")
    for path in done:
        Image.open(out / path).load()  # every file present is whole
    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr[-2000:]
    after = stamps(out)
    assert len(after) == 120 and all(after[k] == v for k, v in done.items())
    assert not list(out.rglob("*.tmp"))
    for path in after:
        Image.open(out / path).load()
    assert len(manifest(out)) == 120
    assert f"this run wrote {120 - len(done)} ({len(done)} already there" in finished.stderr.splitlines()[-1]


# -- bad inputs ---------------------------------------------------------------------------------
def test_bad_files_are_refused_named_and_listed_and_the_rest_written(capsys, model_dir, paintings, src, tmp_path):
    bad = {"cat/notes.jpg": b"shopping list: eggs, milk\n", "dog/empty.png": b"",
           "dog/cut.jpg": (FIXTURES / "rocket.jpg").read_bytes()[:3000]}
    for rel, data in bad.items():
        (src / rel).write_bytes(data)
    out = tmp_path / "out"
    code, err = cli(capsys, src, out, "--styles", paintings, "--model", model_dir)
    assert code == 1
    errors = [line for line in err if line.startswith("error: ")]
    assert sorted(errors) == sorted(f"error: {src / rel}: {reason}" for rel, reason in [
        ("cat/notes.jpg", "not an image, or a damaged or unsupported one"),
        ("dog/empty.png", "not an image, or a damaged or unsupported one"),
        ("dog/cut.jpg", next(r["reason"] for r in manifest(out) if r["source"] == "dog/cut.jpg")),
    ])
    assert "truncated" in next(r["reason"] for r in manifest(out) if r["source"] == "dog/cut.jpg")
    assert set(images_in(out)) == {str(Path(rel).with_suffix(".png")) for rel in TREE}
    refused = {r["source"] for r in manifest(out) if r["reason"]}
    assert refused == set(bad) and all(not r["output"] for r in manifest(out) if r["reason"])
    assert "3 input(s) refused" in err[-1]


# -- parquet and datasets sources ---------------------------------------------------------------
def test_to_dataset_loads_with_its_labels_and_resumes_by_shard(model, bank, src, tmp_path):
    import datasets

    (src / "dog" / "notes.jpg").write_bytes(b"not a photo")
    out = tmp_path / "out"
    summary = run(model, bank, src, out, to_dataset=True, shard_size=2, per_image=2, center_crop=32)
    shards = sorted((out / "data").glob("*.parquet"))
    assert [p.name for p in shards] == ["train-00000.parquet", "train-00001.parquet", "train-00002.parquet"]
    cache = str(tmp_path / "cache")
    for loaded in (datasets.load_dataset(str(out), split="train", cache_dir=cache),
                   datasets.load_dataset("parquet", data_dir=str(out / "data"), split="train", cache_dir=cache)):
        assert loaded.features["label"].names == ["cat", "dog"]
        assert len(loaded) == 2 * len(TREE)
        for row in loaded:
            assert loaded.features["label"].int2str(row["label"]) == row["source"].split("/")[0]
            assert row["image"].size == (32, 32)
        first = loaded[0]
        style, alpha = assign(0, first["source"], first["k"], len(bank), (1.0, 1.0))
        assert first["style"] == bank.names[style] and first["alpha"] == alpha
    assert summary.total_refused == 1
    before = {p.name: p.stat().st_mtime_ns for p in shards}
    (out / "data" / "train-00001.parquet").unlink()
    again = run(model, bank, src, out, to_dataset=True, shard_size=2, per_image=2, center_crop=32)
    # shard 1 (dog/astronaut.png, dog/notes.jpg) redone; shard 0 and 2 kept; the refusal still listed
    assert again.written == 2 and again.total_refused == 1
    after = {p.name: p.stat().st_mtime_ns for p in (out / "data").glob("*.parquet")}
    assert after["train-00000.parquet"] == before["train-00000.parquet"]
    assert after["train-00002.parquet"] == before["train-00002.parquet"]
    assert len(manifest(out)) == 2 * len(TREE) + 1
    # another dataset in a folder of the same name loads its own rows, not the first one's cached ones
    other = tmp_path / "elsewhere" / "out"
    run(model, bank, src, other, to_dataset=True, per_image=1, center_crop=32)
    assert len(datasets.load_dataset(str(other), split="train", cache_dir=cache)) == len(TREE)


def test_a_datasets_source_keeps_its_columns_and_names(model, bank, src, tmp_path):
    import datasets

    shutil.rmtree(src / "dog" / "puppies")  # imagefolder labels only files all at one depth
    tree = [rel for rel in TREE if "puppies" not in rel]
    files = tmp_path / "files"
    run(model, bank, src, files, use_datasets=True)  # read by datasets' imagefolder, written as files
    assert set(images_in(files)) == {str(Path(rel).with_suffix(".png")) for rel in tree}
    shards = tmp_path / "shards"
    run(model, bank, src, shards, use_datasets=True, to_dataset=True)
    loaded = datasets.load_dataset(str(shards), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.features["label"].names == ["cat", "dog"] and len(loaded) == len(tree)
    assert sorted(loaded["source"]) == sorted(tree)
    assert [loaded.features["label"].int2str(x) for x in loaded["label"]] == [s.split("/")[0] for s in loaded["source"]]
    walked = tmp_path / "walked"
    run(model, bank, src, walked)
    a, b = images_in(files), images_in(walked)
    assert min(psnr(a[k], b[k]) for k in a) >= 40  # the same outputs whichever way the folder is read


# -- the command --------------------------------------------------------------------------------
def cli(capsys, *args) -> tuple[int, list[str]]:
    argv = ["stylize-dataset", *map(str, args), "--backend", "fp32", "--device", "cpu", "--size", "64"]
    try:
        code = main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.strip()]


def test_the_command_writes_a_tree_and_a_manifest(capsys, model_dir, paintings, src, tmp_path):
    out = tmp_path / "out"
    code, err = cli(capsys, src, out, "--styles", paintings, "--model", model_dir, "--per-image", "2",
                    "--alpha", "0.5", "1")
    assert code == 0
    assert len(images_in(out)) == 2 * len(TREE) and len(manifest(out)) == 2 * len(TREE)
    assert {r["style"] for r in manifest(out)} <= {"brick", "gravel", "coffee"}
    assert err[-1].startswith(f"{out}: {2 * len(TREE)} output(s) in the manifest; this run wrote {2 * len(TREE)}")
    code, err = cli(capsys, src, out, "--styles", paintings, "--model", model_dir, "--per-image", "2",
                    "--alpha", "0.5", "1")
    assert code == 0 and f"this run wrote 0 ({2 * len(TREE)} already there" in err[-1]


@pytest.mark.parametrize("flags, phrase", [
    (["--alpha", "1.5"], "alpha must be in [0, 1]"),
    (["--alpha", "0.8", "0.2"], "LO is above HI"),
    (["--alpha", "0.1", "0.2", "0.3"], "--alpha takes A or LO HI"),
    (["--quality", "0"], "quality must be in 1..100"),
    (["--per-image", "0"], "per-image must be at least 1"),
    (["--center-crop", "224", "--size", "256"], "cannot be combined"),
])
def test_bad_flags_exit_2_with_one_line(capsys, model_dir, paintings, src, tmp_path, flags, phrase):
    argv = ["stylize-dataset", str(src), str(tmp_path / "out"), "--styles", str(paintings), "--model",
            str(model_dir), *flags]
    code = main(argv)
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and phrase in err[0]
    assert not (tmp_path / "out").exists()


def test_missing_source_file_out_and_missing_styles_exit_2(capsys, model_dir, paintings, src, tmp_path):
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    for args, phrase in [((tmp_path / "nowhere", tmp_path / "out"), "no such folder"),
                         ((src, a_file), "OUT must be a folder"),
                         ((src, tmp_path / "out", "--styles", tmp_path / "nope"), "no such folder or style bank")]:
        argv = ["stylize-dataset", *map(str, args), "--model", str(model_dir)]
        if "--styles" not in argv:
            argv += ["--styles", str(paintings)]
        code = main(argv)
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert code == 2 and len(err) == 1 and phrase in err[0], err


def test_a_model_without_a_bank_needs_styles(capsys, model_dir, src, tmp_path):
    code, err = cli(capsys, src, tmp_path / "out", "--model", model_dir)
    assert code == 1 and len(err) == 1 and "no style bank" in err[0] and "--styles" in err[0]


def test_a_style_bank_file_is_taken_and_another_encoders_refused(capsys, model, model_dir, bank, src, tmp_path):
    path = bank.save(tmp_path / "bank.safetensors")
    out = tmp_path / "out"
    code, _ = cli(capsys, src, out, "--styles", path, "--model", model_dir)
    assert code == 0 and {r["style"] for r in manifest(out)} <= set(bank.names)
    torch.manual_seed(1)
    other = AdaIN(AdaINConfig(architecture="lite", channels=(4, 8)))
    StyleBank.from_images(other, [FIXTURES / "brick.png"], size=64, backend="fp32").save(tmp_path / "other.safetensors")
    code, err = cli(capsys, src, tmp_path / "out2", "--styles", tmp_path / "other.safetensors", "--model", model_dir)
    assert code == 1 and "another encoder" in err[0]


@pytest.mark.slow
def test_torchrun_two_processes_write_exactly_what_one_writes(model_dir, paintings, src, tmp_path):
    adain, torchrun = shutil.which("adain"), shutil.which("torchrun")
    if not adain or not torchrun:
        pytest.skip("needs the adain console script and torchrun on PATH")
    flags = ["--styles", str(paintings), "--model", str(model_dir), "--backend", "fp32", "--size", "64",
             "--per-image", "2", "--alpha", "0.4", "1", "--seed", "5"]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    one = subprocess.run([adain, "stylize-dataset", str(src), str(tmp_path / "one"), *flags], env=env,
                         capture_output=True, text=True, timeout=300)
    two = subprocess.run([torchrun, "--nproc_per_node", "2", "--master_port", "29517", "--no-python", "adain",
                          "stylize-dataset", str(src), str(tmp_path / "two"), *flags], env=env,
                         capture_output=True, text=True, timeout=300)
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-2000:]
    assert "by process 0 of 2" in two.stderr
    a, b = images_in(tmp_path / "one"), images_in(tmp_path / "two")
    assert a.keys() == b.keys() and len(a) == 2 * len(TREE) and min(psnr(a[k], b[k]) for k in a) >= 40
    assert manifest(tmp_path / "one") == manifest(tmp_path / "two")


def test_size_0_keeps_each_photo_whole_and_tiles_those_over_the_budget(model, bank, src, tmp_path):
    def at_own_size(out: Path, budget: float):
        tiled = Stylizer(model, backend="fp32", cache_size=0, memory_budget=budget)
        return stylize_dataset(src, out, tiled, bank, DatasetOptions(size=0), model_id="tiny")

    whole, tiles = tmp_path / "whole", tmp_path / "tiles"
    at_own_size(whole, 2048)
    at_own_size(tiles, 20)  # 20 MB: the 512 px photos run in tiles, the 451x300 one in a batch
    assert Stylizer(model, backend="fp32", memory_budget=20).tile_size(512, 512) is not None
    a, b = images_in(whole), images_in(tiles)
    for rel in TREE:
        name = str(Path(rel).with_suffix(".png"))
        assert a[name].shape[1::-1] == Image.open(src / rel).size == b[name].shape[1::-1]
        assert psnr(a[name], b[name]) >= 30, name
    starved = at_own_size(tmp_path / "starved", 5)  # not even the smallest tiles fit: refused, one line each
    assert starved.refused and all("cannot stylize" in reason and "memory budget" in reason
                                   for _, reason in starved.refused)


def test_an_output_folder_inside_the_source_is_not_read_back(model, bank, src):
    out = src / "styled"
    for _ in range(2):
        summary = run(model, bank, src, out)
        assert summary.images == len(TREE) and summary.total_refused == 0
    assert set(images_in(out)) == {str(Path(rel).with_suffix(".png")) for rel in TREE}
    with pytest.raises(ValueError, match="OUT cannot be SRC"):
        run(model, bank, src, src)


def test_the_int8_engine_is_calibrated_on_the_models_bank_or_refused_in_one_line(capsys, model_dir, bank, paintings,
                                                                                 src, tmp_path, monkeypatch):
    pytest.importorskip("nncf")
    monkeypatch.setenv("ADAIN_HUB_CACHE", str(tmp_path / "cache"))

    def int8(model: Path, out: Path) -> tuple[int, list[str]]:
        argv = ["stylize-dataset", str(src), str(out), "--styles", str(paintings), "--model", str(model),
                "--backend", "openvino-int8", "--device", "cpu", "--size", "64"]
        code = main(argv)
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return code, [line for line in err.splitlines() if line.strip()]

    code, err = int8(model_dir, tmp_path / "refused")  # the tiny model ships no bank to calibrate on
    assert code != 0 and err[-1].startswith("error: backend 'openvino-int8'") and "style bank" in err[-1]
    with_bank = tmp_path / "with_bank"
    shutil.copytree(model_dir, with_bank)
    bank.save(with_bank)
    code, err = int8(with_bank, tmp_path / "out")
    assert code == 0 and len(images_in(tmp_path / "out")) == len(TREE)
    assert list((tmp_path / "cache").rglob("int8-*/encoder.xml"))  # quantized once, kept for the next run
