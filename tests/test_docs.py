"""The Python examples in README.md, the model card and the docs/ pages run as written: the public API they
teach exists and does what they say. Each runs in a fresh interpreter, offline, in a folder holding the files it
names, with a tiny random model standing in for the bundled one (as a folder and as a Hub id). Every relative
link in README.md and docs/ points to a file that exists."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from adain_hub import AdaIN, AdaINConfig, StyleBank
from adain_hub.images import output_size

from .conftest import BUNDLED_MODEL, FIXTURES, ROOT, fake_hub_cache

DOCS = {"README": ROOT / "README.md", "model card": BUNDLED_MODEL / "README.md",
        **{f"docs/{p.name}": p for p in sorted((ROOT / "docs").glob("*.md"))}}
MUST_TEACH = {"README", "model card"}  # a docs/ page may have no Python at all

# Pages the README links that are being written right now, in another change: their links may dangle until
# they land. Delete each entry (and then this set) once its page exists.
PENDING: set[str] = set()  # pages linked before they are written
BANK_NAMES = ["van-gogh-madame-roulin", "kandinsky-houses-at-murnau"]  # names of the shipped banks the docs use


def adain_examples(markdown: Path) -> list[str]:
    """The ```python blocks that use adain_hub (the app-client example is tested in test_app.py)."""
    blocks = re.findall(r"```python\n(.*?)```", markdown.read_text(encoding="utf-8"), flags=re.S)
    return [b for b in blocks if "adain_hub" in b]


@pytest.fixture
def workdir(tmp_path: Path, tiny_model: AdaIN) -> Path:
    """The files the examples name, and every model id they load, backed by the tiny model."""
    for name, fixture in {"photo.jpg": "chelsea.png", "painting.jpg": "rocket.jpg", "a.jpg": "coffee.png",
                          "b.jpg": "brick.png"}.items():
        Image.open(FIXTURES / fixture).convert("RGB").save(tmp_path / name)
    shutil.copy(ROOT / "examples" / "mask_ellipse.png", tmp_path / "mask.png")
    _write_clip(tmp_path / "clip.mp4")
    tiny_model.save_pretrained(tmp_path / "model_card")
    lite = AdaIN(AdaINConfig(architecture="lite", channels=(4, 8)))
    lite.save_pretrained(tmp_path / "model_card_lite")
    for folder, model in (("model_card", tiny_model), ("model_card_lite", lite)):  # each ships a style bank
        StyleBank.from_images(model, [tmp_path / "a.jpg", tmp_path / "b.jpg"], names=BANK_NAMES, size=64,
                              thumbnail=0).save(tmp_path / folder)
    fake_hub_cache(tmp_path / "hub", tmp_path / "model_card", repo="adain-hub/adain-vgg19")
    return tmp_path


def _write_clip(path: Path) -> None:
    """A 12-frame clip for the video example (the clip maker of benchmarks/bench_video.py)."""
    from .test_benchmarks import load

    clips = load("bench_video")
    clips.write_clip(path, clips.still_clip(96, 64, frames=12), audio=True)


@pytest.mark.slow
@pytest.mark.parametrize("doc", DOCS, ids=list(DOCS))
def test_python_examples_run_as_written(doc: str, workdir: Path) -> None:
    examples = adain_examples(DOCS[doc])
    if doc in MUST_TEACH:
        assert examples, f"no adain_hub example in {DOCS[doc]}"
    elif not examples:
        pytest.skip(f"no adain_hub example in {doc}")
    env = dict(os.environ, HF_HUB_OFFLINE="1", HF_HUB_CACHE=str(workdir / "hub"))
    for code in examples:
        done = subprocess.run([sys.executable, "-c", code], cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=300)
        assert done.returncode == 0, f"{doc} example failed:\n{code}\n{done.stderr[-2000:]}"
    if any("out.png" in code for code in examples):  # the page's examples save a result: check it
        out, photo = Image.open(workdir / "out.png"), Image.open(workdir / "photo.jpg")
        assert out.size == photo.size  # a 451x300 photo is under the 512 px cap: stylized at its own size
        assert out.getextrema() != photo.getextrema() or list(out.getdata()) != list(photo.getdata())


@pytest.mark.slow
def test_quick_start_command_runs_as_written(tmp_path: Path) -> None:
    """The README's first command, after its `pip install -e .`: the bundled model, default backend."""
    readme = DOCS["README"].read_text(encoding="utf-8")
    command = next(line for line in readme.splitlines() if line.startswith("pip install -e . && adain stylize"))
    argv = command.split(" && ", 1)[1].split()
    script = Path(sys.executable).parent / argv[0]
    assert script.exists(), "the `adain` console script is not installed: pip install -e ."
    for folder in ("tests", "examples"):  # the paths it names, relative to a clone's root
        (tmp_path / folder).symlink_to(ROOT / folder)
    done = subprocess.run([str(script), *argv[1:]], cwd=tmp_path, env=dict(os.environ, HF_HUB_OFFLINE="1"),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    inputs = [Path(a) for a in argv[2 : argv.index("--style")]]  # adain stylize PHOTO... --style PAINTING
    assert inputs and all((ROOT / p).is_file() for p in inputs)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(f"{p.stem}.png" for p in inputs)
    for path in inputs:
        photo, out = Image.open(ROOT / path), Image.open(tmp_path / "out" / f"{path.stem}.png")
        assert out.size == output_size(*photo.size, 512)  # the default cap, aspect ratio kept


LINKED = {"README": ROOT / "README.md", **{f"docs/{p.name}": p for p in sorted((ROOT / "docs").glob("*.md"))}}


def relative_links(markdown: Path) -> list[str]:
    """The targets of `[text](path)` and `![alt](path)` outside code, less web, mail and in-page links."""
    text = re.sub(r"```.*?```", "", markdown.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    targets = re.findall(r"\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    return [t for t in targets if not t.startswith(("http://", "https://", "#", "mailto:"))]


@pytest.mark.parametrize("page", LINKED, ids=list(LINKED))
def test_relative_links_point_to_existing_files(page: str) -> None:
    links = relative_links(LINKED[page])
    missing = []
    for link in links:
        target = (LINKED[page].parent / link.split("#", 1)[0]).resolve()
        if not target.exists() and target.relative_to(ROOT).as_posix() not in PENDING:
            missing.append(link)
    assert not missing, f"{page} links to files that do not exist: {missing}"
