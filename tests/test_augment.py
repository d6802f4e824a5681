"""Stylizer.stylize_batch and StyleAugment: per-sample styles and alphas equal to one image at a time,
reproducible seeds, p=0 and p=1, uint8 and float, one image or a batch, odd sizes, random styles,
pickling into DataLoader workers, and use as a torchvision v2 transform."""

from __future__ import annotations

import pickle

import pytest
import torch

from adain_hub import AdaIN, AdaINConfig, StyleAugment, StyleBank, StyleBankError, Stylizer
from adain_hub.stylizer import StyleFeatures

from .conftest import FIXTURES

LITE = AdaINConfig(architecture="lite", channels=(4, 8))


@pytest.fixture(scope="module")
def lite() -> AdaIN:
    from .conftest import responsive

    torch.manual_seed(0)
    return responsive(AdaIN(LITE))


@pytest.fixture(scope="module")
def bank(lite) -> StyleBank:
    paintings = [FIXTURES / p for p in ("rocket.jpg", "coffee.png", "brick.png", "gravel.png", "astronaut.png")]
    return StyleBank.from_images(lite, paintings, size=96, backend="fp32")


@pytest.fixture(scope="module")
def photos() -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(6, 3, 40, 52, generator=g)


@pytest.mark.parametrize("backend", ["fp32", "openvino", "openvino-f32"])
def test_batch_matches_one_image_at_a_time(lite, bank, photos, backend):
    """Eager fp32, and OpenVINO's fused graph (encoder, AdaIN, decoder): in f32 it is PyTorch to float
    rounding; at the CPU's own precision (bf16 where native) within a few percent."""
    if backend == "openvino-f32":
        from adain_hub.openvino_backend import OpenVINOBackend

        stylizer = Stylizer(lite, backend=OpenVINOBackend(lite, precision="f32"))
    else:
        stylizer = Stylizer(lite, backend=backend)
    index = torch.tensor([0, 1, 2, 3, 4, 5, 5, 0])
    styles = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2])
    alpha = torch.linspace(0.3, 1.0, 8)
    out = stylizer.stylize_batch(photos, bank.mean[styles], bank.std[styles], alpha, index=index)
    assert out.shape == (8, 3, 40, 52) and out.min() >= 0 and out.max() <= 1
    reference = Stylizer(lite, backend="fp32")
    for k in range(8):
        one = reference.transform(reference.backend.encode(_padded(photos[index[k]])), [bank[int(styles[k])]],
                                  float(alpha[k]))
        expected = _unpadded(reference.backend.decode(one)).clamp(0, 1)[0]
        torch.testing.assert_close(out[k], expected, atol=0.05 if backend == "openvino" else 2e-4, rtol=0)
    assert not torch.allclose(out[6], out[5])  # the same photo, another style


def _padded(x):
    from adain_hub.images import pad_to_multiple

    return pad_to_multiple(x[None])


def _unpadded(x):
    from adain_hub.images import unpad

    return unpad(x, 40, 52)


def test_batch_refuses_mismatched_statistics(lite, bank, photos):
    with pytest.raises(ValueError, match="style means and stds"):
        Stylizer(lite, backend="fp32").stylize_batch(photos, bank.mean[:2], bank.std[:2])
    with pytest.raises(ValueError, match="alpha"):
        Stylizer(lite, backend="fp32").stylize_batch(photos[:1], bank.mean[:1], bank.std[:1], alpha=1.5)


def test_same_seed_same_output_and_every_call_differs(lite, bank, photos):
    a, b = StyleAugment(lite, bank, p=0.5, seed=3), StyleAugment(lite, bank, p=0.5, seed=3)
    batch = torch.cat([photos, photos.flip(0)])
    chosen = StyleAugment(lite, bank, p=0.5, seed=3).draw(len(batch))[0]
    assert 0 < int(chosen.sum()) < len(batch)  # this seed stylizes some samples and leaves others
    first = a(batch)
    assert torch.equal(first, b(batch))
    assert not torch.equal(first, a(batch))  # the generator moves on: the next batch gets other draws
    for i in range(len(batch)):
        assert torch.equal(first[i], batch[i]) != bool(chosen[i])


def test_p0_returns_the_input_and_p1_stylizes_everything(lite, bank, photos):
    assert StyleAugment(lite, bank, p=0.0)(photos) is photos
    out = StyleAugment(lite, bank, p=1.0, seed=0)(photos)
    assert all(not torch.allclose(out[i], photos[i], atol=0.02) for i in range(len(photos)))


def test_uint8_single_images_and_odd_sizes(lite, bank):
    g = torch.Generator().manual_seed(1)
    photo = (torch.rand(3, 21, 37, generator=g) * 255).to(torch.uint8)  # under the network's 32 px minimum
    out = StyleAugment(lite, bank, p=1.0, seed=0)(photo)
    assert out.shape == photo.shape and out.dtype == torch.uint8 and not torch.equal(out, photo)
    half = torch.rand(2, 3, 33, 45, generator=g).half()
    out = StyleAugment(lite, bank, p=1.0, seed=0)(half)
    assert out.dtype == torch.float16 and out.shape == half.shape
    with pytest.raises(ValueError, match="RGB tensors"):
        StyleAugment(lite, bank)(torch.rand(2, 1, 32, 32))


def test_alpha_zero_keeps_the_photo_as_the_network_decodes_it(lite, bank, photos):
    out = StyleAugment(lite, bank, p=1.0, alpha=0.0, seed=0)(photos)
    stylizer = Stylizer(lite, backend="auto")
    for i in range(2):  # alpha 0: AdaIN is skipped, so the style drawn does not matter
        reference = stylizer.stylize_batch(photos[i : i + 1], bank.mean[:1], bank.std[:1], alpha=0.0)[0]
        torch.testing.assert_close(out[i], reference, atol=1e-5, rtol=0)


def test_random_styles_give_each_sample_its_own_statistics(lite, bank, photos):
    augment = StyleAugment(lite, "random", p=1.0, alpha=1.0, seed=0, bank=bank)
    out = augment(photos)
    means = out.flatten(2).mean(2)
    assert torch.cdist(means, means).add(torch.eye(len(out))).min() > 1e-3
    g = torch.Generator().manual_seed(0)
    torch.rand(len(photos), generator=g), torch.rand(len(photos), generator=g)  # as draw() does
    mean, _ = bank.sample(len(photos), generator=g)
    assert not any(torch.allclose(m, r) for m in mean for r in bank.mean)  # new styles, not the bank's


def test_default_styles_are_the_models_shipped_bank(lite, bank, tmp_path):
    lite.save_pretrained(tmp_path)
    bank.save(tmp_path)
    loaded = AdaIN.from_pretrained(tmp_path)
    assert StyleAugment(loaded).bank.names == bank.names
    lite_without = AdaIN(LITE)
    with pytest.raises(ValueError, match="no style bank"):
        StyleAugment(lite_without, "random")


def test_a_folder_of_paintings_is_encoded_once(lite, tmp_path):
    for name in ("rocket.jpg", "brick.png"):
        (tmp_path / name).write_bytes((FIXTURES / name).read_bytes())
    augment = StyleAugment(lite, tmp_path, p=1.0)
    assert augment.bank.names == ("brick", "rocket")


def test_to_moves_the_work_and_keeps_the_draws(lite, bank, photos):
    augment = StyleAugment(lite, bank, p=1.0, seed=2)
    first = augment(photos)
    moved = StyleAugment(lite, bank, p=1.0, seed=2).to("cpu")
    assert moved._stylizer is None and torch.equal(moved(photos), first)


def test_feature_statistics_only_styles_are_styles(lite, bank):
    assert isinstance(bank[0], StyleFeatures) and bank[0].features is None


# DataLoader workers are forked from the process that runs them: these run in a fresh interpreter, so that
# the forks (of a process whose OpenVINO and torch thread pools are up) leave the test process as they found it
# (in one pytest process a later test's spawned worker crashed after them).
LOADER_SCRIPT = """
import pickle, sys
import torch
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2
from adain_hub import AdaIN, StyleAugment, StyleBank

folder = sys.argv[1]
lite = AdaIN.from_pretrained(folder)
bank = StyleBank.load(folder, lite)
photos = torch.load(folder + "/photos.pt")


class Photos(Dataset):
    def __init__(self, photos, transform):
        self.photos, self.transform = photos, transform

    def __len__(self):
        return len(self.photos)

    def __getitem__(self, i):
        return self.transform(self.photos[i])


# pickles into workers, and composes with torchvision
augment = StyleAugment(lite, bank, p=1.0, seed=5)
copy = pickle.loads(pickle.dumps(augment))
assert torch.equal(copy(photos), StyleAugment(lite, bank, p=1.0, seed=5)(photos))
pipeline = v2.Compose([v2.ToDtype(torch.float32, scale=True), augment, v2.RandomHorizontalFlip(p=0.0)])
batches = list(DataLoader(Photos((photos * 255).to(torch.uint8), pipeline), batch_size=3, num_workers=2))
assert [b.shape for b in batches] == [(3, 3, 40, 52)] * 2 and all(b.dtype == torch.float32 for b in batches)

# seeded workers: each re-seeds from the seed and the worker's seed, so two workers given the same photo
# stylize it differently, each epoch differs, and an epoch repeats after torch.manual_seed
same = photos[:1].expand(4, -1, -1, -1)
loader = DataLoader(Photos(same, StyleAugment(lite, bank, p=1.0, seed=7)), batch_size=1, num_workers=2)
torch.manual_seed(0)
first = [b[0] for b in loader]
second = [b[0] for b in loader]
torch.manual_seed(0)
again = [b[0] for b in loader]
assert all(torch.equal(a, b) for a, b in zip(first, again))
assert not torch.equal(first[0], first[1])
assert not all(torch.equal(a, b) for a, b in zip(first, second))
print("ok")
"""


def test_dataloader_workers_pickle_it_compose_it_and_draw_their_own_styles(lite, bank, photos, tmp_path):
    import subprocess
    import sys

    lite.save_pretrained(tmp_path)
    bank.save(tmp_path)
    torch.save(photos, tmp_path / "photos.pt")
    done = subprocess.run([sys.executable, "-c", LOADER_SCRIPT, str(tmp_path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]


def test_int8_is_calibrated_on_the_bank_cached_close_to_fp32_and_reproducible(lite, bank, photos, tmp_path,
                                                                               monkeypatch):
    """The int8 engine of the data paths: quantized once per calibration set (a second engine reads the
    cached graphs), near the fp32 result, the same output for the same seed; a bank without thumbnails
    cannot calibrate it."""
    pytest.importorskip("nncf")
    from adain_hub.int8 import INT8, calibration_from_bank, data_backend
    from adain_hub.openvino_backend import OpenVINOBackend

    monkeypatch.setenv("ADAIN_HUB_CACHE", str(tmp_path))
    images, mean, std = calibration_from_bank(bank)
    assert images.shape == (len(bank), 3, 224, 224) and not torch.equal(mean, bank.mean)  # other styles
    first = data_backend(lite, INT8, bank=bank)
    assert isinstance(first, OpenVINOBackend) and first.precision == "int8"
    quantized = sorted(tmp_path.rglob("int8-*/decoder.bin"))
    assert len(quantized) == 1
    stamp = quantized[0].stat().st_mtime_ns
    second = data_backend(lite, INT8, bank=bank)
    assert quantized[0].stat().st_mtime_ns == stamp and sorted(tmp_path.rglob("int8-*/decoder.bin")) == quantized
    styles, alpha = torch.tensor([0, 1, 2, 3, 4, 0]), torch.full((6,), 0.8)
    fp32 = Stylizer(lite, backend="fp32").stylize_batch(photos, bank.mean[styles], bank.std[styles], alpha)
    int8 = Stylizer(lite, backend=first).stylize_batch(photos, bank.mean[styles], bank.std[styles], alpha)
    again = Stylizer(lite, backend=second).stylize_batch(photos, bank.mean[styles], bank.std[styles], alpha)
    assert torch.equal(int8, again)
    psnr = 10 * torch.log10(1 / (int8 - fp32).pow(2).mean())
    assert psnr > 25, f"int8 {psnr:.1f} dB from fp32"
    assert not torch.equal(int8, fp32)  # it is quantized
    augment = StyleAugment(lite, bank, p=1.0, seed=5, backend=INT8)
    assert torch.equal(augment(photos), StyleAugment(lite, bank, p=1.0, seed=5, backend=INT8)(photos))
    bare = StyleBank(bank.names, bank.mean, bank.std, bank.encoder)
    with pytest.raises(StyleBankError, match="thumbnails"):
        data_backend(lite, INT8, bank=bare)
