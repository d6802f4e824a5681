"""The in-browser page's live mode (``web/``, the camera source) in headless Chromium with its fake camera:
frames arrive painted with a famous painting from the start, change, match the fp32 Stylizer, and never
leave the tab; the alpha slider acts on the next frame; a snapshot downloads the frame at the camera's size;
the camera is released when the source changes or the tab is hidden; no camera and a refused permission are
one line each; the same on WebGPU (SwiftShader). Frame rates are measured by ``benchmarks/bench_web.py --live``, not here.

Needs what ``tests/test_web.py`` needs (Debian's Chromium, playwright, the ONNX exporter, ``npm ci`` in
``web/``); skipped, not failed, when one is missing.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from .test_web import psnr, served  # also skips this module where the page tests cannot run

from adain_hub import AdaIN, AdaINConfig, StyleBank, Stylizer  # noqa: E402
from adain_hub.onnx_export import STYLES_FILE, export_graph, styles_json  # noqa: E402

from .conftest import CHROMIUM, CHROMIUM_ARGS, ROOT, WEBGPU_ARGS, keep_artifact, responsive  # noqa: E402

pytestmark = pytest.mark.slow
LITE_MODEL = ROOT / "model_card_lite"
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
PAINTINGS = {"kandinsky": ROOT / "examples" / "kandinsky_improvisation_30.jpg",
             "van-gogh": ROOT / "examples" / "van_gogh_madame_roulin.jpg"}


@pytest.fixture(scope="module")
def lite(tmp_path_factory) -> tuple[AdaIN, StyleBank, Path]:
    """The lite model, its style bank, and the folder its halves and styles.json were exported to: the
    trained model_card_lite/ with its own bank when it is there, else random weights and a bank of two
    example paintings (a numerical comparison needs no training)."""
    if (LITE_MODEL / "model.safetensors").exists():
        model = AdaIN.from_pretrained(LITE_MODEL)
        bank = StyleBank.from_pretrained(model)
    else:
        torch.manual_seed(3)
        model = responsive(AdaIN(AdaINConfig(architecture="lite")))
        bank = StyleBank.from_images(model, list(PAINTINGS.values()), names=list(PAINTINGS), backend="fp32")
    folder = tmp_path_factory.mktemp("web_live_model")
    for name in ("encoder.onnx", "decoder.onnx"):
        export_graph(model, name, folder / name)
    (folder / STYLES_FILE).write_text(json.dumps(styles_json(bank)), encoding="utf-8")
    return model, bank, folder


@pytest.fixture(scope="module")
def site(lite) -> Iterator[str]:
    with served(lite[2]) as url:
        yield url


def launch(playwright, extra: list[str], base: list[str] = CHROMIUM_ARGS):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=base + extra)


@pytest.fixture(scope="module")
def camera_browser(playwright) -> Iterator[object]:
    """Chromium with its fake camera (a 20 frames/s test pattern that changes every frame)."""
    browser = launch(playwright, FAKE_CAMERA)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def live(camera_browser, site) -> Iterator[object]:
    """The page in camera mode (``?source=camera``), camera allowed, its requests recorded from the start."""
    context = camera_browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 900},
                                         accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(180_000)  # WASM on a CPU shared with other work
    page.requests = []
    page.on("request", lambda r: page.requests.append(r))
    page.goto(site + "?source=camera")
    # the page reloads once to isolate itself (sw.js): wait for the second load's camera
    page.wait_for_function("() => ['live', 'error'].includes(document.body.dataset.state)")
    assert page.evaluate("document.body.dataset.state") == "live", page.locator("#status").inner_text()
    try:
        yield page
    finally:
        context.close()


def wait_frames(page, more: int = 2) -> dict:
    """Wait until the page has painted ``more`` camera frames beyond those painted so far."""
    done = page.evaluate("window.adainLive ? window.adainLive.frames : 0")
    page.wait_for_function(f"() => window.adainLive && window.adainLive.frames >= {done + more}")
    return page.evaluate("window.adainLive")


def frame(page) -> dict:
    """The last painted frame: what went in and what came out (RGB arrays), read in one go."""
    got = page.evaluate("""() => { const f = window.adainFrame;
        return { input: Array.from(f.input), output: Array.from(f.output), width: f.width, height: f.height,
                 alpha: f.alpha, painting: f.painting }; }""")
    shape = (got["height"], got["width"], 4)
    got["input"] = np.array(got["input"], np.uint8).reshape(shape)[..., :3]
    got["output"] = np.array(got["output"], np.uint8).reshape(shape)[..., :3]
    return got


def test_the_camera_is_painted_live_with_a_famous_painting_and_matches_python(live, lite, site, tmp_path):
    model, bank, _ = lite
    page = live
    page.locator("#live-size").select_option("320")
    stats = wait_frames(page, 3)
    assert stats["backend"] == "wasm" and page.evaluate("document.body.dataset.state") == "live"
    assert re.fullmatch(r"\d+\.\d fps, 320 × 240", page.locator("#time").inner_text())
    first = frame(page)
    assert first["painting"] == bank.names[0]  # chosen from the start: no painting to pick or encode
    assert page.locator("#bank .famous").count() == len(bank)
    wait_frames(page, 2)
    second = frame(page)
    assert (second["width"], second["height"]) == (320, 240)
    assert np.abs(first["input"].astype(int) - second["input"]).mean() > 0.5  # the camera's picture moved
    assert np.abs(first["output"].astype(int) - second["output"]).mean() > 0.5  # and so did the painting of it

    stylizer = Stylizer(model, backend="fp32")
    ref = np.asarray(stylizer(Image.fromarray(second["input"]), bank[second["painting"]], alpha=second["alpha"]))
    assert psnr(second["output"], ref) >= 30.0, psnr(second["output"], ref)
    assert psnr(second["output"], second["input"]) < 25.0  # painted, not the camera handed back

    shot = tmp_path / "web_live.png"
    page.screenshot(path=str(shot))
    keep_artifact(shot)
    # nothing left the tab: every request a plain GET to the page's own server (the page, the runtime,
    # the model; the thumbnails are data: URLs), none with a body
    own = (site, "data:", f"blob:{site.rstrip('/')}")
    assert all(r.method == "GET" and r.url.startswith(own) and r.post_data is None for r in page.requests), [
        (r.method, r.url[:80]) for r in page.requests]


def test_another_painting_and_alpha_reach_the_next_frames(live, lite):
    model, bank, _ = lite
    page = live
    page.locator("#live-size").select_option("240")
    wait_frames(page, 2)
    last = bank.names[-1]
    page.locator(f"#bank .famous[data-name='{last}']").click()
    page.locator("#alpha").fill("0.4")
    page.wait_for_function(f"() => window.adainFrame && window.adainFrame.painting === '{last}' "
                           "&& window.adainFrame.alpha === 0.4")
    wait_frames(page, 1)
    got = frame(page)
    assert (got["painting"], got["alpha"], got["width"]) == (last, 0.4, 240)
    ref = np.asarray(Stylizer(model, backend="fp32")(Image.fromarray(got["input"]), bank[last], alpha=0.4))
    assert psnr(got["output"], ref) >= 30.0

    # a painting dropped in is encoded once, on the next frame, and paints the frames after it
    page.locator("#painting-input").set_input_files(str(PAINTINGS["kandinsky"]))
    page.wait_for_function("() => window.adainFrame.painting === 'kandinsky_improvisation_30.jpg'")
    wait_frames(page, 1)
    got = frame(page)
    ref = np.asarray(Stylizer(model, backend="fp32")(Image.fromarray(got["input"]), str(PAINTINGS["kandinsky"]),
                                                      alpha=got["alpha"]))
    assert psnr(got["output"], ref) >= 30.0


def test_frames_are_dropped_not_queued_and_a_snapshot_is_the_full_frame(live):
    page = live
    page.locator("#live-size").select_option("640")  # slower than the camera's 20 frames/s on a CPU
    wait_frames(page, 2)
    start = page.evaluate("window.adainLive")
    time.sleep(1)
    end = wait_frames(page, 2)
    # frames the page could not keep up with were dropped, not queued: it never falls behind the camera
    assert end["fps"] >= 19 or end["dropped"] > start["dropped"], (start, end)

    with page.expect_download() as info:
        page.locator("#snapshot").click()
    path = info.value.path()
    snap = Image.open(path)
    assert snap.format == "PNG" and snap.size == (640, 480)  # the camera's own size, not the working size
    assert np.asarray(snap).std() > 5


def test_the_camera_is_released_when_the_source_changes_or_the_tab_is_hidden(live):
    page = live
    wait_frames(page, 1)
    page.evaluate("() => { window.tracks = document.getElementById('camera').srcObject.getTracks(); }")
    page.locator("#source-photo").click()
    assert page.evaluate("window.tracks.every((t) => t.readyState === 'ended')")
    assert page.evaluate("document.body.dataset.camera") == "off"

    page.locator("#source-camera").click()  # back on, painted at once
    wait_frames(page, 1)
    page.evaluate("() => { window.tracks = document.getElementById('camera').srcObject.getTracks(); }")
    hide = """(state) => { Object.defineProperty(document, 'visibilityState', { value: state, configurable: true });
                           document.dispatchEvent(new Event('visibilitychange')); }"""
    page.evaluate(hide, "hidden")
    assert page.evaluate("window.tracks.every((t) => t.readyState === 'ended')")
    frames = page.evaluate("window.adainLive.frames")
    page.wait_for_timeout(500)
    assert page.evaluate("window.adainLive.frames") == frames  # nothing painted while hidden
    page.evaluate(hide, "visible")
    wait_frames(page, 1)  # and the camera comes back with the tab


def test_the_camera_is_painted_on_webgpu_too(playwright, lite, site):
    """The live mode on WebGPU (Chromium's SwiftShader adapter: WebGPU on the CPU, about 2 s a frame at
    160 x 120, so only a few frames) paints what Python paints. Skipped where this Chromium offers none."""
    model, bank, _ = lite
    browser = launch(playwright, FAKE_CAMERA, base=WEBGPU_ARGS)
    try:
        page = browser.new_context(permissions=["camera"]).new_page()
        page.set_default_timeout(180_000)
        page.goto(site + "?source=camera")
        page.wait_for_function("() => ['live', 'error'].includes(document.body.dataset.state)")
        if page.evaluate("document.body.dataset.backend") != "webgpu":
            pytest.skip("this Chromium offers no WebGPU adapter, not even SwiftShader")
        assert page.evaluate("document.body.dataset.state") == "live", page.locator("#status").inner_text()
        page.locator("#live-size").select_option("160")
        page.wait_for_function("() => window.adainLive && window.adainLive.width === 160")
        stats = wait_frames(page, 1)
        assert stats["backend"] == "webgpu" and (stats["width"], stats["height"]) == (160, 120)
        got = frame(page)
        ref = np.asarray(Stylizer(model, backend="fp32")(Image.fromarray(got["input"]), bank[got["painting"]],
                                                          alpha=got["alpha"]))
        assert psnr(got["output"], ref) >= 30.0, psnr(got["output"], ref)
        assert psnr(got["output"], got["input"]) < 25.0
    finally:
        browser.close()


def test_no_camera_is_one_line(playwright, site):
    browser = launch(playwright, [])  # no fake device: this machine has no camera
    try:
        page = browser.new_page()
        page.goto(site)
        page.wait_for_function("() => document.body.dataset.state === 'ready'")
        page.locator("#source-camera").click()
        page.wait_for_function("() => document.body.dataset.state === 'error'")
        assert page.locator("#status").inner_text() == "No camera found on this device: use a photo instead."
    finally:
        browser.close()


def test_a_refused_camera_is_one_line(playwright, site):
    browser = launch(playwright, FAKE_CAMERA[:1])  # a camera, but the visitor says no (no permission given)
    try:
        page = browser.new_page()
        page.goto(site + "?source=camera")
        page.wait_for_function("() => document.body.dataset.state === 'error'")
        assert page.locator("#status").inner_text() == (
            "Camera permission refused: allow the camera for this page in the browser's site settings, "
            "or use a photo.")
        assert not page.evaluate("window.adainLive")
    finally:
        browser.close()


def test_the_automatic_size_steps_along_the_ladder(camera_browser, site):
    """adain.js's chooseSide: down when a frame takes longer than the target allows, up only when the next
    size fits in 80% of it (no see-saw between two sizes)."""
    page = camera_browser.new_page()
    try:
        page.goto(site)
        page.wait_for_function("() => document.body.dataset.state === 'ready'")  # after sw.js's reload
        got = page.evaluate("""async () => {
            const A = await import('./adain.js');
            return [A.chooseSide(320, 80, 15), A.chooseSide(320, 60, 15), A.chooseSide(320, 20, 15),
                    A.chooseSide(160, 200, 15), A.chooseSide(640, 10, 15), A.chooseSide(999, 10, 15),
                    A.chooseSide(A.chooseSide(320, 80, 15), 80 * (240 / 320) ** 2, 15)];
        }""")
        assert got == [240, 320, 480, 160, 640, 160, 240]
    finally:
        page.close()
