"""Training data: labels drawn evenly from one pass, and refused images told from an unusable dataset."""

from __future__ import annotations

import itertools
import random
from collections import Counter

import pytest
from datasets import ClassLabel, Dataset, Features, Value
from PIL import Image

from adain_hub.data import BalancedStream, CropSpec, DecodedCrops


def _skewed(common: int = 40, rare: int = 2):
    """40 'common' examples, 2 'rare' ones, and a 'never' label with none (as an unused ClassLabel name)."""
    features = Features({"id": Value("int32"), "label": ClassLabel(names=["common", "rare", "never"])})
    ids = list(range(common + rare))
    return Dataset.from_dict({"id": ids, "label": [0] * common + [1] * rare}, features=features).to_iterable_dataset()


def test_labels_are_drawn_evenly_from_one_pass_over_the_source():
    reads: list[int] = []
    plain = _skewed()
    source = plain.map(lambda ex: (reads.append(ex["id"]), ex)[1], features=plain.features)
    draws = list(itertools.islice(iter(BalancedStream(source, "label", seed=0)), 2000))
    counts = Counter(d["label"] for d in draws)
    assert counts[2] == 0  # no examples: never drawn, never waited for
    assert abs(counts[0] - counts[1]) < 200  # 50/50 within 10%, from a 20:1 source
    assert {d["id"] for d in draws if d["label"] == 0} == set(range(40))  # common examples stay fresh
    assert len(reads) <= 2000 + 50 * 3  # one read per draw, plus the warm-up


def test_the_same_seed_gives_the_same_stream():
    first = [d["id"] for d in itertools.islice(iter(BalancedStream(_skewed(), "label", seed=3)), 100)]
    again = [d["id"] for d in itertools.islice(iter(BalancedStream(_skewed(), "label", seed=3)), 100)]
    other = [d["id"] for d in itertools.islice(iter(BalancedStream(_skewed(), "label", seed=4)), 100)]
    assert first == again and first != other


def test_balancing_needs_a_class_label_column():
    with pytest.raises(ValueError, match="class-label column"):
        BalancedStream(_skewed(), "id", seed=0)


def _examples(folder, count: int, mode: str, prefix: str) -> list[dict]:
    folder.mkdir(exist_ok=True)
    out = []
    for i in range(count):
        path = folder / f"{prefix}{i:04d}.png"
        Image.new(mode, (72, 72), 90 + i % 100).save(path)
        out.append({"image": {"path": str(path), "bytes": None}})
    return out


def test_a_long_run_of_refused_images_is_not_mistaken_for_an_unusable_dataset(tmp_path):
    gray = _examples(tmp_path / "a_bw", 260, "L", "bw")  # sorted together, as a folder lists them
    colour = _examples(tmp_path / "b_colour", 4, "RGB", "c")
    crops = DecodedCrops(gray + colour, CropSpec(resize=64, crop=64, skip_grayscale=True), seed=0)
    got = list(crops)
    assert len(got) == 4 and got[0][1] == 260  # 260 skipped in a row, then the colour images


def test_a_source_with_no_usable_image_fails_once_every_file_was_tried(tmp_path):
    gray = _examples(tmp_path / "bw", 3, "L", "bw")
    crops = DecodedCrops(gray * 1000, CropSpec(resize=64, crop=64, skip_grayscale=True), seed=0, source="bw/")
    with pytest.raises(ValueError, match=r"bw/: no usable image in the last 200 read: grayscale image"):
        next(iter(crops))


# -- local folders, the size rule and the decode-once pool -----------------------------------
import io  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402

from adain_hub.data import ImagePool, fit_scale, image_pool, open_stream, random_crops  # noqa: E402
from adain_hub.images import ImageError  # noqa: E402


def _folder(root, files: dict[str, tuple[int, int]]):
    """Write RGB images of the given sizes (``{"label/name.jpg": (w, h)}``) under ``root``."""
    for i, (name, size) in enumerate(files.items()):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", size, (40 * i % 256, 90, 200)).save(root / name)
    return root


def test_a_folder_is_read_whole_whatever_its_file_names_say(tmp_path):
    # datasets would put bullet_train.jpg alone in the train split and drop the others
    _folder(tmp_path, {"cubism/bullet_train.jpg": (70, 70), "cubism/b.jpg": (70, 70),
                       "rococo/test_c.jpg": (70, 70), "rococo/d.jpg": (70, 70)})
    examples = list(open_stream(str(tmp_path)))
    assert len(examples) == 4 and {e["label"] for e in examples} == {0, 1}


def test_images_are_brought_down_to_the_working_size_and_never_silently_up():
    spec = CropSpec(resize=512, crop=256)
    assert fit_scale(1000, 800, spec) == 512 / 800  # a large photo: shorter side to 512
    assert fit_scale(500, 373, spec) == 1.0  # a painting at its native 500 px: kept
    assert fit_scale(480, 320, spec) == 1.0  # a 320 px photo is not blown up to 512
    with pytest.raises(ImageError, match="smaller than the crop"):
        fit_scale(224, 224, spec)  # the old 224 px paintings do not fill a 256 crop
    assert fit_scale(224, 224, CropSpec(resize=512, crop=256, max_upscale=1.2)) == 256 / 224  # asked for


def test_the_pool_holds_images_at_training_size_and_counts_what_it_refused(tmp_path):
    _folder(tmp_path, {"a.png": (200, 150), "b.png": (90, 120), "small.png": (60, 80), "tiny.png": (40, 30)})
    (tmp_path / "notes.png").write_text("not an image")
    pool = image_pool(str(tmp_path), CropSpec(resize=100, crop=64, min_side=32), capacity=100, seed=0, threads=2)
    assert pool.fits_whole and pool.read == 5
    assert sorted(tuple(t.shape) for t in pool.images) == [(3, 100, 133), (3, 120, 90)]
    assert all(t.dtype == torch.uint8 for t in pool.images)
    assert pool.summary().refused == {"smaller than the crop": 1, "image is too small to stylize": 1,
                                      "not an image, or a damaged or unsupported one": 1}
    assert pool.skipped == 3


def test_the_pool_draws_labels_evenly(tmp_path):
    files = {f"common/c{i}.png": (72, 72) for i in range(30)} | {f"rare/r{i}.png": (72, 72) for i in range(2)}
    pool = image_pool(str(_folder(tmp_path, files)), CropSpec(resize=72, crop=64), capacity=100, seed=0,
                      balance_by="label", threads=2)
    names = [n for _ in range(250) for n in pool.sample(8)[1]]
    rare = sum(n.startswith("r") for n in names)
    assert abs(rare - len(names) / 2) < len(names) / 10  # 50/50 within 10%, from a 15:1 folder
    assert {n for n in names if n.startswith("r")} == {"r0.png", "r1.png"}
    with pytest.raises(ValueError, match="class-label column"):
        image_pool(str(tmp_path), CropSpec(resize=72, crop=64), capacity=10, seed=0, balance_by="nope")


def test_crops_are_windows_of_the_image_flipped_at_random():
    img = torch.arange(3 * 40 * 50, dtype=torch.int64).reshape(3, 40, 50).remainder(251).to(torch.uint8)
    crops = random_crops([img] * 64, 16, random.Random(0))
    assert crops.shape == (64, 3, 16, 16) and crops.dtype == torch.uint8
    flips = 0
    for crop in crops:
        found = [(t, l, f) for t in range(25) for l in range(35) for f in (False, True)
                 if torch.equal(crop, img[:, t:t + 16, l:l + 16].flip(-1) if f else img[:, t:t + 16, l:l + 16])]
        assert found, "every crop is a (possibly mirrored) window of the image"
        flips += found[0][2]
    assert 16 < flips < 48


def _bytes_examples(count: int, prefix: str) -> list[dict]:
    out = []
    for i in range(count):
        buf = io.BytesIO()
        Image.new("RGB", (70, 70), (i * 5 % 256, 0, 0)).save(buf, format="PNG")
        out.append({"image": {"bytes": buf.getvalue(), "path": f"{prefix}{i:03d}.png"}})
    return out


def test_a_pool_smaller_than_its_source_is_refreshed_from_the_stream():
    pool = ImagePool(_bytes_examples(40, "x"), CropSpec(resize=70, crop=64), capacity=10, seed=0, threads=2)
    try:
        assert not pool.fits_whole and len(pool.images) == 10
        first = set(pool.names)
        swapped, deadline = 0, time.monotonic() + 20
        while swapped < 30 and time.monotonic() < deadline:
            swapped += pool.refresh(30 - swapped)
            time.sleep(0.05)
        assert swapped == 30 and len(pool.images) == 10
        assert set(pool.names) != first and len(set(pool.names)) > 1
    finally:
        pool.close()
    assert pool.sample(4)[0].shape == (4, 3, 64, 64)  # still usable once closed


def test_a_pool_with_nothing_usable_says_why():
    bad = [{"image": {"bytes": b"not an image", "path": f"bad{i}.jpg"}} for i in range(3)]
    with pytest.raises(ValueError, match=r"src: no usable image in the last 3 read: not an image"):
        ImagePool(bad, CropSpec(resize=64, crop=64), capacity=10, seed=0, name="src")
