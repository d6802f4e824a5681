"""Training: a tiny real run, resume at the same step, bad images skipped, two processes, fine-tuning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from PIL import Image

from adain_hub import AdaIN
from adain_hub.training import TrainConfig, checkpoint_dirs, resolve_mixed_precision, to_device_batch, train

from .conftest import BUNDLED_MODEL, FIXTURES, ROOT, TINY

PRECISION = resolve_mixed_precision("auto")  # bf16 where the CPU has it natively, else fp32


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """6 content photos; 2 style labels with 3 paintings each plus 4 files that must be skipped."""
    root = tmp_path_factory.mktemp("data")
    photos = [Image.open(FIXTURES / f).convert("RGB") for f in ("astronaut.png", "coffee.png", "chelsea.png")]
    (root / "content").mkdir()
    for i in range(6):
        img = photos[i % 3]
        box = (i * 20, i * 10, i * 20 + 200, i * 10 + 150)
        img.crop(box).resize((96, 72)).save(root / "content" / f"photo{i}.jpg")
    for label, source in (("cubism", "rocket.jpg"), ("ukiyo_e", "coffee.png")):
        folder = root / "style" / label
        folder.mkdir(parents=True)
        img = Image.open(FIXTURES / source).convert("RGB")
        for i in range(3):
            img.crop((i * 60, 0, i * 60 + 300, 300)).resize((80, 80)).save(folder / f"{label}{i}.jpg")
    bad = root / "style" / "cubism"
    (bad / "notes.jpg").write_text("this is not an image")
    jpeg = (root / "content" / "photo0.jpg").read_bytes()
    (bad / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 3])
    Image.open(FIXTURES / "brick.png").resize((80, 80)).save(root / "style" / "ukiyo_e" / "gray.png")
    Image.new("RGB", (20, 20), "red").save(root / "style" / "ukiyo_e" / "tiny.png")
    return root


@pytest.fixture(scope="module")
def tiny_source(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("tiny_model")
    torch.manual_seed(0)
    AdaIN(TINY).save_pretrained(path)
    return str(path)


@pytest.fixture(autouse=True)
def _fresh_accelerator_state():
    yield
    AcceleratorState._reset_state(True)


def _config(data: Path, out: Path, encoder_from: str, **kw) -> TrainConfig:
    base = dict(content_dataset=str(data / "content"), style_dataset=str(data / "style"), output_dir=str(out),
                encoder_from=encoder_from, batch_size=2, styles_per_batch=2, image_size=64, resize=64,
                max_steps=4, checkpoint_every=2, sample_every=2, log_with=None, mixed_precision=PRECISION,
                target_cache=8)
    return TrainConfig(**{**base, **kw})


def test_tiny_run_trains_checkpoints_and_saves_a_loadable_model(data, tiny_source, tmp_path):
    logs, samples = [], []
    config = _config(data, tmp_path, tiny_source)
    model = train(config, Accelerator(cpu=True, mixed_precision=PRECISION),
                  on_step=lambda s, l: logs.append((s, l)), on_sample=lambda s, g: samples.append((s, g.shape)))
    assert [s for s, _ in logs] == [1, 2, 3, 4]
    assert all(torch.isfinite(torch.tensor(l["loss"])) for _, l in logs)
    # the four bad style files are skipped and counted, never fatal (each is met at least once in 4 x 2 draws
    # from a balanced, repeating stream of 5 or 6 files per label is not guaranteed; at least one is)
    assert logs[-1][1]["skipped"] >= 1
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["step_00000002", "step_00000004"]
    assert samples and samples[0][1][-1] == 3 * 64  # content | style | output side by side
    loaded = AdaIN.from_pretrained(tmp_path / "model")
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor), name
    initial = AdaIN.from_pretrained(tiny_source)
    assert torch.equal(loaded.encoder.rgb_to_bgr.weight, initial.encoder.rgb_to_bgr.weight)  # frozen
    assert not torch.equal(loaded.decoder.layers.to_rgb[1].weight, initial.decoder.layers.to_rgb[1].weight)
    card = (tmp_path / "model" / "README.md").read_text()
    assert "pipeline_tag: image-to-image" in card and "| steps | 4 |" in card
    # the default loader decodes each image once into a pool; its pace is logged where scripts read it
    assert all(l["steps_per_s"] >= 0 and "images_per_s" in l for _, l in logs) and logs[-1][1]["steps_per_s"] > 0
    throughput = json.loads((tmp_path / "throughput.json").read_text())
    assert throughput["step"] == 4 and throughput["loader"] == "pool" and throughput["steps_per_s"] > 0
    assert throughput["images_per_s"] == pytest.approx(throughput["steps_per_s"] * 4, rel=0.01, abs=0.06)  # rounded
    content_pool, style_pool = throughput["pools"]
    assert content_pool["images"] == 6 and content_pool["fits_whole"]
    assert style_pool["images"] == 7 and style_pool["labels"] == 2  # 3 + 3 paintings and the gray one
    assert sum(style_pool["refused"].values()) == 3 == logs[-1][1]["skipped"]  # notes, truncated, tiny


def test_the_old_per_step_decoding_loader_still_trains(data, tiny_source, tmp_path):
    logs = []
    train(_config(data, tmp_path, tiny_source, max_steps=2, loader="stream"),
          Accelerator(cpu=True, mixed_precision=PRECISION), on_step=lambda s, l: logs.append((s, l)))
    assert [s for s, _ in logs] == [1, 2] and all(torch.isfinite(torch.tensor(l["loss"])) for _, l in logs)
    assert json.loads((tmp_path / "throughput.json").read_text())["loader"] == "stream"


def test_resume_continues_at_the_same_step_with_the_same_state(data, tiny_source, tmp_path):
    train(_config(data, tmp_path, tiny_source, max_steps=2), Accelerator(cpu=True, mixed_precision=PRECISION))
    checkpoint = checkpoint_dirs(tmp_path)[-1]
    assert json.loads((checkpoint / "step.json").read_text()) == {"step": 2}
    saved = AdaIN.from_pretrained(tmp_path / "model")
    AcceleratorState._reset_state(True)

    steps = []
    accelerator = Accelerator(cpu=True, mixed_precision=PRECISION)
    config = _config(data, tmp_path, tiny_source, max_steps=3, resume=True)

    def on_step(step, logs):
        steps.append(step)

    model = train(config, accelerator, on_step=on_step)
    assert steps == [3]
    # one more step from the checkpointed weights: close to them, but trained
    diff = (model.decoder.layers.to_rgb[1].weight - saved.decoder.layers.to_rgb[1].weight).abs().max()
    assert 0 < diff < 1e-2, diff
    assert [p.name for p in checkpoint_dirs(tmp_path)] == ["step_00000002", "step_00000003"]


def test_uint8_crops_become_floats_in_channels_last_on_the_device():
    crops = torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8)
    batch = to_device_batch(crops, torch.device("cpu"))
    assert batch.dtype == torch.float32 and batch.is_contiguous(memory_format=torch.channels_last)
    assert torch.equal(batch, crops.float() / 255)  # as the old loader's to_tensor gave them
    assert torch.equal(to_device_batch(batch, torch.device("cpu")), batch)


def test_an_interrupted_save_is_not_a_checkpoint(tmp_path):
    (tmp_path / "checkpoints" / ".tmp_step_00000009").mkdir(parents=True)
    (tmp_path / "checkpoints" / "step_00000008").mkdir()  # no step.json: never finished
    assert checkpoint_dirs(tmp_path) == []


def test_bad_configuration_is_a_value_error():
    with pytest.raises(ValueError, match="styles_per_batch"):
        TrainConfig(batch_size=8, styles_per_batch=3)
    with pytest.raises(ValueError, match="max_steps"):
        TrainConfig(max_steps=0)


def _env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ACCELERATE_", "RANK", "WORLD_SIZE", "LOCAL_RANK"))}
    return {**env, "HF_HUB_OFFLINE": "1", "ACCELERATE_USE_CPU": "true", "OMP_NUM_THREADS": "1",
            "PYTHONPATH": str(ROOT)}


@pytest.mark.slow
def test_two_data_parallel_processes_train_on_different_images(data, tiny_source, tmp_path):
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2",
           "--num_machines", "1", "--mixed_precision", PRECISION, "--dynamo_backend", "no",
           str(ROOT / "train_accelerate.py"), "--encoder-from", tiny_source,
           "--content-dataset", str(data / "content"), "--style-dataset", str(data / "style"),
           "--output-dir", str(tmp_path), "--max-steps", "3", "--batch-size", "2", "--styles-per-batch", "2",
           "--image-size", "64", "--resize", "64", "--checkpoint-every", "3", "--log-with", "none", "--record-seen"]
    result = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    seen = {}
    for rank in (0, 1):
        rows = (tmp_path / "seen" / f"rank_{rank}.tsv").read_text().splitlines()
        assert [int(r.split("\t")[0]) for r in rows] == [1, 2, 3]  # both processes ran every step
        seen[rank] = [r.split("\t")[1] for r in rows]
    assert seen[0] != seen[1]
    first_batch = [set(seen[r][0].split(",")) for r in (0, 1)]
    assert not first_batch[0] & first_batch[1]  # split by example: disjoint images in a step
    assert AdaIN.from_pretrained(tmp_path / "model") is not None


@pytest.mark.slow
def test_fine_tune_the_shipped_model_on_a_folder_of_paintings(data, tmp_path):
    """The README's fine-tuning command, on a tiny folder: the decoder changes and still loads."""
    cmd = [sys.executable, str(ROOT / "train_accelerate.py"), "--pretrained", str(BUNDLED_MODEL),
           "--style-dataset", str(data / "style"), "--content-dataset", str(data / "content"),
           "--output-dir", str(tmp_path), "--max-steps", "2", "--batch-size", "2", "--styles-per-batch", "2",
           "--image-size", "64", "--resize", "64", "--log-with", "none"]
    result = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    before, after = AdaIN.from_pretrained(BUNDLED_MODEL), AdaIN.from_pretrained(tmp_path / "model")
    assert after.config == before.config
    assert all(torch.equal(a, b) for a, b in zip(after.encoder.parameters(), before.encoder.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(after.decoder.parameters(), before.decoder.parameters()))


def test_help_documents_every_flag_with_its_default():
    result = subprocess.run([sys.executable, str(ROOT / "train_accelerate.py"), "--help"],
                            capture_output=True, text=True, timeout=60, env=_env())
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for flag in ("--content-dataset", "--style-dataset", "--output-dir", "--max-steps", "--batch-size",
                 "--image-size", "--resume", "--pretrained", "--balance-by"):
        assert flag in text
    assert text.count("(default") >= len([f for f in TrainConfig.__dataclass_fields__])


def test_missing_dataset_is_one_clear_line(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "train_accelerate.py"), "--content-dataset",
                             str(tmp_path / "nope"), "--style-dataset", str(tmp_path / "nope2"),
                             "--output-dir", str(tmp_path / "o"), "--max-steps", "1"],
                            capture_output=True, text=True, timeout=120, env=_env())
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert "error:" in result.stderr


def _main(*flags: str) -> tuple[int, str]:
    """train_accelerate.main in this process (fast: no interpreter start), with its exit code and stderr."""
    sys.path.insert(0, str(ROOT))
    try:
        import train_accelerate
    finally:
        sys.path.remove(str(ROOT))
    import contextlib
    import io

    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = train_accelerate.main([*flags, "--log-with", "none"])
        except SystemExit as exc:  # argparse errors
            code = exc.code
    return code, err.getvalue()


def test_a_dataset_with_no_usable_image_is_one_line_not_a_hang(data, tiny_source, tmp_path):
    gray = tmp_path / "gray"
    gray.mkdir()
    Image.open(FIXTURES / "brick.png").convert("L").resize((80, 80)).save(gray / "engraving.png")
    (gray / "notes.jpg").write_text("not an image")
    common = ("--encoder-from", tiny_source, "--content-dataset", str(data / "content"), "--max-steps", "1",
              "--batch-size", "2", "--image-size", "64", "--resize", "64")
    code, err = _main(*common, "--style-dataset", str(gray), "--skip-grayscale", "all",
                      "--output-dir", str(tmp_path / "a"))
    assert code == 2 and "Traceback" not in err  # the pool reads the folder once: both files tried
    assert f"error: {gray}: no usable image in the last 2 read" in err and "grayscale" in err
    AcceleratorState._reset_state(True)
    code, err = _main(*common, "--style-dataset", str(gray), "--skip-grayscale", "all", "--loader", "stream",
                      "--output-dir", str(tmp_path / "a2"))
    assert code == 2 and "Traceback" not in err
    assert f"error: {gray}: no usable image in the last 200 read" in err and "grayscale" in err
    AcceleratorState._reset_state(True)
    # by default grayscale paintings are styles like any other: the same folder trains
    code, err = _main(*common, "--style-dataset", str(gray), "--output-dir", str(tmp_path / "b"))
    assert code == 0, err
    AcceleratorState._reset_state(True)
    empty = tmp_path / "empty"
    empty.mkdir()
    code, err = _main(*common, "--style-dataset", str(empty), "--output-dir", str(tmp_path / "c"))
    assert code == 2 and f"error: {empty}: no images in this folder" in err


@pytest.mark.parametrize("flags, message", [
    (("--recipe", "foo"), "invalid choice: 'foo'"),
    (("--optimizer", "rmsprop"), "invalid choice"),
    (("--mixed-precision", "fp8"), "invalid choice"),
    (("--image-size", "8"), "--image-size must be at least 32"),
    (("--batch-size", "4", "--styles-per-batch", "3"), "--styles-per-batch must be 1 or equal to --batch-size"),
    (("--lr", "nan"), "--lr must be a non-negative number"),
    (("--loader", "dali"), "invalid choice: 'dali'"),
    (("--pool-size", "0"), "--pool-size must be positive"),
    (("--pool-refresh", "-1"), "--pool-refresh must be 0 or more"),
    (("--max-upscale", "0.5"), "--max-upscale must be at least 1"),
    (("--max-upscale", "inf"), "--max-upscale must be at least 1"),
    (("--log-every", "0"), "--log-every must be positive"),
    (("--compile", "yes"), "unrecognized arguments: yes"),
])
def test_bad_flags_name_the_flag_without_a_traceback(flags, message):
    code, err = _main("--max-steps", "1", *flags)
    assert code == 2 and message in err and "Traceback" not in err


def test_batch_size_alone_keeps_the_paper_recipe_consistent():
    sys.path.insert(0, str(ROOT))
    try:
        import train_accelerate
    finally:
        sys.path.remove(str(ROOT))
    assert train_accelerate.parse_args(["--batch-size", "2"]).styles_per_batch == 2
    assert train_accelerate.parse_args(["--batch-size", "2", "--recipe", "sgd"]).styles_per_batch == 1


def test_missing_model_or_an_output_file_is_one_line(data, tmp_path):
    common = ("--content-dataset", str(data / "content"), "--style-dataset", str(data / "style"), "--max-steps", "1")
    code, err = _main(*common, "--pretrained", str(tmp_path / "my_model"), "--output-dir", str(tmp_path / "o"))
    assert code == 2 and "no such model folder" in err and "Traceback" not in err
    AcceleratorState._reset_state(True)
    (tmp_path / "afile").write_text("")
    code, err = _main(*common, "--pretrained", str(BUNDLED_MODEL), "--output-dir", str(tmp_path / "afile"))
    assert code == 2 and "the output folder is a file" in err


@pytest.mark.parametrize("architecture", ["vgg19", "lite"])
def test_a_crop_size_the_decoder_cannot_give_back_is_refused_up_front(architecture):
    from adain_hub import AdaIN, AdaINConfig
    from adain_hub.training import StyleTransferLoss

    # a 250 px crop comes back 248 (VGG) or 252 px (lite): the identity loss could not compare them
    vgg = AdaIN(AdaINConfig(channels=(4, 8, 8, 16)))
    model = vgg if architecture == "vgg19" else AdaIN(AdaINConfig(architecture="lite", channels=(4, 8)))
    out = StyleTransferLoss(model, None if model.is_vgg else vgg.encoder)(torch.rand(1, 3, 250, 250),
                                                                         torch.rand(1, 3, 250, 250)).output
    assert out.shape[-1] != 250
    with pytest.raises(ValueError, match="multiple of 8"):
        TrainConfig(image_size=250, architecture=architecture, identity_weight=1.0)
    TrainConfig(image_size=248, architecture=architecture, identity_weight=1.0)


def test_anchored_samples_are_pulled_to_the_teacher_and_the_rest_judged_alone():
    import copy

    from adain_hub import AdaINConfig
    from adain_hub.training import StyleTransferLoss

    torch.manual_seed(0)
    vgg = AdaIN(AdaINConfig(channels=(4, 8, 8, 16)))
    model = AdaIN(AdaINConfig(architecture="lite", channels=(4, 8)))
    teacher = copy.deepcopy(model.decoder).requires_grad_(False)
    loss = StyleTransferLoss(model, vgg.encoder, identity=True, teacher=teacher)
    content, style = torch.rand(4, 3, 32, 32), torch.rand(4, 3, 32, 32)
    anchor = torch.tensor([True, False, True, False])
    with torch.no_grad():
        same = loss(content, style, anchor=anchor)
        assert same.anchor == 0  # the decoder is still the teacher
        for p in model.decoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
        moved = loss(content, style, anchor=anchor)
        alone = loss(content[~anchor], style[~anchor])  # what the judged half gives by itself
    assert moved.anchor > 0
    torch.testing.assert_close(moved.content, alone.content)
    torch.testing.assert_close(moved.style, alone.style)
    all_anchored = loss(content, style, anchor=torch.ones(4, dtype=torch.bool))
    assert all_anchored.content == 0 and all_anchored.style == 0 and all_anchored.anchor > 0


def test_a_fine_tune_anchors_the_paintings_of_its_anchor_folders_and_can_keep_the_encoder(data, tmp_path):
    from adain_hub import AdaINConfig
    from adain_hub.training import anchor_test

    lite = tmp_path / "lite"
    torch.manual_seed(0)
    AdaIN(AdaINConfig(architecture="lite", channels=(4, 8))).save_pretrained(lite)
    vgg = tmp_path / "vgg"
    AdaIN(TINY).save_pretrained(vgg)
    # pools name crops by file name: the test must match those names, not only full paths
    is_anchored = anchor_test([str(data / "style" / "cubism")])
    assert is_anchored("cubism0.jpg") and is_anchored(str(data / "style" / "cubism" / "cubism1.jpg"))
    assert not is_anchored("ukiyo_e0.jpg")
    with pytest.raises(ValueError, match="cubism0.jpg also named outside"):  # a name both in and out: refused
        clash = tmp_path / "clash"
        for label in ("cubism", "other"):
            (clash / label).mkdir(parents=True)
            (clash / label / "cubism0.jpg").write_bytes(b"x")
        anchor_test([str(clash / "cubism")], str(clash))
    logs = []
    config = _config(data, tmp_path / "run", str(vgg), pretrained=str(lite), max_steps=6, identity_weight=1.0,
                     anchor_styles=(str(data / "style" / "cubism"),), anchor_weight=10.0, freeze_encoder=True,
                     log_every=1)
    model = train(config, Accelerator(cpu=True, mixed_precision=PRECISION), on_step=lambda s, l: logs.append(l))
    start = AdaIN.from_pretrained(lite)
    assert all(torch.equal(a, b) for a, b in zip(model.encoder.state_dict().values(),
                                                  start.encoder.state_dict().values()))
    assert any(not torch.equal(a, b) for a, b in zip(model.decoder.state_dict().values(),
                                                      start.decoder.state_dict().values()))
    assert any(l["anchor"] > 0 for l in logs)  # cubism crops were drawn, and the decoder had moved from the teacher
    with pytest.raises(ValueError, match="anchor_weight"):
        TrainConfig(anchor_styles=("x",))
