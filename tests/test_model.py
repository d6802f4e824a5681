"""The model: shapes, config round trip, strict bit-exact save/load, Hub ids from an offline cache."""

import json
import subprocess
import sys
import textwrap

import pytest
import torch
from safetensors.torch import load_file, save_file

from adain_hub import AdaIN, AdaINConfig
from adain_hub.model import STAGES

from .conftest import BUNDLED_MODEL, TINY, fake_hub_cache


def test_encoder_stage_shapes_and_decoder_inverts_them(tiny_model):
    x = torch.rand(2, 3, 64, 48)
    feats = tiny_model.encode(x)
    assert [tuple(f.shape) for f in feats] == [(2, 4, 64, 48), (2, 8, 32, 24), (2, 8, 16, 12), (2, 16, 8, 6)]
    assert tiny_model.decode(feats[-1]).shape == x.shape
    assert len(tiny_model.encode(x, upto="relu2_1")) == 2
    with pytest.raises(ValueError, match="unknown stage"):
        tiny_model.encode(x, upto="relu5_1")


def test_encoder_is_frozen_and_stays_in_eval(tiny_model):
    tiny_model.train()
    assert not any(p.requires_grad for p in tiny_model.encoder.parameters())
    assert all(p.requires_grad for p in tiny_model.decoder.parameters())
    assert not tiny_model.encoder.training and tiny_model.decoder.training


@pytest.mark.parametrize("mode", ["nearest", "bilinear"])
def test_save_load_round_trip_is_bit_exact(tmp_path, mode):
    torch.manual_seed(1)
    model = AdaIN(AdaINConfig(channels=(4, 8, 8, 16), upsample=mode)).eval()
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / "config.json").read_text()) == {
        "architecture": "vgg19", "blocks": 2, "channels": [4, 8, 8, 16], "upsample": mode, "antialias": False}
    loaded = AdaIN.from_pretrained(tmp_path)
    assert loaded.config == model.config
    saved = load_file(tmp_path / "model.safetensors")
    assert set(saved) == set(model.state_dict())  # every tensor is in the file ...
    for name, tensor in loaded.state_dict().items():  # ... and every one was loaded
        assert torch.equal(tensor, model.state_dict()[name]), name
    x, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 40, 40)
    with torch.no_grad():
        assert torch.equal(model(x, s), loaded(x, s))


def test_loading_is_strict(tmp_path):
    AdaIN(TINY).save_pretrained(tmp_path)
    tensors = load_file(tmp_path / "model.safetensors")
    del tensors["decoder.layers.to_rgb.1.weight"]
    save_file(tensors, tmp_path / "model.safetensors")
    with pytest.raises(RuntimeError, match="to_rgb"):
        AdaIN.from_pretrained(tmp_path)


def test_config_validation():
    with pytest.raises(ValueError, match="upsample"):
        AdaINConfig(upsample="bicubic")
    with pytest.raises(ValueError, match="channels"):
        AdaINConfig(channels=(4, 8, 8))


def test_hub_id_from_offline_cache_matches_local_folder(tmp_path):
    folder = tmp_path / "model"
    torch.manual_seed(2)
    AdaIN(TINY).save_pretrained(folder)
    repo = fake_hub_cache(tmp_path / "hub", folder)
    script = textwrap.dedent(f"""
        import torch
        from adain_hub import AdaIN
        a = AdaIN.from_pretrained({str(folder)!r})
        b = AdaIN.from_pretrained({repo!r})
        x, s = torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32)
        with torch.no_grad():
            assert torch.equal(a(x, s), b(x, s))
        assert all(torch.equal(a.state_dict()[k], v) for k, v in b.state_dict().items())
        print("identical")
    """)
    env = {"HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": str(tmp_path / "hub"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "identical" in result.stdout


def test_bundled_model_loads_with_normalised_encoder(fixtures):
    """The bundled encoder is the authors' normalised VGG: mean activations near 1 on photos."""
    from adain_hub.images import load_image, to_tensor

    model = AdaIN.from_pretrained(BUNDLED_MODEL)
    photo = to_tensor(load_image(fixtures / "coffee.png").resize((256, 168)))
    with torch.no_grad():
        feats = model.encode(photo)
    for stage, feat in zip(STAGES, feats):
        assert 0.2 < feat.mean().item() < 5.0, stage


def test_model_card_example_names_the_folder_or_the_repo(tmp_path, monkeypatch):
    from huggingface_hub import PyTorchModelHubMixin

    model = AdaIN(TINY)
    model.save_pretrained(tmp_path / "mine")
    assert f'AdaIN.from_pretrained("{tmp_path / "mine"}")' in (tmp_path / "mine" / "README.md").read_text()
    model.save_pretrained(tmp_path / "hub", repo_id="someone/painterly")
    assert 'AdaIN.from_pretrained("someone/painterly")' in (tmp_path / "hub" / "README.md").read_text()
    pushed = {}
    monkeypatch.setattr(PyTorchModelHubMixin, "push_to_hub", lambda self, repo_id, **kw: pushed.update(kw) or "url")
    model.push_to_hub("someone/painterly")
    assert pushed["model_card_kwargs"]["repo_id"] == "someone/painterly"
