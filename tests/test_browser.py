"""The web app in a real (headless) browser: upload, move a slider, click, see the result.

Needs the ``playwright`` Python package and Debian's Chromium (``apt-get install -y chromium``);
``playwright install`` is never used. Skipped, not failed, when either is missing. With
``ADAIN_ARTIFACTS`` set, the screenshot is also copied to ``test-artifacts/`` in the repository (or
to the folder the variable names, if it is a path).
"""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("gradio")
pytest.importorskip("playwright.sync_api")  # the browser fixtures (conftest) need it

import app  # noqa: E402
from adain_hub.images import output_size  # noqa: E402

from .conftest import BUNDLED_MODEL, CHROMIUM, CHROMIUM_ARGS, FIXTURES, keep_artifact  # noqa: E402

pytestmark = pytest.mark.slow

if not Path(CHROMIUM).exists():
    pytest.skip("Chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    model, _ = app.load_model(str(BUNDLED_MODEL))
    stylizer = app.make_stylizer(model, "fp32")
    demo = app.build_demo(stylizer, "bundled model_card/")
    _, local_url, _ = app.launch(
        demo, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, ssr_mode=False, quiet=True
    )
    try:
        yield local_url
    finally:
        demo.close()


def test_upload_slide_click_shows_a_result(url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(60_000)  # a shared CPU can be slow; the happy path takes seconds
    page.goto(url)
    page.locator("#content input[type=file]").set_input_files(str(FIXTURES / "chelsea.png"))
    page.locator("#style input[type=file]").set_input_files(str(FIXTURES / "coffee.png"))
    page.wait_for_selector("#content img")
    page.wait_for_selector("#style img")

    page.locator("#alpha input[type=range]").fill("0.6")
    assert float(page.locator("#alpha input[type=number]").input_value()) == pytest.approx(0.6)
    page.locator("#size label", has_text="256").click()

    page.locator("#run").click()
    result = page.locator("#result img")
    result.wait_for(state="visible")
    page.wait_for_function("() => { const i = document.querySelector('#result img'); return i && i.naturalWidth > 0; }")
    width, height = result.evaluate("img => [img.naturalWidth, img.naturalHeight]")
    assert (width, height) == output_size(451, 300, 256) == (256, 170)  # chelsea.png is 451x300
    assert page.locator("[data-testid='toast-body']").count() == 0  # no error toast

    shot = tmp_path / "app_result.png"
    page.screenshot(path=str(shot), full_page=True)
    assert Image.open(shot).size[0] == 1280
    keep_artifact(shot)
    page.close()


def test_bad_upload_shows_a_message_not_a_trace(url, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.set_default_timeout(60_000)
    page.goto(url)
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a picture")
    page.locator("#content input[type=file]").set_input_files(str(fake))
    page.locator("#style input[type=file]").set_input_files(str(FIXTURES / "gravel.png"))
    page.wait_for_selector("#style img")
    page.locator("#run").click()
    toast = page.locator("[data-testid='toast-body']").first
    toast.wait_for(state="visible")
    text = toast.inner_text()
    assert "Content photo: not an image" in text and "Traceback" not in text
    page.wait_for_timeout(400)  # let the toast finish sliding in before the screenshot
    shot = tmp_path / "app_bad_upload.png"
    page.screenshot(path=str(shot), full_page=True)
    keep_artifact(shot)
    page.close()


def test_the_app_links_to_and_serves_the_in_browser_page(url, browser):
    """The Gradio page links to web/; the app serves it cross-origin isolated (so onnxruntime-web may
    run WASM threads) and keeps npm's node_modules/ to itself."""
    page = browser.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    href = page.locator("#footer a", has_text="your own browser").get_attribute("href")
    assert href == "web/"  # relative: it works under a proxy's path prefix too
    page.goto(url.rstrip("/") + "/" + href)
    page.wait_for_function("() => ['ready', 'error'].includes(document.body.dataset.state)")
    assert page.locator("h1").inner_text() == "AdaIN style transfer, in your browser"
    assert page.evaluate("self.crossOriginIsolated") is True
    page.close()
    with urllib.request.urlopen(url.rstrip("/") + "/web/main.js") as response:
        assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert "javascript" in response.headers["Content-Type"]  # module scripts need a JS type
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url.rstrip("/") + "/web/node_modules/onnxruntime-web/package.json")
    assert info.value.code == 404


@pytest.fixture(scope="module")
def camera_browser(playwright) -> Iterator[object]:
    """Chromium with its fake camera (a moving test pattern), camera allowed without asking."""
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
        "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
    try:
        yield b
    finally:
        b.close()


def test_the_live_tab_streams_the_webcam_through_the_server(url, camera_browser, tmp_path):
    """The Live tab says that frames go to the server, links the in-browser page, and once recording
    paints the camera's frames one after another."""
    context = camera_browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        page.goto(url)
        page.locator("button[role=tab]", has_text="Live").click()
        note = page.locator("#live_note")
        assert "sends your webcam's frames to this server" in note.inner_text()
        assert note.locator("a").get_attribute("href") == "web/?source=camera"
        assert "frames are sent to the server" in page.locator("#live_in label").first.inner_text()
        page.locator("#live_size label", has_text="256").click()
        page.locator("#live_in button", has_text="Click to Access Webcam").click()
        page.locator("#live_in button", has_text="Record").click()
        sources = []
        deadline = time.monotonic() + 120
        while len(set(sources)) < 3 and time.monotonic() < deadline:  # three different painted frames
            src = page.evaluate("(() => { const i = document.querySelector('#live_out img'); return i && i.src; })()")
            if src:
                sources.append(src)
            page.wait_for_timeout(100)
        assert len(set(sources)) >= 3, sources[-3:]
        width, height = page.locator("#live_out img").evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert max(width, height) == 256  # the working size, not the camera's
        assert page.locator("[data-testid='toast-body']").count() == 0
        shot = tmp_path / "app_live.png"
        page.screenshot(path=str(shot))
        keep_artifact(shot)
    finally:
        context.close()


def test_a_webcam_snapshot_is_a_content_photo(url, camera_browser):
    context = camera_browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        page.goto(url)
        page.locator("#content button[aria-label='Capture from camera']").click()
        page.locator("#content button", has_text="Click to Access Webcam").click()
        page.wait_for_function("() => { const v = document.querySelector('#content video'); "
                               "return v && v.readyState >= 2 && v.videoWidth > 0; }")  # the camera is on
        page.locator("#content button[aria-label='capture photo']").click()
        page.wait_for_selector("#content img[src*='gradio_api/file']")  # the snapshot, uploaded as the photo
        page.locator("#style input[type=file]").set_input_files(str(FIXTURES / "coffee.png"))
        page.wait_for_selector("#style img")
        page.locator("#size label", has_text="256").click()
        page.locator("#run").click()
        page.wait_for_function("() => { const i = document.querySelector('#result img'); "
                               "return i && i.naturalWidth > 0; }")
        width, height = page.locator("#result img").evaluate("img => [img.naturalWidth, img.naturalHeight]")
        assert max(width, height) == 256 and page.locator("[data-testid='toast-body']").count() == 0
    finally:
        context.close()
