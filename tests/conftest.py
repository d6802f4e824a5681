"""Shared fixtures: a tiny random AdaIN (the real architecture at toy widths) and test images."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never wait ~23 s on DNS for the Hub (read at import)
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if "ADAIN_HUB_CACHE" not in os.environ:  # converted OpenVINO models go to a per-run folder, not ~/.cache
    import tempfile

    os.environ["ADAIN_HUB_CACHE"] = tempfile.mkdtemp(prefix="adain_hub_test_cache_")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import torch  # noqa: E402

from adain_hub import AdaIN, AdaINConfig  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
BUNDLED_MODEL = ROOT / "model_card"
TINY = AdaINConfig(channels=(4, 8, 8, 16))


@pytest.fixture
def tiny_model() -> AdaIN:
    torch.manual_seed(0)
    return AdaIN(TINY).eval()


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
