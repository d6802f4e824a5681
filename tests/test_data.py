"""Training data: labels drawn evenly from one pass, and refused images told from an unusable dataset."""

from __future__ import annotations

import itertools
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
