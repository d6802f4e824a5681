"""The fast training loop: the frozen judge copy, cached targets, and the same losses as the plain loop."""

from __future__ import annotations

import json

import pytest
import torch
from accelerate import Accelerator
from accelerate.state import AcceleratorState
from torch import nn

from adain_hub import AdaIN, AdaINConfig
from adain_hub import functional as AF
from adain_hub.loss_network import ReflectPad1, judge_copy
from adain_hub.targets import TargetCache, flatten_stats, unflatten_stats
from adain_hub.training import StyleTransferLoss, train

from .conftest import TINY
from .test_training import PRECISION, _config, _fresh_accelerator_state, data, tiny_source  # noqa: F401


@pytest.mark.parametrize("channels_last", [False, True])
def test_cheap_padding_is_reflection_padding_forward_and_backward(channels_last):
    torch.manual_seed(0)
    x = torch.randn(2, 5, 7, 6)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    ours, ref = ReflectPad1()(a), nn.ReflectionPad2d(1)(b)
    assert torch.equal(ours, ref)
    weight = torch.randn_like(ref)
    (ours * weight).sum().backward()
    (ref * weight).sum().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)
    with pytest.raises(ValueError, match="2 pixels"):
        ReflectPad1()(torch.zeros(1, 1, 1, 5))


def test_judge_copy_computes_the_same_features_and_leaves_the_source_alone():
    torch.manual_seed(0)
    model = AdaIN(TINY)
    x = torch.rand(2, 3, 32, 32)
    judge = judge_copy(model.encoder, padding="concat")
    assert not any(isinstance(m, nn.ReflectionPad2d) for m in judge.modules())
    assert any(isinstance(m, nn.ReflectionPad2d) for m in model.encoder.modules())
    assert all(not p.requires_grad for p in judge.parameters())
    for ours, ref in zip(judge(x), model.encoder(x), strict=True):
        assert torch.allclose(ours, ref, atol=1e-5)
    half = judge_copy(model.encoder, torch.bfloat16)
    assert all(p.dtype == torch.bfloat16 for p in half.parameters())
    assert all(p.dtype == torch.float32 for p in model.encoder.parameters())
    rel = (half(x.bfloat16())[-1].float() - model.encoder(x)[-1]).norm() / model.encoder(x)[-1].norm()
    assert rel < 0.05  # bf16 rounding, not a different network


def test_a_judge_copy_computes_in_its_own_dtype_under_autocast():
    """CPU autocast runs reflection padding in float32: a judge copy left under it cast every padded
    map up to float32 and back down (half of a 128 px lite step on an AMX Xeon)."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class MapDtypes(TorchDispatchMode):  # the dtype of every floating-point map an op makes
        def __init__(self) -> None:
            super().__init__()
            self.seen: set[tuple[str, torch.dtype]] = set()

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for t in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(t, torch.Tensor) and t.dim() == 4 and t.is_floating_point():
                    self.seen.add((func.__name__, t.dtype))
            return out

    torch.manual_seed(0)
    loss = StyleTransferLoss(AdaIN(TINY), judge_dtype=torch.bfloat16)
    x = torch.rand(2, 3, 32, 32)
    with torch.autocast("cpu", dtype=torch.bfloat16), MapDtypes() as mode:
        feats = loss.vgg(x)
    assert any(name.startswith("reflection_pad2d") for name, _ in mode.seen)  # the padding was seen...
    assert {dtype for _, dtype in mode.seen} == {torch.bfloat16}, sorted(mode.seen, key=str)  # ... in bf16
    assert all(torch.equal(a, b) for a, b in zip(feats, loss.vgg(x), strict=True))  # as without autocast


def test_a_zero_padded_judge_differs_from_the_source_only_near_the_borders():
    torch.manual_seed(0)
    model = AdaIN(TINY)
    x = torch.rand(2, 3, 64, 64)
    judge = judge_copy(model.encoder, padding="zero")
    convs = [m for m in judge.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)]
    assert convs and all(m.padding == (1, 1) for m in convs)
    assert not any(isinstance(m, nn.ReflectionPad2d) for m in judge.modules())
    assert all(m.padding == (0, 0) for m in model.encoder.modules() if isinstance(m, nn.Conv2d))  # source untouched
    ours, ref = judge(x)[0], model.encoder(x)[0]  # relu1_1: one 3x3 convolution deep
    assert ours.shape == ref.shape
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    assert torch.allclose(ours[inner], ref[inner], atol=1e-5)  # the same network away from the border
    assert not torch.allclose(ours, ref, atol=1e-3)  # and another one on it
    with pytest.raises(ValueError, match="padding must be one of"):
        judge_copy(model.encoder, padding="mirror")


def test_flattened_statistics_round_trip_and_give_the_same_style_loss():
    torch.manual_seed(0)
    feats = [torch.randn(3, c, 8, 8) for c in (4, 6, 8)]
    out = [torch.randn(3, c, 8, 8) for c in (4, 6, 8)]
    stats = AF.style_statistics(feats)
    back = unflatten_stats(flatten_stats(stats), [4, 6, 8])
    for (m, s), (m2, s2) in zip(stats, back, strict=True):
        assert torch.equal(m, m2) and torch.equal(s, s2)
    assert torch.equal(AF.style_loss_to_stats(out, back), AF.style_loss(out, feats))
    with pytest.raises(ValueError, match="do not match"):
        unflatten_stats(flatten_stats(stats), [4, 6])


@pytest.mark.parametrize("architecture", ["vgg19", "lite"])
@pytest.mark.parametrize("one_style", [False, True])
def test_cached_targets_give_the_losses_of_judging_the_crops_anew(architecture, one_style):
    torch.manual_seed(0)
    vgg = AdaIN(TINY)
    model = vgg if architecture == "vgg19" else AdaIN(AdaINConfig(architecture="lite", channels=(4, 8)))
    loss = StyleTransferLoss(model, None if model.is_vgg else vgg.encoder, identity=True, judge_dtype=torch.float32)
    content, style = torch.rand(4, 3, 32, 32), torch.rand(1 if one_style else 4, 3, 32, 32)
    fresh = loss(content, style)
    cached = loss(content, style, loss.content_features(content), loss.style_targets(style))
    for name in ("content", "style", "identity", "output"):
        assert torch.allclose(getattr(cached, name), getattr(fresh, name), rtol=1e-5, atol=1e-6), name
    # and the judge copy measures what the plain loss network measures
    plain = StyleTransferLoss(model, None if model.is_vgg else vgg.encoder, identity=True)(content, style)
    assert torch.allclose(plain.content, fresh.content, rtol=1e-4) and torch.allclose(plain.style, fresh.style, rtol=1e-4)


def test_the_judge_stays_out_of_the_checkpointed_state():
    model = AdaIN(TINY)
    fast = StyleTransferLoss(model, judge_dtype=torch.bfloat16)
    assert set(fast.state_dict()) == set(StyleTransferLoss(model).state_dict())
    assert {id(p) for p in fast.parameters()} == {id(p) for p in model.parameters()}


class _Draws:
    """A stand-in pool: crop i is filled with the value i, so the cache's bookkeeping can be read off."""

    def __init__(self) -> None:
        self.made = 0

    def __call__(self, n: int):
        values = torch.arange(self.made, self.made + n, dtype=torch.float32)
        self.made += n
        return values.view(n, 1, 1, 1).expand(n, 1, 2, 2).clone(), [f"img{int(v)}" for v in values]


def test_target_cache_hands_out_crops_with_their_own_targets_and_renews_the_oldest():
    draws = _Draws()
    calls = []

    def describe(crops):
        calls.append(crops.shape[0])
        return crops.mean(dim=(1, 2, 3)).unsqueeze(1) * 10

    cache = TargetCache(draws, describe, size=8, batch=4, refresh=1.0, seed=0)
    assert calls == [4, 4] and cache.described == 8
    for step in range(8):
        crops, names, values = cache.next(4)
        assert len(set(names)) == 4  # distinct crops within a batch
        assert torch.equal(values[:, 0], crops.mean(dim=(1, 2, 3)) * 10)
        assert [f"img{int(v)}" for v in crops[:, 0, 0, 0]] == names
    # 1 new crop a step, described 4 at a time, the oldest replaced first
    assert cache.described == 16 and cache.renewed == 8 and calls == [4] * 4
    assert sorted(int(c) for c in cache.crops[:, 0, 0, 0]) == list(range(8, 16))
    with pytest.raises(ValueError, match="at least one batch"):
        TargetCache(draws, describe, size=2, batch=4, refresh=1, seed=0)
    with pytest.raises(ValueError, match="between 0"):
        TargetCache(draws, describe, size=8, batch=4, refresh=5, seed=0)


def test_fast_loop_trains_and_judges_fewer_crops_than_the_plain_one(data, tiny_source, tmp_path):
    seen = {}
    for loop in ("plain", "fast"):
        out = tmp_path / loop
        logs = []
        train(_config(data, out, tiny_source, loop=loop, max_steps=8, target_cache=8, target_refresh=0.5,
                      identity_weight=5.0),
              Accelerator(cpu=True, mixed_precision=PRECISION), on_step=lambda s, l: logs.append(l))
        assert all(torch.isfinite(torch.tensor([l["loss"], l["content"], l["style"]])).all() for l in logs)
        seen[loop] = json.loads((out / "throughput.json").read_text())
        assert AdaIN.from_pretrained(out / "model") is not None
        AcceleratorState._reset_state(True)  # a second Accelerator in the same test
    assert seen["plain"]["loop"] == "plain" and seen["plain"]["judged_per_step"] == 4  # 2 photos + 2 paintings
    assert seen["fast"]["target_cache"] == 8
    # half a batch of photos and half a batch of paintings per step, the caches' fill aside
    assert seen["fast"]["judged_per_step"] == pytest.approx(2.0)
