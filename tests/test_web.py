"""The in-browser page (``web/``) in headless Chromium: served by a plain static server, given a photo and
a painting, it paints on its canvas what the fp32 Stylizer gives in Python, and sends nothing anywhere.

The model is a lite one exported here (the trained ``model_card_lite/`` when it exists, else random
weights, which serve a numerical comparison as well). Needs Debian's Chromium, the ``playwright``
package, the ONNX exporter (``pip install -e '.[dev]'``) and onnxruntime-web in ``web/ort/`` (``npm ci`` in
``web/``); skipped, not failed, when one is missing.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

pytest.importorskip("onnx")
pytest.importorskip("onnxscript")
pytest.importorskip("playwright.sync_api")  # the browser fixtures (conftest) need it

from adain_hub import AdaIN, AdaINConfig, Stylizer  # noqa: E402
from adain_hub.images import output_size  # noqa: E402
from adain_hub.input_plan import network_plan, symmetric_index  # noqa: E402
from adain_hub.onnx_export import adain_step, crop_box, export_graph  # noqa: E402

from .conftest import (  # noqa: E402
    BUNDLED_MODEL, CHROMIUM, FIXTURES, ROOT, WEBGPU_ARGS, blurred_lite, keep_artifact, responsive)

pytestmark = pytest.mark.slow
WEB = ROOT / "web"
LITE_MODEL = ROOT / "model_card_lite"

if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)
if not (WEB / "ort" / "ort.wasm.min.mjs").exists():
    pytest.skip("onnxruntime-web is not in web/ort/ (run `npm ci` in web/)", allow_module_level=True)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


class _Handler(SimpleHTTPRequestHandler):
    """``web/`` as any static server serves it, with ``/model/`` taken from the test's export folder."""

    model_dir: Path

    def translate_path(self, path: str) -> str:
        if path.startswith("/model/"):
            return str(self.model_dir / path.removeprefix("/model/").split("?")[0])
        return super().translate_path(path)

    def log_message(self, *args) -> None:  # no access log in the test output
        pass


@contextlib.contextmanager
def served(model_dir: Path) -> Iterator[str]:
    """The page's URL while a local static server serves it, with ``/model/`` from ``model_dir``."""
    handler = type("Handler", (_Handler,), {"model_dir": model_dir})
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(WEB)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def lite(tmp_path_factory) -> tuple[AdaIN, Path]:
    """The lite model and the folder its two halves were exported to."""
    if (LITE_MODEL / "model.safetensors").exists():
        model = AdaIN.from_pretrained(LITE_MODEL)
    else:
        torch.manual_seed(2)
        model = responsive(AdaIN(AdaINConfig(architecture="lite")))
    folder = tmp_path_factory.mktemp("web_model")
    for name in ("encoder.onnx", "decoder.onnx"):
        export_graph(model, name, folder / name)
    return model, folder


@pytest.fixture(scope="module")
def site(lite) -> Iterator[str]:
    with served(lite[1]) as url:
        yield url


@pytest.fixture
def page(browser, site) -> Iterator[object]:
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(180_000)  # WASM on a CPU shared with other work; a run takes seconds alone
    page.requests = []
    page.on("request", lambda r: page.requests.append((r.method, r.url)))
    page.goto(site)
    page.wait_for_function("() => ['ready', 'error'].includes(document.body.dataset.state)")
    assert page.evaluate("document.body.dataset.state") == "ready", page.locator("#status").inner_text()
    try:
        yield page
    finally:
        page.close()


def canvas(page) -> np.ndarray:
    """The result canvas's pixels, as RGB bytes."""
    url = page.evaluate("() => document.getElementById('result').toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def wait_for_alpha(page, alpha: float) -> dict:
    page.wait_for_function(
        f"() => document.body.dataset.state === 'done' && window.adainTimes && window.adainTimes.alpha === {alpha}")
    return page.evaluate("window.adainTimes")


def test_page_paints_what_python_paints(page, lite, site, tmp_path):
    model, _ = lite
    photo = Image.open(FIXTURES / "coffee.png").convert("RGB").resize((512, 384), Image.Resampling.LANCZOS)
    painting = Image.open(ROOT / "examples" / "kandinsky_improvisation_30.jpg").convert("RGB").resize((512, 512))
    photo.save(tmp_path / "photo.png")
    painting.save(tmp_path / "painting.png")
    stylizer = Stylizer(model, backend="fp32")
    ref = {a: np.asarray(stylizer(photo, painting, alpha=a)) for a in (1.0, 0.5)}

    page.locator("#photo-input").set_input_files(str(tmp_path / "photo.png"))
    page.locator("#painting-input").set_input_files(str(tmp_path / "painting.png"))
    times = wait_for_alpha(page, 1)
    full = canvas(page)
    assert full.shape == (384, 512, 3) and times["backend"] == "wasm"  # headless, no GPU: WASM
    # the time inside the graphs (three session runs) is part of the whole, and the page's own work the rest
    assert 0 < times["graphs"] < times["photo"] + times["painting"] + times["decode"] <= times["total"], times
    # as close as the spec asks, and far closer than a result at another alpha is
    assert psnr(full, ref[1.0]) >= max(30.0, psnr(ref[0.5], ref[1.0]) + 10), (psnr(full, ref[1.0]), times)

    page.locator("#alpha").fill("0.5")  # the slider reruns the AdaIN step and the decoder only
    times = wait_for_alpha(page, 0.5)
    assert times["photo"] == 0 and times["painting"] == 0  # both kept encoded
    assert psnr(canvas(page), ref[0.5]) >= max(30.0, psnr(ref[0.5], ref[1.0]) + 10)
    assert page.locator("#download").is_enabled()
    assert "512 × 384 in" in page.locator("#time").inner_text()

    shot = tmp_path / "web_result.png"
    page.screenshot(path=str(shot), full_page=True)
    box = page.locator("#result").bounding_box()
    shown = np.asarray(Image.open(shot).convert("RGB"))[int(box["y"]) : int(box["y"] + box["height"]),
                                                           int(box["x"]) : int(box["x"] + box["width"])]
    assert shown.std() > 20  # the screenshot shows the result, not an empty canvas
    keep_artifact(shot)
    # the photo went nowhere: every request was a GET to the page's own server (or of its own blob: URLs)
    own = (site, f"blob:{site.rstrip('/')}")
    assert page.requests and all(m == "GET" and u.startswith(own) for m, u in page.requests), page.requests


def test_a_strip_and_an_icon_run_as_python_runs_them(page, lite, tmp_path):
    """A photo with a side under 32 px: the page mirrors a strip out to 32 px and cuts it back, and enlarges an
    icon, as adain_hub's input plan does, so it paints what Python paints."""
    model, _ = lite
    stylizer = Stylizer(model, backend="fp32")
    painting = Image.open(ROOT / "examples" / "kandinsky_improvisation_30.jpg").convert("RGB").resize((128, 128))
    painting.save(tmp_path / "painting.png")
    page.locator("#painting-input").set_input_files(str(tmp_path / "painting.png"))
    source = Image.open(FIXTURES / "coffee.png").convert("RGB")
    for i, (size, floor) in enumerate([((300, 20), 60.0), ((24, 16), 30.0)]):
        photo = source.resize(size, Image.Resampling.LANCZOS)
        photo.save(tmp_path / f"photo{i}.png")
        page.evaluate("() => { window.adainTimes = null; }")
        page.locator("#photo-input").set_input_files(str(tmp_path / f"photo{i}.png"))
        wait_for_alpha(page, 1)
        got = canvas(page)
        assert got.shape == (size[1], size[0], 3)
        # the strip matches to the last bit (it enlarged whole before: 16.6 dB); the icon's last step, back down to
        # 24 x 16, is the canvas's resampling against PIL's LANCZOS (34 dB here)
        assert psnr(got, np.asarray(stylizer(photo, painting))) >= floor, size


def test_page_shows_a_stylized_photo_with_the_bundled_model(browser, tmp_path):
    """Any export runs in the page: the bundled VGG model at 256 px paints a real stylized photo (the
    lite model's picture is noise until model_card_lite/ ships) and matches Python as closely."""
    model = AdaIN.from_pretrained(BUNDLED_MODEL)
    for name in ("encoder.onnx", "decoder.onnx"):
        export_graph(model, name, tmp_path / name)
    photo = Image.open(FIXTURES / "coffee.png").convert("RGB").resize((256, 192), Image.Resampling.LANCZOS)
    painting = Image.open(ROOT / "examples" / "kandinsky_improvisation_30.jpg").convert("RGB")
    painting = painting.resize((256, 256), Image.Resampling.LANCZOS)
    photo.save(tmp_path / "photo.png")
    painting.save(tmp_path / "painting.png")
    ref = np.asarray(Stylizer(model, backend="fp32")(photo, painting))
    with served(tmp_path) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(300_000)
        page.goto(url)
        page.wait_for_function("() => document.body.dataset.state === 'ready'")
        page.locator("#size").select_option("256")
        page.locator("#photo-input").set_input_files(str(tmp_path / "photo.png"))
        page.locator("#painting-input").set_input_files(str(tmp_path / "painting.png"))
        wait_for_alpha(page, 1)
        result = canvas(page)
        assert result.shape == (192, 256, 3) and psnr(result, ref) >= 30.0
        assert psnr(result, np.asarray(photo)) < 20.0  # painted, not the photo handed back
        shot = tmp_path / "web_vgg_result.png"
        page.screenshot(path=str(shot), full_page=True)
        keep_artifact(shot)
        page.close()


def test_page_runs_a_decoder_with_a_blur_after_its_pixel_shuffles(browser, tmp_path):
    """The lite decoder's anti-aliasing (edge padding and a fixed depthwise 2 x 2 average, twice)
    runs in onnxruntime-web as in Python."""
    model = blurred_lite(5)
    for name in ("encoder.onnx", "decoder.onnx"):
        export_graph(model, name, tmp_path / name)
    photo = Image.open(FIXTURES / "coffee.png").convert("RGB").resize((200, 150), Image.Resampling.LANCZOS)
    painting = Image.open(ROOT / "examples" / "kandinsky_improvisation_30.jpg").convert("RGB").resize((128, 128))
    photo.save(tmp_path / "photo.png")
    painting.save(tmp_path / "painting.png")
    with served(tmp_path) as url:
        page = browser.new_page()
        page.set_default_timeout(180_000)
        page.goto(url)
        page.wait_for_function("() => document.body.dataset.state === 'ready'")
        page.locator("#photo-input").set_input_files(str(tmp_path / "photo.png"))
        page.locator("#painting-input").set_input_files(str(tmp_path / "painting.png"))
        wait_for_alpha(page, 1)
        assert psnr(canvas(page), np.asarray(Stylizer(model, backend="fp32")(photo, painting))) >= 30.0
        page.close()


def test_page_uses_webgpu_where_the_browser_has_it(playwright, lite, site, tmp_path):
    """With a WebGPU adapter (here Chromium's software one, SwiftShader: slow, so a small photo) the page
    runs on WebGPU and still paints what Python paints. Skipped where this Chromium offers none."""
    model, _ = lite
    photo = Image.open(FIXTURES / "coffee.png").convert("RGB").resize((128, 96), Image.Resampling.LANCZOS)
    painting = Image.open(ROOT / "examples" / "kandinsky_improvisation_30.jpg").convert("RGB").resize((128, 128))
    photo.save(tmp_path / "photo.png")
    painting.save(tmp_path / "painting.png")
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=WEBGPU_ARGS)
    try:
        page = browser.new_page()
        page.set_default_timeout(300_000)
        page.goto(site)
        page.wait_for_function("() => ['ready', 'error'].includes(document.body.dataset.state)")  # after sw.js's reload
        if not page.evaluate("async () => !!(navigator.gpu && await navigator.gpu.requestAdapter())"):
            pytest.skip("this Chromium offers no WebGPU adapter, not even SwiftShader")
        assert page.evaluate("document.body.dataset.backend") == "webgpu", page.locator("#status").inner_text()
        page.locator("#photo-input").set_input_files(str(tmp_path / "photo.png"))
        page.locator("#painting-input").set_input_files(str(tmp_path / "painting.png"))
        times = wait_for_alpha(page, 1)
        assert times["backend"] == "webgpu"
        assert psnr(canvas(page), np.asarray(Stylizer(model, backend="fp32")(photo, painting))) >= 30.0
        assert "on WebGPU" in page.locator("#backend").inner_text()
    finally:
        browser.close()


def test_a_plain_static_server_still_gets_wasm_threads(page, browser, site):
    """Served without the cross-origin isolation headers, the page isolates itself through its service worker
    (sw.js adds them to the folder's responses) and runs onnxruntime-web on every core up to 4; ?threads=1
    keeps it on one."""
    cores = page.evaluate("Math.min(4, navigator.hardwareConcurrency)")
    assert page.evaluate("self.crossOriginIsolated && !!navigator.serviceWorker.controller")
    assert f"WASM, {cores} thread" in page.locator("#backend").inner_text()
    single = browser.new_page()
    try:
        single.goto(site + "?threads=1")
        single.wait_for_function("() => document.body.dataset.state === 'ready'")
        assert "WASM, 1 thread;" in single.locator("#backend").inner_text()
    finally:
        single.close()


def test_page_arithmetic_matches_python(page):
    """adain.js against adain_hub: the AdaIN step, the output size, the network plan (icons enlarged, strips
    mirrored out) and the crop, on the same numbers."""
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(1, 4, 3, 5)).astype(np.float32)
    c_mean, c_std, s_mean, s_std = (rng.uniform(0.5, 2, size=(1, 4, 1, 1)).astype(np.float32) for _ in range(4))
    sizes = [(512, 384), (4000, 3000), (451, 300), (2000, 20), (16, 16), (600, 33), (77, 50), (20, 12), (1, 300),
             (3, 40)]
    args = {"f": feats.ravel().tolist(), "cm": c_mean.ravel().tolist(), "cs": c_std.ravel().tolist(),
            "sm": s_mean.ravel().tolist(), "ss": s_std.ravel().tolist(), "sizes": sizes}
    got = page.evaluate("""async (a) => {
        const A = await import('./adain.js');
        const f32 = (x) => Float32Array.from(x);
        return {
            step: Array.from(A.adainStep(f32(a.f), f32(a.cm), f32(a.cs), f32(a.sm), f32(a.ss), 0.7)),
            sizes: a.sizes.map(([w, h]) => A.outputSize(w, h, 512)),
            crops: a.sizes.map(([w, h]) => A.cropBox(h, w)),
            plans: a.sizes.map(([w, h]) => A.networkPlan(...A.outputSize(w, h, 512))),
            mirrored: [[1, 15, 16], [3, 14, 15], [5, 2, 3], [7, 0, 0]].map(([n, b, c]) => Array.from(A.symmetricIndex(n, b, c))),
        };
    }""", args)
    want = adain_step(feats, c_mean, c_std, s_mean, s_std, 0.7)
    np.testing.assert_allclose(np.array(got["step"]).reshape(want.shape), want, rtol=1e-5, atol=1e-5)
    assert [tuple(s) for s in got["sizes"]] == [output_size(w, h, 512) for w, h in sizes]
    assert [tuple(c) for c in got["crops"]] == [crop_box(h, w) for w, h in sizes]
    for (w, h), plan in zip(sizes, got["plans"]):
        want_plan = network_plan(*output_size(w, h, 512))
        top, _, left, _ = want_plan.padding
        assert (tuple(plan["scaled"]), tuple(plan["padded"]), plan["top"], plan["left"]) == (
            want_plan.scaled, want_plan.padded, top, left), (w, h)
    for (n, before, after), index in zip([(1, 15, 16), (3, 14, 15), (5, 2, 3), (7, 0, 0)], got["mirrored"]):
        assert index == symmetric_index(n, before, after).tolist()


def test_page_says_what_is_wrong(page, tmp_path):
    """A file that is not an image, picked or dropped, is one line in the page."""
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a picture")
    page.locator("#photo-input").set_input_files(str(fake))
    page.wait_for_function("() => document.body.dataset.state === 'error'")
    assert page.locator("#status").inner_text() == "Photo: not an image, or a damaged or unsupported one."
    page.evaluate("""() => {
        const files = new DataTransfer();
        files.items.add(new File(["not a painting either"], "mill.png", { type: "image/png" }));
        document.getElementById('painting-drop').dispatchEvent(
            new DragEvent('drop', { dataTransfer: files, bubbles: true, cancelable: true }));
    }""")
    page.wait_for_function("() => document.getElementById('status').textContent.startsWith('Painting')")
    assert page.locator("#status").inner_text() == "Painting: not an image, or a damaged or unsupported one."


def test_page_without_a_model_says_how_to_get_one(browser, tmp_path):
    with served(tmp_path) as url:  # an empty model folder
        page = browser.new_page()
        page.goto(url)
        page.wait_for_function("() => document.body.dataset.state === 'error'")
        text = page.locator("#status").inner_text()
        assert "No model at" in text and "adain export" in text, text
        page.close()


def test_vendored_runtime_is_the_locked_one():
    """web/ort/ holds the onnxruntime-web that package-lock.json pins (npm ci put it there)."""
    lock = json.loads((WEB / "package-lock.json").read_text())
    version = lock["packages"]["node_modules/onnxruntime-web"]["version"]
    assert (WEB / "ort" / "VERSION").read_text().startswith(f"onnxruntime-web {version} ")
