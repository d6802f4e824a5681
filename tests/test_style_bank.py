"""StyleBank: statistics equal to encoding the paintings, a bit-exact safetensors round trip, refusal of
another encoder's bank, the banks shipped with both bundled models (credits included) and found by
``from_pretrained`` from a folder and from an offline Hub cache, and ``adain stylize --style NAME``."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from adain_hub import AdaIN, AdaINConfig, StyleBank, StyleBankError, Stylizer
from adain_hub.cli import main
from adain_hub.model import STYLE_BANK_FILE

from .conftest import FIXTURES, ROOT, fake_hub_cache

LITE = AdaINConfig(architecture="lite", channels=(4, 8))
PAINTINGS = ["rocket.jpg", "coffee.png", "brick.png", "gravel.png"]


@pytest.fixture
def lite() -> AdaIN:
    torch.manual_seed(0)
    return AdaIN(LITE).eval()


@pytest.fixture
def bank(lite: AdaIN) -> StyleBank:
    return StyleBank.from_images(lite, [FIXTURES / p for p in PAINTINGS], credits=["A", "B", "C", "D"], size=128,
                                 backend="fp32")


def test_statistics_are_those_the_stylizer_encodes(lite, bank):
    stylizer = Stylizer(lite, backend="fp32", style_size=128)
    for i, painting in enumerate(PAINTINGS):
        encoded = stylizer.encode_style(FIXTURES / painting)
        torch.testing.assert_close(bank[i].mean, encoded.mean)
        torch.testing.assert_close(bank[Path(painting).stem].std, encoded.std)
    assert bank.names == ("rocket", "coffee", "brick", "gravel") and bank.channels == LITE.feature_channels


def test_a_bank_style_stylizes_as_its_painting_does(lite, bank):
    stylizer = Stylizer(lite, backend="fp32", style_size=128)
    by_bank = stylizer(FIXTURES / "chelsea.png", bank["coffee"], alpha=0.7)
    by_image = stylizer(FIXTURES / "chelsea.png", FIXTURES / "coffee.png", alpha=0.7)
    assert np.array_equal(np.asarray(by_bank), np.asarray(by_image))
    with pytest.raises(ValueError, match="WCT needs"):
        stylizer(FIXTURES / "chelsea.png", bank["coffee"], method="wct")


def test_round_trip_through_safetensors_is_exact(lite, bank, tmp_path):
    path = bank.save(tmp_path / "bank.safetensors")
    back = StyleBank.load(path, lite)
    assert back.names == bank.names and back.credits == ("A", "B", "C", "D") and back.encoder == bank.encoder
    assert torch.equal(back.mean, bank.mean) and torch.equal(back.std, bank.std)
    assert back.thumbnails == bank.thumbnails and back.thumbnail("rocket").size[0] <= 96


def test_another_encoders_bank_is_refused_in_one_line(lite, bank, tmp_path):
    path = bank.save(tmp_path / "bank.safetensors")
    torch.manual_seed(1)
    other = AdaIN(LITE)
    with pytest.raises(StyleBankError, match="built for another encoder") as info:
        StyleBank.load(path, other)
    assert "\n" not in str(info.value)
    (tmp_path / "weights.safetensors").write_bytes((ROOT / "model_card_lite" / "model.safetensors").read_bytes())
    with pytest.raises(StyleBankError, match="not a style bank"):
        StyleBank.load(tmp_path / "weights.safetensors")
    with pytest.raises(StyleBankError, match="not a style in this bank"):
        bank["no-such-painting"]


def test_a_vgg_bank_outlives_a_new_decoder(tiny_model, tmp_path):
    """The VGG encoder is frozen: a bank built before fine-tuning the decoder still fits."""
    bank = StyleBank.from_images(tiny_model, [FIXTURES / "rocket.jpg", FIXTURES / "brick.png"], size=64)
    with torch.no_grad():
        for p in tiny_model.decoder.parameters():
            p.add_(0.1)
    bank.check(tiny_model)


def test_random_styles_follow_the_banks_gaussian(bank):
    g = torch.Generator().manual_seed(0)
    mean, std = bank.sample(4000, generator=g)
    assert (std > 0).all() and len(set(map(tuple, mean.tolist()))) == 4000
    torch.testing.assert_close(mean.mean(0), bank.mean.mean(0), atol=0.05 * bank.mean.std(0).max().item() + 1e-3,
                               rtol=0)
    logs = torch.cat([bank.mean, bank.std.log()], 1)
    draws = torch.cat([mean, std.log()], 1)
    torch.testing.assert_close(torch.cov(draws.T), torch.cov(logs.T), atol=0.1 * torch.cov(logs.T).abs().max().item(),
                               rtol=0)


@pytest.mark.parametrize("folder", ["model_card_lite", "model_card"])
def test_both_bundled_models_ship_a_bank_with_credits(folder):
    model = AdaIN.from_pretrained(ROOT / folder)
    assert model.style_bank_file == str(ROOT / folder / STYLE_BANK_FILE)
    bank = StyleBank.from_pretrained(model)  # checked against the model's encoder
    assert len(bank) == 35 and all(credit.count(". ") >= 2 and "http" in credit for credit in bank.credits)
    assert "van-gogh-madame-roulin" in bank and all(bank.thumbnail(i) is not None for i in range(len(bank)))
    card = (ROOT / folder / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in card for name in bank.names)


def test_bank_comes_with_a_model_from_an_offline_hub_cache(lite, bank, tmp_path, monkeypatch):
    lite.save_pretrained(tmp_path / "folder")
    bank.save(tmp_path / "folder")
    repo = fake_hub_cache(tmp_path / "hub", tmp_path / "folder", repo="someone/lite-with-bank")
    snapshot = next((tmp_path / "hub").glob("models--someone--lite-with-bank/snapshots/*"))
    shutil.copy(tmp_path / "folder" / STYLE_BANK_FILE, snapshot / STYLE_BANK_FILE)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "hub"))
    model = AdaIN.from_pretrained(repo, local_files_only=True)
    assert model.style_bank_file is not None
    assert StyleBank.from_pretrained(model).names == bank.names
    (snapshot / STYLE_BANK_FILE).unlink()
    assert AdaIN.from_pretrained(repo, local_files_only=True).style_bank_file is None


def test_cli_takes_a_bank_name_as_a_style_offline(capsys, lite, bank, tmp_path):
    lite.save_pretrained(tmp_path / "model")
    bank.save(tmp_path / "model")
    photo = tmp_path / "photo.png"
    Image.open(FIXTURES / "chelsea.png").convert("RGB").resize((96, 64)).save(photo)
    args = [str(photo), "--model", str(tmp_path / "model"), "--size", "64"]
    assert main(["stylize", *args, "--style", "coffee", "--out", str(tmp_path / "a")]) == 0
    assert main(["stylize", *args, "--style", str(FIXTURES / "coffee.png"), "--out", str(tmp_path / "b")]) == 0
    by_name, by_file = Image.open(tmp_path / "a" / "photo.png"), Image.open(tmp_path / "b" / "photo.png")
    assert by_name.size == (64, 43) and by_name.size == by_file.size  # bank built at 128 px, the file at 64 px
    capsys.readouterr()
    assert main(["stylize", *args, "--style", "cofee", "--out", str(tmp_path / "c")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no such file: 'cofee' is not a style in this bank") and "\n" not in err
    assert main(["stylize", *args, "--style", "coffee", "--preserve-color", "--out", str(tmp_path / "c")]) == 2
    shutil.copytree(tmp_path / "model", tmp_path / "bare")
    (tmp_path / "bare" / STYLE_BANK_FILE).unlink()
    capsys.readouterr()
    bare = [str(photo), "--model", str(tmp_path / "bare"), "--style", "coffee", "--out", str(tmp_path / "c")]
    assert main(["stylize", *bare]) == 1
    assert "has no style bank" in capsys.readouterr().err
