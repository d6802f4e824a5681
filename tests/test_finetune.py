"""``adain finetune``: a tiny run end to end (tiny models, tiny images, a few steps), the card's table
against a rerun of ``adain eval``, the refusals, and the push up to where the network is needed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
from accelerate.state import AcceleratorState
from PIL import Image

from adain_hub import AdaIN, AdaINConfig, StyleBank
from adain_hub import cli, finetune
from adain_hub.finetune import FinetuneConfig, FinetuneError, plan_recipe, run_finetune, upload_files
from adain_hub.finetune_command import base_repo_id, example_paintings
from adain_hub.finetune_data import check_paintings, keep_folders, split_holdout
from adain_hub.history import History, Run

from .conftest import FIXTURES, ROOT, TINY

SOURCES = ("rocket.jpg", "coffee.png", "chelsea.png", "astronaut.png")


def _crops(dest: Path, n: int, size: tuple[int, int], tint: tuple[int, int, int] | None, offset: int = 0) -> Path:
    """``n`` different crops of the fixtures at ``size``, tinted towards ``tint`` (a "painter's palette")."""
    dest.mkdir(parents=True, exist_ok=True)
    sources = [Image.open(FIXTURES / name).convert("RGB") for name in SOURCES]
    for i in range(n):
        img = sources[(i + offset) % len(sources)]
        x, y = (i * 23) % (img.width - 200), (i * 11) % (img.height - 150)
        crop = img.crop((x, y, x + 200, y + 150)).resize(size)
        if tint:
            crop = Image.blend(crop, Image.new("RGB", size, tint), 0.4)
        crop.save(dest / f"img{i:02d}.jpg")
    return dest


@pytest.fixture(scope="module")
def ft(tmp_path_factory) -> dict[str, Path]:
    """A tiny lite base with a one-run history, a tiny VGG judge, 12 paintings, 24 photos, the base's
    paintings in two style folders, two paintings by others."""
    root = tmp_path_factory.mktemp("ft")
    torch.manual_seed(0)
    AdaIN(AdaINConfig(architecture="lite", channels=(4, 8))).save_pretrained(root / "base")
    History([Run(0, 100, 0.1, 64, "8 x 8", 5e-4, 5.0, 7.0, "fast", "cpu", "2026-12-01T00:00:00Z")]).save(root / "base")
    AdaIN(TINY).save_pretrained(root / "judge")
    _crops(root / "paintings", 12, (136, 128), (200, 120, 40))
    _crops(root / "photos", 24, (120, 90), None, 1)
    _crops(root / "keep" / "a", 3, (96, 96), (40, 80, 200))
    _crops(root / "keep" / "b", 3, (96, 96), (40, 200, 80), 2)
    _crops(root / "others", 2, (100, 80), (120, 40, 160), 3)
    return {k: root / k for k in ("base", "judge", "paintings", "photos", "keep", "others")} | {"root": root}


@pytest.fixture(autouse=True)
def _fresh_accelerator_state():
    yield
    AcceleratorState._reset_state(True)


def _config(ft: dict[str, Path], out: Path, **kw) -> FinetuneConfig:
    base = dict(styles=str(ft["paintings"]), out=str(out), model=str(ft["base"]), judge=str(ft["judge"]),
                keep_styles=str(ft["keep"]), photos=str(ft["photos"]), others=str(ft["others"]), minutes=2,
                eval_photos=2, eval_size=64, max_steps=3, keep_count=4)
    return FinetuneConfig(**{**base, **kw})


@pytest.fixture(scope="module")
def finetuned(ft, tmp_path_factory) -> tuple[Path, finetune.FinetuneResult, list[str]]:
    out = tmp_path_factory.mktemp("run")
    notes: list[str] = []
    result = run_finetune(_config(ft, out), notes=notes.append)
    AcceleratorState._reset_state(True)
    return out, result, notes


def test_a_tiny_finetune_writes_a_loadable_model_with_its_bank_history_and_card(ft, finetuned):
    out, result, notes = finetuned
    model_dir = out / "model"
    model = AdaIN.from_pretrained(model_dir)  # strict: every tensor there
    assert model.config.architecture == "lite" and result.steps == 3
    bank = StyleBank.from_pretrained(model)  # built with the fine-tuned encoder, and found beside the weights
    assert len(bank) == 12 and bank.names[0] == "img00"
    history = json.loads((model_dir / "training.json").read_text())
    assert history["base_model"]["source"] == str(ft["base"]) and history["base_model"]["steps"] == 100
    assert History.load(model_dir).runs[-1].identity_weight == 5.0  # the base's recipe went on
    assert History.load(model_dir).runs[-1].image_size == 64
    card = (model_dir / "README.md").read_text()
    assert "| your held-out paintings (2) | 4 |" in card and "| paintings by others (2) | 4 |" in card
    assert "![before and after](eval/contact_sheet.jpg)" in card and (model_dir / "eval" / "contact_sheet.jpg").is_file()
    assert f"A fine-tune of `{ft['base']}`" in card and "adain-finetune" in card
    assert "brought down to 512 px on their shorter side" in card  # the recipe's scale, stated
    assert "grid score ↓ |" in card  # the mesh, measured before and after
    judge = AdaIN.from_pretrained(ft["judge"])
    assert f"local folder `judge` (fingerprint {judge.fingerprint()})" in card  # not a path only this machine has
    assert str(ft["judge"]) not in card.split("## Check it yourself")[0]
    # held out means held out: neither the held-out paintings nor the held-out photos are in what training read
    held = {p.name for p in (out / "eval" / "yours").iterdir()}
    trained = {p.name for p in (out / "work" / "styles" / "yours").iterdir()}
    assert all(name.startswith("yours-") for name in trained)  # no name shared with the base's (anchored by name)
    assert all(p.name.startswith("base-") for p in (out / "work" / "styles" / "base_1").iterdir())
    assert len(held) == 2 and not held & {name.removeprefix("yours-") for name in trained}
    # the encoder was frozen: the base's features, so banks built for the base fit the fine-tune too
    assert model.fingerprint("encoder") == AdaIN.from_pretrained(ft["base"]).fingerprint("encoder")
    assert model.fingerprint() != AdaIN.from_pretrained(ft["base"]).fingerprint()  # the decoder learned
    photos = {p.name for p in (out / "eval" / "photos").iterdir()}
    assert len(photos) == 2 and not photos & {p.name for p in (out / "work" / "photos").iterdir()}
    assert sorted(p.name for p in (out / "work" / "styles").iterdir()) == ["base_1", "yours"]  # half and half
    assert any("10 paintings to learn from, 2 held out" in n for n in notes)


def test_the_cards_table_comes_from_pairs_a_rerun_of_adain_eval_gives_again(finetuned, ft):
    out, result, _ = finetuned
    ours = {(r["set"], r["method"], r["content"], r["style"]): r
            for r in csv.DictReader(open(out / "model" / "eval" / "pairs.csv"))}
    for key in ("yours", "others"):
        code = cli.main(["eval", "--contents", str(out / "eval" / "photos"), "--styles", str(out / "eval" / key),
                         "--model", f"before={ft['base']}", f"after={out / 'model'}", "--judge", str(ft["judge"]),
                         "--judge-dtype", "bf16" if finetune.cpu_has_bf16() else "fp32", "--size", "64", "--backend", "fp32",
                         "--sweep-pairs", "0", "--out", str(out / f"check_{key}")])
        assert code == 0
        rows = list(csv.DictReader(open(out / f"check_{key}" / "pairs.csv")))
        assert len(rows) == 2 * 2 * 2  # 2 photos x 2 paintings x before, after
        for row in rows:
            mine = ours[(key, row["method"], row["content"], row["style"])]
            for metric in ("content_loss", "style_loss", "gram_loss", "ssim"):
                assert float(mine[metric]) == float(row[metric])
    card = (out / "model" / "README.md").read_text()
    assert finetune.card.table_markdown(result.table) in card
    assert "adain eval --contents" in card and "--model before=" in card  # the card says how to check it


def test_recipe_continues_the_bases_last_run_and_caps_the_crop_by_the_smallest_painting():
    history = History([Run(56316, 66129, 0.05, 256, "16 x 16", 5e-4, 50.0, 7.0, "fast", "H200", "x")])
    recipe = plan_recipe(history, "lite", smallest_side=230)
    assert (recipe.image_size, recipe.identity_weight, recipe.style_weight, recipe.lr) == (224, 50.0, 7.0, 1e-4)
    assert "capped by the smallest painting (230 px)" in recipe.reasons["crops"]
    assert "= 0.00012" in recipe.reasons["learning rate"]  # the base's own rate where its schedule ended
    assert plan_recipe(history, "lite", 600).image_size == 256
    assert plan_recipe(history, "lite", 600, image_size=128).image_size == 128
    heavier = plan_recipe(history, "lite", 600, style_weight=14.0)
    assert heavier.style_weight == 14.0 and "style 7 there" in heavier.reasons["losses"]
    assert "anchored to its output" in recipe.reasons["losses"]
    assert "anchored" not in plan_recipe(history, "lite", 600, anchor_weight=0).reasons["losses"]
    fresh = plan_recipe(History(), "lite", 600)
    assert (fresh.identity_weight, fresh.style_weight) == (50.0, 7.0) and "defaults" in fresh.reasons["losses"]
    assert [keep_folders(s) for s in (0.5, 1 / 3, 0.25)] == [1, 2, 3]
    paths = [Path(f"p{i:02d}.jpg") for i in range(30)]
    train, held = split_holdout(paths, 0.2, seed=0)
    assert len(held) == 6 and len(train) == 24 and split_holdout(paths, 0.2, seed=0)[1] == held
    assert len(split_holdout(paths[:10], 0.2, seed=0)[1]) == 2


def test_defaults_name_the_bundled_base_and_the_example_paintings():
    assert base_repo_id(str(ROOT / "model_card_lite")) == "adain-hub/adain-lite"
    assert base_repo_id("someone/a-model") == "someone/a-model" and base_repo_id("./runs/x") is None
    others = example_paintings()
    assert len(others) == 8 and all(p.suffix == ".jpg" for p in others)


def test_too_few_unreadable_tiny_and_grayscale_paintings(ft, tmp_path):
    few = _crops(tmp_path / "few", 5, (136, 128), (200, 120, 40))
    with pytest.raises(FinetuneError, match="5 usable paintings of 5 files, and a fine-tune needs at least 10"):
        check_paintings(few)
    mixed = _crops(tmp_path / "mixed", 12, (136, 128), (200, 120, 40))
    (mixed / "notes.jpg").write_text("not a picture")
    check = check_paintings(mixed)
    assert len(check.usable) == 12 and any("notes.jpg (unreadable" in r for r in check.refused)
    tiny = _crops(tmp_path / "tiny", 12, (90, 60), None)
    with pytest.raises(FinetuneError, match="0 usable paintings of 12 files.*tiny: 90x60"):
        check_paintings(tiny)
    gray = tmp_path / "gray"
    gray.mkdir()
    for p in _crops(tmp_path / "colour", 12, (136, 128), None).iterdir():
        Image.open(p).convert("L").save(gray / p.name)
    warnings = check_paintings(gray).warnings("gray")
    assert len(warnings) == 1 and "12 of 12 paintings are grayscale" in warnings[0]


def test_photos_given_as_paintings_are_flagged_and_the_cli_refuses_in_one_line(ft, tmp_path, capsys):
    camera = tmp_path / "camera"
    camera.mkdir()
    exif = Image.Exif()
    exif[0x010F], exif[0x0110] = "Canon", "EOS"
    for p in _crops(tmp_path / "src", 12, (136, 128), None).iterdir():
        Image.open(p).save(camera / p.name, exif=exif)
    assert any("camera's EXIF" in w for w in check_paintings(camera).warnings("camera"))

    def finetune_cli(*extra: str) -> tuple[int, str]:
        code = cli.main(["finetune", "--model", str(ft["base"]), "--judge", str(ft["judge"]), "--keep-styles",
                         str(ft["keep"]), "--others", str(ft["others"]), "--eval-photos", "2", "--eval-size", "64",
                         "--max-steps", "2", "--keep-count", "4", *extra])
        return code, capsys.readouterr().err

    few = _crops(tmp_path / "few", 4, (136, 128), (200, 120, 40))
    code, err = finetune_cli("--styles", str(few), "--photos", str(ft["photos"]), "--out", str(tmp_path / "o1"))
    assert code == 1 and err.strip().startswith("error: ") and "needs at least 10" in err and len(err.splitlines()) == 1
    code, err = finetune_cli("--styles", str(ft["photos"]), "--photos", str(ft["photos"]), "--out", str(tmp_path / "o2"))
    assert code == 1 and "overlap" in err
    code, err = finetune_cli("--styles", str(ft["paintings"]), "--out", str(tmp_path / "o3"))  # offline, no --photos
    assert code == 2 and "give --photos DIR" in err
    code, err = finetune_cli("--styles", str(ft["paintings"]), "--photos", str(ft["photos"]), "--out",
                             str(tmp_path / "o4"), "--push-to-hub", "not a repo id")
    assert code == 2 and "--push-to-hub" in err
    code, err = finetune_cli("--styles", str(ft["paintings"]), "--photos", str(ft["photos"]), "--out",
                             str(tmp_path / "o5"), "--minutes", "0.001")
    assert code == 1 and "leaves no time to train" in err
    code, err = finetune_cli("--styles", str(ft["paintings"]), "--photos", str(ft["photos"]), "--out",
                             str(tmp_path / "o6"), "--style-weight", "0")
    assert code == 2 and "--style-weight must be positive" in err


def test_an_existing_model_is_not_overwritten(ft, finetuned):
    out, _, _ = finetuned
    with pytest.raises(FinetuneError, match="already holds a model"):
        run_finetune(_config(ft, out))


def test_push_uploads_the_folder_and_offline_says_so_in_one_line(finetuned, monkeypatch):
    import huggingface_hub

    out, _, _ = finetuned
    files = upload_files(out / "model")
    assert files == ["model.safetensors", "config.json", "README.md", "training.json", "style_bank.safetensors",
                     "eval/contact_sheet.jpg", "eval/summary.md", "eval/pairs.csv"]
    with pytest.raises(FinetuneError) as offline:  # conftest sets HF_HUB_OFFLINE=1
        finetune.push(out / "model", "me/kuindzhi-adain")
    assert str(offline.value) == (f"offline: nothing pushed; {out / 'model'} is ready, upload it later with "
                                  f"`hf upload me/kuindzhi-adain {out / 'model'}`")
    calls = []
    monkeypatch.setattr(finetune, "hub_reachable", lambda: True)
    monkeypatch.setattr(huggingface_hub, "create_repo", lambda repo, **kw: calls.append(("create", repo, kw)))
    monkeypatch.setattr(huggingface_hub, "upload_folder", lambda **kw: calls.append(("upload", kw)) or "https://x/c")
    assert finetune.push(out / "model", "me/kuindzhi-adain", private=True) == "https://x/c"
    (_, repo, create_kw), (_, upload_kw) = calls
    assert repo == "me/kuindzhi-adain" and create_kw["private"] and create_kw["exist_ok"]
    assert upload_kw["repo_id"] == "me/kuindzhi-adain" and upload_kw["allow_patterns"] == files
    assert upload_kw["folder_path"] == str(out / "model")


@pytest.mark.slow
def test_the_command_runs_end_to_end_and_an_offline_push_is_one_error_line(ft, tmp_path, capsys):
    out = tmp_path / "run"
    code = cli.main(["finetune", "--styles", str(ft["paintings"]), "--photos", str(ft["photos"]), "--out", str(out),
                     "--model", str(ft["base"]), "--judge", str(ft["judge"]), "--keep-styles", str(ft["keep"]),
                     "--others", str(ft["others"]), "--eval-photos", "2", "--eval-size", "64", "--max-steps", "2",
                     "--keep-count", "4", "--minutes", "2", "--push-to-hub", "me/kuindzhi-adain"])
    captured = capsys.readouterr()
    assert code == 1
    assert "| your held-out paintings (2) | 4 |" in captured.out  # the table is printed
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: offline: nothing pushed; {out / 'model'} is ready, upload it later with "
                      f"`hf upload me/kuindzhi-adain {out / 'model'}`"]
    assert f"wrote {out / 'model'}" in captured.err
    card = (out / "model" / "README.md").read_text()
    assert 'AdaIN.from_pretrained("me/kuindzhi-adain")' in card  # the card names where it is going


def test_training_stops_at_the_callers_deadline_with_its_setup_counted(ft, tmp_path):
    """``train(stop_at=...)``: the budget of ``adain finetune`` counts the pools' and caches' setup, and a
    deadline already passed still ends with one step, a checkpoint and a saved model."""
    import time

    from accelerate import Accelerator

    from adain_hub.training import TrainConfig, resolve_mixed_precision, train

    precision = resolve_mixed_precision("auto")
    config = TrainConfig(content_dataset=str(ft["photos"]), style_dataset=str(ft["keep"]), output_dir=str(tmp_path),
                         pretrained=str(ft["base"]), encoder_from=str(ft["judge"]), batch_size=2, styles_per_batch=2,
                         image_size=64, resize=96, max_steps=50, log_with=None, target_cache=8,
                         mixed_precision=precision)
    steps: list[int] = []
    train(config, Accelerator(cpu=True, mixed_precision=precision), on_step=lambda s, _: steps.append(s),
          stop_at=time.monotonic())
    assert steps == [1] and History.load(tmp_path / "model").steps == 1


def test_a_resize_under_the_crop_is_refused_before_anything_is_scored(ft, tmp_path):
    with pytest.raises(FinetuneError, match="resize must be positive"):
        _config(ft, tmp_path / "a", resize=0)
    with pytest.raises(FinetuneError, match="resize 32 is under the 64 px crop"):
        run_finetune(_config(ft, tmp_path / "b", resize=32))
    assert not (tmp_path / "b" / "model").exists()


def test_a_rerun_after_a_failed_run_starts_clean(ft, tmp_path):
    out = tmp_path / "run"
    stale = out / "eval" / "yours"
    stale.mkdir(parents=True)
    (stale / "not-mine.jpg").write_bytes(b"")
    with pytest.raises(FinetuneError, match="did not make"):
        run_finetune(_config(ft, out))
    (out / finetune.MARKER).write_text("")
    (out / "work" / "styles" / "yours").mkdir(parents=True)
    (out / "work" / "styles" / "yours" / "stale.jpg").write_bytes(b"")
    with pytest.raises(FinetuneError, match="leaves no time to train"):  # stops after the picks, before training
        run_finetune(_config(ft, out, minutes=0.001))
    assert not (stale / "not-mine.jpg").exists() and len(list(stale.iterdir())) == 2
    assert not (out / "work" / "styles" / "yours" / "stale.jpg").exists()
