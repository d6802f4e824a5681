"""ONNX export: every exported graph, run with plain onnxruntime, matches the fp32 Stylizer.

Both architectures: the bundled VGG model (``model_card/``), a lite model built here (random weights
and the real widths, exported by ``adain export``), a tiny VGG at another opset, and the trained lite
model in ``model_card_lite/`` when that folder exists. Skipped when onnx, onnxscript or onnxruntime
is missing (``pip install -e '.[dev]'`` installs them).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
ort = pytest.importorskip("onnxruntime")

import onnx  # noqa: E402

from adain_hub import AdaIN, AdaINConfig, Stylizer  # noqa: E402
from adain_hub.cli import main  # noqa: E402
from adain_hub.onnx_export import GRAPHS, adain_step, crop_box, export  # noqa: E402

from .conftest import BUNDLED_MODEL, FIXTURES, ROOT, blurred_lite, responsive  # noqa: E402

pytestmark = pytest.mark.slow
LITE_MODEL = ROOT / "model_card_lite"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two images in [0, 1]."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def photo(size: tuple[int, int] = (512, 384)) -> Image.Image:
    return Image.open(FIXTURES / "coffee.png").convert("RGB").resize(size, Image.Resampling.LANCZOS)


def painting(size: tuple[int, int] = (512, 512)) -> Image.Image:
    path = ROOT / "examples" / "kandinsky_improvisation_30.jpg"
    return Image.open(path).convert("RGB").resize(size, Image.Resampling.LANCZOS)


def array(img: Image.Image) -> np.ndarray:
    """PIL RGB -> (1, 3, H, W) float32 in [0, 1], the graphs' input."""
    return (np.asarray(img, np.float32) / 255.0).transpose(2, 0, 1)[None].copy()


def reference(model: AdaIN, content: Image.Image, style: Image.Image, alpha: float) -> np.ndarray:
    """The fp32 Stylizer's result as (1, 3, H, W) in [0, 1]."""
    out = Stylizer(model, backend="fp32")(content, style, alpha=alpha)
    return array(out)


class Graphs:
    """The three exported sessions of one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sessions = {name: ort.InferenceSession(str(folder / name), providers=["CPUExecutionProvider"])
                         for name in GRAPHS}

    def stylize(self, content: Image.Image, style: Image.Image, alpha: float) -> np.ndarray:
        feeds = {"content": array(content), "style": array(style), "alpha": np.array(alpha, np.float32)}
        return self.sessions["stylize.onnx"].run(["image"], feeds)[0]

    def halves(self, content: Image.Image, style: Image.Image, alpha: float) -> np.ndarray:
        encoder, decoder = self.sessions["encoder.onnx"], self.sessions["decoder.onnx"]
        _, s_mean, s_std = encoder.run(None, {"image": array(style)})
        features, c_mean, c_std = encoder.run(None, {"image": array(content)})
        padded = decoder.run(None, {"features": adain_step(features, c_mean, c_std, s_mean, s_std, alpha)})[0]
        w, h = content.size
        top, left = crop_box(h, w)
        return padded[:, :, top : top + h, left : left + w]


@pytest.fixture(scope="module")
def vgg(tmp_path_factory) -> tuple[AdaIN, Graphs]:
    model = AdaIN.from_pretrained(BUNDLED_MODEL)
    folder = tmp_path_factory.mktemp("onnx_vgg")
    export(model, folder, source="model_card")
    return model, Graphs(folder)


@pytest.fixture(scope="module")
def lite(tmp_path_factory) -> tuple[AdaIN, Graphs]:
    """A lite model with the real widths and random weights, saved and exported by the CLI."""
    torch.manual_seed(1)
    model = responsive(AdaIN(AdaINConfig(architecture="lite")))
    saved, folder = tmp_path_factory.mktemp("lite_model"), tmp_path_factory.mktemp("onnx_lite")
    model.save_pretrained(saved)
    assert main(["export", "--model", str(saved), "--out", str(folder)]) == 0
    return AdaIN.from_pretrained(saved), Graphs(folder)


def test_bundled_vgg_stylize_graph_matches_the_stylizer(vgg):
    model, graphs = vgg
    content, style = photo(), painting()
    for alpha in (1.0, 0.6):
        ref = reference(model, content, style, alpha)
        got = graphs.stylize(content, style, alpha)
        assert got.shape == ref.shape == (1, 3, 384, 512)
        assert 0.0 <= got.min() and got.max() <= 1.0
        assert psnr(got, ref) >= 40.0, (alpha, psnr(got, ref))
    halves = graphs.halves(content, style, 0.6)
    assert psnr(halves, ref) >= 40.0
    meta = {p.key: p.value for p in onnx.load(str(graphs.folder / "stylize.onnx")).metadata_props}
    assert meta["architecture"] == "vgg19" and meta["feature_channels"] == "512"


def test_lite_graphs_match_the_stylizer_at_any_size(lite):
    model, graphs = lite
    content, style = photo(), painting()
    ref = reference(model, content, style, 1.0)
    got = graphs.stylize(content, style, 1.0)
    assert got.shape == (1, 3, 384, 512) and got.std() > 0.1  # a spread of values, not a flat picture
    assert psnr(got, ref) >= 40.0
    assert psnr(graphs.halves(content, style, 1.0), ref) >= 40.0
    # sides that are not multiples of 8, a style of another shape, and alpha blending the content back in
    small, odd_style = photo((77, 50)), painting((90, 64))
    for alpha in (0.0, 0.5):
        ref = reference(model, small, odd_style, alpha)
        assert graphs.stylize(small, odd_style, alpha).shape == ref.shape == (1, 3, 50, 77)
        assert psnr(graphs.stylize(small, odd_style, alpha), ref) >= 40.0
        assert psnr(graphs.halves(small, odd_style, alpha), ref) >= 40.0
    zero, full = graphs.stylize(small, odd_style, 0.0), graphs.stylize(small, odd_style, 1.0)
    assert psnr(zero, full) < 35.0  # alpha reaches the graph: 0 and 1 are different pictures


def test_tiny_vgg_exports_at_another_opset(tmp_path, tiny_model):
    saved, folder = tmp_path / "tiny", tmp_path / "onnx"
    responsive(tiny_model).save_pretrained(saved)
    assert main(["export", "--model", str(saved), "--out", str(folder), "--opset", "20"]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", *sorted(GRAPHS)]
    for name in GRAPHS:
        proto = onnx.load(str(folder / name))
        assert [o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")] == [20]
    graphs, content, style = Graphs(folder), photo((96, 72)), painting((64, 64))
    ref = reference(AdaIN.from_pretrained(saved), content, style, 0.7)
    assert psnr(graphs.stylize(content, style, 0.7), ref) >= 40.0
    assert psnr(graphs.halves(content, style, 0.7), ref) >= 40.0


@pytest.mark.skipif(not (LITE_MODEL / "model.safetensors").exists(), reason="model_card_lite/ has not shipped yet")
def test_shipped_lite_model_exports_and_matches(tmp_path):
    model = AdaIN.from_pretrained(LITE_MODEL)
    export(model, tmp_path, source="model_card_lite")
    graphs, content, style = Graphs(tmp_path), photo(), painting()
    ref = reference(model, content, style, 1.0)
    assert psnr(graphs.stylize(content, style, 1.0), ref) >= 40.0
    assert psnr(graphs.halves(content, style, 1.0), ref) >= 40.0


def test_folder_readme_example_runs_as_written(lite, tmp_path):
    """The Python block of the README written next to the graphs, run in that folder as it stands."""
    _, graphs = lite
    readme = (graphs.folder / "README.md").read_text(encoding="utf-8")
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    for name in GRAPHS:
        (tmp_path / name).symlink_to(graphs.folder / name)
    photo((120, 90)).save(tmp_path / "photo.jpg")
    painting((100, 100)).save(tmp_path / "painting.jpg")
    check = "\nassert image.shape == halves.shape == (1, 3, 90, 120) and abs(image - halves).max() < 1e-3\n"
    done = subprocess.run([sys.executable, "-c", code + check], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert Image.open(tmp_path / "stylized.png").size == (120, 90)


def test_export_errors_are_one_line(tmp_path, capsys, tiny_model):
    saved = tmp_path / "tiny"
    tiny_model.save_pretrained(saved)
    (tmp_path / "file").write_text("x")
    cases = [
        (["--model", str(saved), "--out", str(tmp_path / "o"), "--opset", "13"], 2, "--opset"),
        (["--model", str(saved), "--out", str(tmp_path / "file")], 2, "must be a folder"),
        (["--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")], 1, "missing"),
    ]
    for argv, code, words in cases:
        assert main(["export", *argv]) == code
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and err[0].startswith("error:") and words in err[0], err
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_export_carries_the_models_famous_paintings_for_pages(tmp_path, tiny_model, capsys):
    """A model with a style bank exports styles.json: names, credits, thumbnails and the bank's statistics,
    the same float32 numbers; --no-styles leaves it out; a bank of another encoder is one line, before
    anything is written."""
    import base64
    import io
    import json

    from adain_hub import StyleBank

    saved = tmp_path / "tiny"
    responsive(tiny_model).save_pretrained(saved)
    paintings = [ROOT / "examples" / "kandinsky_improvisation_30.jpg", ROOT / "examples" / "van_gogh_madame_roulin.jpg"]
    bank = StyleBank.from_images(tiny_model, paintings, names=["kandinsky", "van-gogh"],
                                 credits=["Kandinsky, Improvisation 30", "Van Gogh, Madame Roulin"], backend="fp32")
    bank.save(saved)
    out = tmp_path / "onnx"
    assert main(["export", "--model", str(saved), "--out", str(out)]) == 0
    assert "styles.json" in capsys.readouterr().err  # the one line the command says
    data = json.loads((out / "styles.json").read_text(encoding="utf-8"))
    assert data["format"] == "adain-hub-web-styles/1" and data["channels"] == bank.channels
    assert [s["name"] for s in data["styles"]] == ["kandinsky", "van-gogh"]
    assert data["styles"][1]["credit"] == "Van Gogh, Madame Roulin"
    for i, style in enumerate(data["styles"]):
        # the page reads these into Float32Arrays: exactly the bank's float32 numbers
        assert np.array_equal(np.array(style["mean"], np.float32), bank.mean[i].numpy())
        assert np.array_equal(np.array(style["std"], np.float32), bank.std[i].numpy())
        head, _, jpeg = style["thumbnail"].partition(",")
        assert head == "data:image/jpeg;base64" and Image.open(io.BytesIO(base64.b64decode(jpeg))).format == "JPEG"
    assert "`styles.json` holds the model's 2 famous paintings" in (out / "README.md").read_text(encoding="utf-8")

    bare = tmp_path / "bare"
    assert main(["export", "--model", str(saved), "--out", str(bare), "--no-styles"]) == 0
    assert not (bare / "styles.json").exists() and (bare / "decoder.onnx").exists()

    torch.manual_seed(9)
    AdaIN(tiny_model.config).save_pretrained(other := tmp_path / "other")  # another encoder, the same bank
    bank.save(other)
    capsys.readouterr()
    assert main(["export", "--model", str(other), "--out", str(tmp_path / "refused")]) == 1
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "another encoder" in err[0] and "--no-styles" in err[0], err
    assert not (tmp_path / "refused").exists()


def test_a_decoder_with_a_blur_after_its_pixel_shuffles_exports_and_matches(tmp_path):
    """Edge padding and the fixed depthwise blur (the lite decoder's anti-aliasing) go through the exporter
    and onnxruntime as the rest does."""
    from adain_hub.model import ShuffleBlur

    model = blurred_lite(4)
    assert sum(isinstance(m, ShuffleBlur) for m in model.decoder.modules()) == 2
    export(model, tmp_path)
    nodes = onnx.load(str(tmp_path / "decoder.onnx")).graph.node
    assert {"Pad", "DepthToSpace"} <= {node.op_type for node in nodes}
    modes = {a.s for node in nodes if node.op_type == "Pad" for a in node.attribute if a.name == "mode"}
    assert b"edge" in modes  # the blurs' replicated edges, beside the convolutions' reflection
    grouped = [a.i for node in nodes if node.op_type == "Conv" for a in node.attribute if a.name == "group"]
    assert sum(g > 1 for g in grouped) == 2  # the two depthwise blurs
    graphs, content, style = Graphs(tmp_path), photo((200, 150)), painting((128, 128))
    for alpha in (1.0, 0.5):
        ref = reference(model, content, style, alpha)
        assert psnr(graphs.stylize(content, style, alpha), ref) >= 40.0
        assert psnr(graphs.halves(content, style, alpha), ref) >= 40.0
