"""``adain stylize``: outputs named by stem, bad inputs reported on one line and skipped, exit codes,
flags reaching the Stylizer, atomic writes. In-process on a tiny random model, plus one run of the
real console script on the bundled model."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain_hub import AdaIN, AdaINConfig
from adain_hub.cli import _save_atomic, _write_atomic, main
from adain_hub.images import output_size
from adain_hub.stylizer import Stylizer

from .test_images import BAD_KINDS, make_bad_file, opened

FIXTURES = Path(__file__).resolve().parent / "fixtures"
BUNDLED = Path(__file__).resolve().parent.parent / "model_card"
SIZE = "64"


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tiny_model")
    torch.manual_seed(0)
    AdaIN(AdaINConfig(channels=(4, 8, 8, 16))).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def bundled_model() -> AdaIN:
    return AdaIN.from_pretrained(BUNDLED)


@pytest.fixture
def photos(tmp_path) -> Path:
    """A folder of three photos, one in a sub-folder."""
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    for name in ["chelsea.png", "coffee.png"]:
        (folder / name).write_bytes((FIXTURES / name).read_bytes())
    (folder / "sub" / "rocket.jpg").write_bytes((FIXTURES / "rocket.jpg").read_bytes())
    return folder


def run(capsys, *args: str | Path, model: Path | str | None = None) -> tuple[int, list[str]]:
    """``adain stylize ARGS`` in-process -> exit code and the lines it wrote to stderr."""
    argv = ["stylize", "--size", SIZE, "--backend", "fp32", *map(str, args)]  # a test's own flags win
    if model is not None:
        argv += ["--model", str(model)]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own errors
        code = exc.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, [line for line in err.splitlines() if line.strip()]


def styles(*names: str) -> list[str]:
    return ["--style", *[str(FIXTURES / n) for n in names]]


def expected_size(path: Path, cap: int = int(SIZE)) -> tuple[int, int]:
    return output_size(*opened(path).size, cap)


def files_in(folder: Path) -> list[str]:
    """Everything in ``folder``, hidden temporary files included."""
    return sorted(os.listdir(folder)) if folder.exists() else []


# -- folders, names, progress -------------------------------------------------------------------
def test_folder_gives_one_output_per_input_named_by_stem(capsys, tiny_dir, photos, tmp_path):
    out = tmp_path / "out"
    code, err = run(capsys, photos, *styles("brick.png"), "--out", out, model=tiny_dir)
    assert code == 0
    assert files_in(out) == ["chelsea.png", "coffee.png", "rocket.png"]
    for stem, src in [("chelsea", photos / "chelsea.png"), ("rocket", photos / "sub" / "rocket.jpg")]:
        img = opened(out / f"{stem}.png")
        assert img.format == "PNG" and img.mode == "RGB" and img.size == expected_size(src)
    assert err == [f"wrote 3 image(s) to {out}"]


def test_inputs_sharing_a_stem_never_overwrite_each_other(capsys, tiny_dir, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    Image.open(FIXTURES / "chelsea.png").save(a / "x.png")  # 451 x 300
    Image.open(FIXTURES / "gravel.png").save(a / "x_2.png")  # 512 x 512, keeps its own name
    Image.open(FIXTURES / "coffee.png").save(b / "X.jpg")  # 600 x 400, same stem but for case
    sizes = {}
    for attempt in range(2):  # deterministic: the same names on every run
        out = tmp_path / f"out{attempt}"
        code, _ = run(capsys, a, b, *styles("brick.png"), "--out", out, model=tiny_dir)
        assert code == 0
        sizes[attempt] = {name: opened(out / name).size for name in files_in(out)}
    assert sizes[0] == sizes[1] == {
        "x.png": expected_size(a / "x.png"),
        "x_2.png": expected_size(a / "x_2.png"),
        "X_3.png": expected_size(b / "X.jpg"),
    }


def test_output_folder_inside_the_input_folder_is_not_read_back(capsys, tiny_dir, photos):
    out = photos / "styled"
    for _ in range(2):
        code, _ = run(capsys, photos, *styles("brick.png"), "--out", out, model=tiny_dir)
        assert code == 0
    assert files_in(out) == ["chelsea.png", "coffee.png", "rocket.png"]


def test_odd_but_valid_images_just_work(capsys, tiny_dir, tmp_path):
    folder = tmp_path / "odd"
    folder.mkdir()
    rgb = Image.open(FIXTURES / "chelsea.png").convert("RGB")
    gray = np.asarray(Image.open(FIXTURES / "gravel.png").convert("L"))
    rgba = rgb.copy()
    rgba.putalpha(128)
    Image.fromarray(gray).save(folder / "gray.png")
    rgb.convert("P").save(folder / "palette.png", transparency=3)
    rgb.convert("P").save(folder / "palette_opaque.gif")
    rgba.save(folder / "rgba.png")
    Image.fromarray(gray).convert("LA").save(folder / "la.png")
    rgb.convert("CMYK").save(folder / "cmyk.jpg")
    Image.fromarray(gray.astype(np.uint16) * 257).save(folder / "deep16.png")
    Image.fromarray(gray.astype(np.int32) * 1000).save(folder / "int32.tif")
    Image.fromarray(gray.astype(np.float32) / 255).save(folder / "float.tif")
    exif = Image.Exif()
    exif[0x0112] = 6
    rgb.save(folder / "rotated.jpg", exif=exif)
    frames = [rgb.convert("P"), rgb.rotate(180).convert("P")]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:])
    rgb.save(folder / "pages.tif", save_all=True, append_images=[rgb.rotate(180)])

    out = tmp_path / "out"
    code, err = run(capsys, folder, *styles("brick.png"), "--out", out, model=tiny_dir)
    assert code == 0, err
    stems = ["anim", "cmyk", "deep16", "float", "gray", "int32", "la", "pages", "palette", "palette_opaque",
             "rgba", "rotated"]
    assert files_in(out) == [f"{s}.png" for s in stems]
    w, h = opened(out / "rotated.png").size
    assert (w, h) == output_size(rgb.height, rgb.width, int(SIZE)) and h > w  # portrait, as the camera meant


# -- bad inputs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", [k for k in BAD_KINDS if k != "too_small"])  # small photos run upscaled
def test_a_bad_input_is_one_line_and_a_failure(capsys, tiny_dir, tmp_path, kind):
    path, phrase = make_bad_file(kind, tmp_path)
    out = tmp_path / "out"
    code, err = run(capsys, path, *styles("brick.png"), "--out", out, model=tiny_dir)
    assert code == 1
    assert len(err) == 1 and err[0].startswith(f"error: {path}: ") and phrase in err[0]
    assert files_in(out) == []  # nothing written for it, not even a temporary file


def test_a_bad_file_in_a_folder_is_skipped_and_the_run_finishes(capsys, tiny_dir, photos, tmp_path):
    notes, _ = make_bad_file("text_as_jpg", photos)
    cut, _ = make_bad_file("truncated_png", photos / "sub")
    out = tmp_path / "out"
    code, err = run(capsys, photos, *styles("brick.png"), "--out", out, model=tiny_dir)
    assert code == 1
    errors = [line for line in err if line.startswith("error: ")]
    assert errors == [  # in the order of the sorted folder walk
        f"error: {notes}: not an image, or a damaged or unsupported one",
        f"error: {cut}: cannot decode image (image file is truncated)",
    ]
    assert files_in(out) == ["chelsea.png", "coffee.png", "rocket.png"]
    assert err[-1] == f"wrote 3 image(s) to {out}; 2 input(s) skipped"


def test_images_in_a_folder_are_known_by_content_not_by_name(capsys, tiny_dir, photos, tmp_path):
    """A mixed folder: an icon, a JPEG without extension and a PNG named .dat are images and are all
    written; a text file, an empty file, a PDF and a truncated JPEG are each named in one line."""
    photo = Image.open(FIXTURES / "chelsea.png").convert("RGB")
    photo.crop((0, 0, 300, 300)).save(photos / "favicon.ico", sizes=[(48, 48), (64, 64)])
    (photos / "IMG_0042").write_bytes((FIXTURES / "rocket.jpg").read_bytes())
    photo.save(photos / "sub" / "scan.dat", format="PNG")
    bad = {
        photos / "README.txt": (b"holiday photos, 2024\n", "not an image"),
        photos / "sub" / "empty": (b"", "not an image"),
        photos / "manual.pdf": (b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n", "not an image"),
        photos / "cut.jpg": ((FIXTURES / "rocket.jpg").read_bytes()[:3000], "truncated"),
    }
    for path, (data, _) in bad.items():
        path.write_bytes(data)
    out = tmp_path / "out"
    code, err = run(capsys, photos, *styles("brick.png"), "--out", out, model=tiny_dir)
    assert code == 1
    assert files_in(out) == ["IMG_0042.png", "chelsea.png", "coffee.png", "favicon.png", "rocket.png", "scan.png"]
    assert opened(out / "favicon.png").size == (64, 64)  # the icon's largest image, at its own size
    assert opened(out / "IMG_0042.png").size == expected_size(FIXTURES / "rocket.jpg")
    errors = [line for line in err if line.startswith("error: ")]
    assert len(errors) == len(bad)
    for path, (_, phrase) in bad.items():
        assert sum(line.startswith(f"error: {path}: ") and phrase in line for line in errors) == 1, (path, errors)
    assert err[-1] == f"wrote 6 image(s) to {out}; 4 input(s) skipped"


def test_missing_inputs_are_reported_and_the_rest_still_written(capsys, tiny_dir, photos, tmp_path):
    out = tmp_path / "out"
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = run(capsys, photos / "chelsea.png", tmp_path / "nope.jpg", empty, *styles("brick.png"),
                    "--out", out, model=tiny_dir)
    assert code == 1
    assert f"error: {tmp_path / 'nope.jpg'}: no such file or folder" in err
    assert f"error: {empty}: no images in this folder" in err
    assert files_in(out) == ["chelsea.png"]


def test_help_explains_the_exit_codes(capsys):
    with pytest.raises(SystemExit) as info:
        main(["stylize", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "exit status" in text and "1 some inputs were skipped" in text and "still written" in text


# -- flags, styles, models ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "flags, message",
    [
        (["--weights", "1"], "--weights: got 1 weights for 2 styles"),
        (["--weights", "-1", "2"], "--weights: weights must be non-negative"),
        (["--alpha", "1.5"], "--alpha must be in [0, 1], got 1.5"),
        (["--alpha", "-0.1"], "--alpha must be in [0, 1]"),
        (["--alpha", "nan"], "--alpha must be in [0, 1]"),
        (["--mask", "M", "M", "M"], "--mask: got 3 masks for 2 styles"),
        (["--mask", "M", "--method", "wct"], "--mask works with --method adain only"),
        (["--mask", "M", "--weights", "1", "1"], "--weights and --mask cannot be combined"),
        (["--size", "8"], "--size must be 0 (full resolution) or at least 32"),
        (["--size", "-1"], "--size must be 0 (full resolution) or at least 32"),
        (["--tile", "32"], "--tile must be at least 64"),
        (["--memory-budget", "0"], "--memory-budget must be a positive number"),
    ],
)
def test_bad_flags_are_usage_errors(capsys, tiny_dir, photos, tmp_path, flags, message):
    mask = tmp_path / "mask.png"
    Image.new("L", (64, 64), 255).save(mask)
    flags = [str(mask) if f == "M" else f for f in flags]
    out = tmp_path / "out"
    code, err = run(capsys, photos, *styles("brick.png", "gravel.png"), "--out", out, *flags, model=tiny_dir)
    assert code == 2
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not out.exists()


def test_out_must_not_be_a_file(capsys, tiny_dir, photos, tmp_path):
    (tmp_path / "out.png").write_bytes(b"")
    code, err = run(capsys, photos, *styles("brick.png"), "--out", tmp_path / "out.png", model=tiny_dir)
    assert code == 2 and len(err) == 1 and "--out must be a folder" in err[0]


@pytest.mark.parametrize(  # (a small mask is fine: masks are resized to the photo)
    "role, kind", [("style", "missing"), ("style", "text_as_jpg"), ("style", "too_small"), ("style", "truncated_jpg"),
                   ("mask", "missing"), ("mask", "text_as_jpg"), ("mask", "truncated_png")],
)
def test_unusable_style_or_mask_ends_the_run_before_it_starts(capsys, tiny_dir, photos, tmp_path, role, kind):
    bad, phrase = make_bad_file(kind, tmp_path)
    args = ["--style", str(bad)] if role == "style" else [*styles("brick.png"), "--mask", str(bad)]
    out = tmp_path / "out"
    code, err = run(capsys, photos, *args, "--out", out, model=tiny_dir)
    assert code == 1
    assert err == [err[0]] and err[0].startswith(f"error: {bad}: ") and phrase in err[0]
    assert not out.exists()


def test_model_errors_are_one_line(capsys, tiny_dir, photos, tmp_path):
    empty = tmp_path / "empty_model"
    empty.mkdir()
    wrong = tmp_path / "wrong_model"
    AdaIN(AdaINConfig(channels=(4, 8, 8, 16))).save_pretrained(wrong)
    (wrong / "config.json").write_text('{"channels": [4, 8, 8, 32], "upsample": "nearest"}')
    cases = [
        (tmp_path / "no_such_folder", "no such model folder"),
        (empty, "cannot load model"),
        (wrong, "cannot load model"),  # strict loading: shapes do not match (a multi-line torch error)
        ("adain-hub/not-a-model", "not available from the Hugging Face Hub"),  # offline here
    ]
    for model, message in cases:
        start = time.perf_counter()
        code, err = run(capsys, photos, *styles("brick.png"), "--out", tmp_path / "out", model=model)
        assert code == 1 and len(err) == 1, err
        assert err[0].startswith(f"error: {model}: ") and message in err[0]
        assert time.perf_counter() - start < 10
    assert not (tmp_path / "out").exists()


def test_model_loaded_once_and_each_style_encoded_once(capsys, tiny_dir, photos, tmp_path, monkeypatch):
    loads, encodes = [], []
    original_load, original_encode = AdaIN._from_pretrained.__func__, AdaIN.encode

    def counting_load(cls, **kwargs):
        loads.append(kwargs["model_id"])
        return original_load(cls, **kwargs)

    def counting_encode(self, image, upto="relu4_1"):
        encodes.append(tuple(image.shape[-2:]))
        return original_encode(self, image, upto)

    # more photos than the Stylizer's cache holds (16): the styles must still be encoded just once
    many = tmp_path / "many"
    many.mkdir()
    cat = Image.open(FIXTURES / "chelsea.png").convert("RGB")
    for i in range(18):
        cat.crop((i * 10, 0, i * 10 + 48, 40)).save(many / f"crop{i:02d}.png")
    monkeypatch.setattr(AdaIN, "_from_pretrained", classmethod(counting_load))
    monkeypatch.setattr(AdaIN, "encode", counting_encode)
    code, _ = run(capsys, many, *styles("brick.png", "gravel.png"), "--out", tmp_path / "out", model=tiny_dir)
    assert code == 0 and len(os.listdir(tmp_path / "out")) == 18
    assert loads == [str(tiny_dir)]
    assert encodes[:2] == [(64, 64), (64, 64)] and encodes[2:] == [(40, 48)] * 18  # styles once, then photos


@pytest.mark.parametrize(
    "flags, kwargs",
    [
        (["--alpha", "0.6", "--weights", "3", "1"], dict(alpha=0.6, weights=[3.0, 1.0])),
        (["--preserve-color"], dict(preserve_color=True)),
        (["--mask", "M"], dict(masks="M")),
        (["--method", "wct", "--alpha", "0.8"], dict(method="wct", alpha=0.8)),
    ],
    ids=["alpha-weights", "preserve-color", "mask", "wct"],
)
def test_flags_reach_the_stylizer(capsys, bundled_model, tmp_path, flags, kwargs):
    """The trained model (a random tiny one gives flat images) at a small size: the CLI's output
    is exactly what the Python API gives for the same options, and differs from the plain result."""
    mask = tmp_path / "mask.png"
    Image.fromarray(np.tile((np.arange(96) < 48).astype(np.uint8) * 255, (64, 1))).save(mask)
    flags = [str(mask) if f == "M" else f for f in flags]
    if "masks" in kwargs:
        kwargs["masks"] = [opened(mask)]
    content, pair = FIXTURES / "coffee.png", [FIXTURES / "brick.png", FIXTURES / "rocket.jpg"]
    code, _ = run(capsys, content, "--style", *map(str, pair), *flags, "--out", tmp_path, model=BUNDLED)
    assert code == 0
    got = np.asarray(opened(tmp_path / "coffee.png")).astype(int)

    stylizer = Stylizer(bundled_model, backend="fp32", size=int(SIZE), style_size=int(SIZE))
    expected = np.asarray(stylizer.stylize(content, pair, **kwargs)).astype(int)
    plain = np.asarray(stylizer.stylize(content, pair)).astype(int)
    assert got.shape == expected.shape == (*expected_size(content)[::-1], 3)
    assert np.abs(got - expected).max() <= 1
    assert np.abs(got - plain).mean() > 2


# -- writing ------------------------------------------------------------------------------------
def test_an_unwritable_output_is_reported_and_the_others_written(capsys, tiny_dir, photos, tmp_path):
    out = tmp_path / "out"
    (out / "coffee.png").mkdir(parents=True)  # a folder where the image should go
    code, err = run(capsys, photos, *styles("brick.png"), "--out", out, model=tiny_dir)
    assert code == 1
    assert [line for line in err if line.startswith("error: ")] == [
        next(line for line in err if line.startswith(f"error: {out / 'coffee.png'}: cannot write"))
    ]
    assert files_in(out) == ["chelsea.png", "coffee.png", "rocket.png"]  # no temporary file left
    assert (out / "coffee.png").is_dir()


def _dies_halfway(fh) -> None:
    """A write interrupted (Ctrl-C) after half the bytes are out."""
    fh.write(b"\x89PNG\r\n\x1a\n half an image")
    raise KeyboardInterrupt


def test_interrupted_write_leaves_the_old_file_or_nothing(tmp_path):
    target = tmp_path / "photo.png"
    with pytest.raises(KeyboardInterrupt):
        _write_atomic(target, _dies_halfway)
    assert files_in(tmp_path) == []
    Image.new("RGB", (40, 40), "red").save(target)
    before = target.read_bytes()
    with pytest.raises(KeyboardInterrupt):
        _write_atomic(target, _dies_halfway)
    assert files_in(tmp_path) == ["photo.png"] and target.read_bytes() == before
    _save_atomic(Image.new("RGB", (40, 40), "blue"), target)
    assert opened(target).getpixel((0, 0)) == (0, 0, 255) and files_in(tmp_path) == ["photo.png"]


def test_outputs_are_lossless_pngs_of_the_stylized_pixels(tmp_path):
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)  # noise and flat runs: both kinds of rows
    noisy[:, :20] = (200, 40, 10)
    _save_atomic(Image.fromarray(noisy), tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as back:
        assert back.format == "PNG" and np.array_equal(np.asarray(back.convert("RGB")), noisy)


# -- the real console script --------------------------------------------------------------------
@pytest.mark.slow
def test_console_script_on_the_bundled_model(photos, tmp_path):
    script = Path(sys.executable).parent / "adain"
    assert script.exists(), "the `adain` console script is not installed: pip install -e ."
    (photos / "sub" / "rocket.jpg").unlink()
    notes, _ = make_bad_file("text_as_jpg", photos)
    out = tmp_path / "out"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run(
        [str(script), "stylize", str(photos), "--style", str(FIXTURES / "brick.png"), "--size", "128",
         "--backend", "fp32", "--out", str(out)],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "error" in line.lower()]
    assert errors == [f"error: {notes}: not an image, or a damaged or unsupported one"]
    assert files_in(out) == ["chelsea.png", "coffee.png"]
    for stem in ["chelsea", "coffee"]:
        got = opened(out / f"{stem}.png")
        assert got.size == expected_size(photos / f"{stem}.png", 128)
        pixels = np.asarray(got).astype(float)
        content = np.asarray(opened(photos / f"{stem}.png").convert("RGB").resize(got.size)).astype(float)
        assert pixels.std() > 10 and np.abs(pixels - content).mean() > 10  # a real picture, and restyled


def test_help_does_not_wait_for_torch():
    code = "import sys, adain_hub.cli; adain_hub.cli.build_parser(); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_out_of_memory_says_to_lower_the_size():
    from adain_hub.cli import _failure

    assert _failure(MemoryError(), 4096) == "out of memory at --size 4096; try a smaller --size, --memory-budget or --tile"
    ov = RuntimeError("Exception from src/inference/src/cpp/infer_request.cpp:224:\nFailed to allocate 2 GB")
    assert "try a smaller --size" in _failure(ov, 8000)
    assert _failure(RuntimeError("shape mismatch"), 512) == "shape mismatch"
