"""Shared fixtures: a tiny random AdaIN (the real architecture at toy widths), test images, and what
the browser tests share (Debian's Chromium and its flags, screenshots kept as artifacts)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait ~23 s on DNS for the Hub (read at import)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if "ADAIN_HUB_CACHE" not in os.environ:  # converted OpenVINO models go to a per-run folder, not ~/.cache
    import tempfile

    os.environ["ADAIN_HUB_CACHE"] = tempfile.mkdtemp(prefix="adain_hub_test_cache_")

import shutil  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from adain_hub import AdaIN, AdaINConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BUNDLED_MODEL = ROOT / "model_card"
TINY = AdaINConfig(channels=(4, 8, 8, 16))

# Debian's Chromium (apt-get install -y chromium); `playwright install` is never used
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# Chromium's software WebGPU adapter (SwiftShader, on the CPU: slow, so small pictures): the page's WebGPU
# path runs where no GPU is
WEBGPU_ARGS = [a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + [
    "--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-angle=swiftshader", "--use-webgpu-adapter=swiftshader"]


def keep_artifact(path: Path) -> None:
    """With ``ADAIN_ARTIFACTS`` set, copy ``path`` (a screenshot) to ``test-artifacts/`` in the
    repository, or to the folder the variable names if it is a path."""
    target = os.environ.get("ADAIN_ARTIFACTS")
    if not target:
        return
    folder = Path(target) if target not in ("1", "true", "yes") else ROOT / "test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, folder / path.name)


@pytest.fixture
def tiny_model() -> AdaIN:
    torch.manual_seed(0)
    return AdaIN(TINY).eval()


def responsive(model: AdaIN, seed: int = 0) -> AdaIN:
    """``model`` with random weights that respond: every convolution re-drawn He-normal (bias 0), so
    that the output depends on the photo and on AdaIN's statistics (PyTorch's default draw shrinks the
    signal at every layer, and a random decoder then paints nearly the same flat picture for any style
    or alpha), and the last one rescaled so that the output has mean 0.5 and std 0.25. Comparisons of
    random-weight models (ONNX, the browser) then measure errors on a real spread of values. Only the
    pixel shuffle, which is linear, follows the last convolution."""
    g = torch.Generator().manual_seed(seed)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        for conv in convs:
            fan_in = conv.weight[0].numel()
            conv.weight.copy_(torch.randn(conv.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
            conv.bias.zero_()
        sample, style = torch.rand(1, 3, 64, 64, generator=g), torch.rand(1, 3, 64, 64, generator=g)
        out = model(sample, style)
        last = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Conv2d)][-1]
        scale = 0.25 / out.std()
        last.weight.mul_(scale)
        last.bias.add_(0.5 - scale * out.mean())
    return model.eval()


def blurred_lite(seed: int) -> AdaIN:
    """A lite model with the decoder's anti-aliasing blurs (``AdaINConfig(antialias=True)``: a replicated
    2 x 2 average after its last ReLU and after its last pixel shuffle), responsive random weights."""
    torch.manual_seed(seed)
    return responsive(AdaIN(AdaINConfig(architecture="lite", antialias=True)))


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


def fake_hub_cache(cache: Path, folder: Path, repo: str = "adain-hub/tiny") -> str:
    """Put the model saved in ``folder`` into an HF cache at ``cache`` as ``repo``, in the layout
    huggingface_hub reads offline (snapshots/<hash>/..., refs/main without newline)."""
    org, name = repo.split("/")
    commit = "0123456789abcdef0123456789abcdef01234567"
    snap = cache / f"models--{org}--{name}" / "snapshots" / commit
    snap.mkdir(parents=True)
    for f in ("config.json", "model.safetensors"):
        (snap / f).write_bytes((folder / f).read_bytes())
    refs = cache / f"models--{org}--{name}" / "refs"
    refs.mkdir()
    (refs / "main").write_text(commit)
    return repo


@pytest.fixture(scope="module")
def playwright():
    """Playwright for a browser test module (skipped without it); one per module, since it is one per thread."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    """Debian's Chromium, headless, for the module's pages."""
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield b
    finally:
        b.close()
