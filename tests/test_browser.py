"""The web app in a real (headless) browser: upload, move a slider, click, see the result.

Needs the ``playwright`` Python package and Debian's Chromium (``apt-get install -y chromium``);
``playwright install`` is never used. Skipped, not failed, when either is missing. With
``ADAIN_ARTIFACTS`` set, the screenshot is also copied to ``test-artifacts/`` in the repository (or
to the folder the variable names, if it is a path).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("gradio")
sync_api = pytest.importorskip("playwright.sync_api")

import app  # noqa: E402
from adain_hub.images import output_size  # noqa: E402

from .conftest import BUNDLED_MODEL, FIXTURES, ROOT  # noqa: E402

pytestmark = pytest.mark.slow

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


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def keep_artifact(path: Path) -> None:
    target = os.environ.get("ADAIN_ARTIFACTS")
    if not target:
        return
    folder = Path(target) if target not in ("1", "true", "yes") else ROOT / "test-artifacts"
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, folder / path.name)


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
