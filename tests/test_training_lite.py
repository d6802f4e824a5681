"""Training the lite architecture with a VGG-19 loss network, and the identity loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from accelerate import Accelerator
from safetensors.torch import load_file

from adain_hub import AdaIN, AdaINConfig
from adain_hub.training import StyleTransferLoss, TrainConfig, build_model, train

from .conftest import TINY
from .test_training import PRECISION, _config, _fresh_accelerator_state, data, tiny_source  # noqa: F401


def test_lite_run_trains_the_whole_network_and_saves_only_it(data, tiny_source, tmp_path):
    logs = []
    config = _config(data, tmp_path, tiny_source, architecture="lite", identity_weight=5.0, max_steps=2)
    model = train(config, Accelerator(cpu=True, mixed_precision=PRECISION), on_step=lambda s, l: logs.append(l))
    assert all(torch.isfinite(torch.tensor([l["loss"], l["identity"]])).all() and l["identity"] > 0 for l in logs)
    loaded = AdaIN.from_pretrained(tmp_path / "model")
    assert loaded.config.architecture == "lite" and not loaded.is_vgg
    saved = load_file(tmp_path / "model" / "model.safetensors")
    assert set(saved) == set(model.state_dict())  # the VGG loss network is not part of the model
    torch.manual_seed(0)
    fresh = AdaIN(AdaINConfig(architecture="lite"))
    assert fresh.encoder.stem.conv1[1].weight.shape == loaded.encoder.stem.conv1[1].weight.shape
    card = (tmp_path / "model" / "README.md").read_text()
    assert "adain-lite" in card and "loss network" in card and "| identity_weight | 5.0 |" in card


def test_identity_loss_is_the_photo_rebuilt_from_its_own_features():
    torch.manual_seed(0)
    model = AdaIN(TINY)
    content, style = torch.rand(2, 3, 32, 32), torch.rand(2, 3, 32, 32)
    plain = StyleTransferLoss(model)(content, style)
    with_identity = StyleTransferLoss(model, identity=True)(content, style)
    with torch.no_grad():
        expected = F.mse_loss(model.decode(model.encode(content)[-1]), content)
    assert plain.identity == 0
    assert torch.allclose(with_identity.identity, expected, rtol=1e-5)
    # the stylized batch and its losses do not depend on the identity term riding along
    assert torch.allclose(with_identity.output, plain.output, atol=1e-5)
    assert torch.allclose(with_identity.content, plain.content, rtol=1e-4)


def test_lite_losses_are_measured_by_the_vgg_loss_network():
    torch.manual_seed(0)
    vgg, lite = AdaIN(TINY), AdaIN(AdaINConfig(architecture="lite", channels=(4, 8)))
    losses = StyleTransferLoss(lite, vgg.encoder)(torch.rand(2, 3, 32, 32), torch.rand(1, 3, 32, 32))
    losses.content.add(losses.style).backward()
    assert all(p.grad is not None for p in lite.parameters())  # encoder and decoder both learn
    assert all(p.grad is None for p in vgg.parameters())
    with pytest.raises(ValueError, match="loss network"):
        StyleTransferLoss(lite)


def test_lite_needs_a_vgg_loss_network(tmp_path, tiny_source):
    with pytest.raises(ValueError, match="encoder_from"):
        build_model(TrainConfig(architecture="lite", encoder_from=None, pretrained=None))
    lite_dir = tmp_path / "lite"
    AdaIN(AdaINConfig(architecture="lite", channels=(4, 8))).save_pretrained(lite_dir)
    with pytest.raises(ValueError, match="must be a VGG-19 model"):
        build_model(TrainConfig(architecture="lite", encoder_from=str(lite_dir)))
    model, loss_network = build_model(TrainConfig(pretrained=str(lite_dir), encoder_from=tiny_source))
    assert not model.is_vgg and loss_network is not None
    assert not any(p.requires_grad for p in loss_network.parameters())
