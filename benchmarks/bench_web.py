"""Time the in-browser page (``web/``) in headless Chromium against onnxruntime in Python, in one run.

    .venv/bin/python benchmarks/bench_web.py [--rounds 5] [--size 512] [--screenshot shot.png]

One full stylization of a 512x384 photo with a 512x512 painting: both encoded, the AdaIN step, the
decoder. The page runs it through its own controls (switching the working size away and back makes it
encode both images again) and reports its times; Python runs the same two exported graphs with
onnxruntime's CPU provider. The page is served twice, by a plain static server (onnxruntime-web gets one
WASM thread) and with the cross-origin isolation headers app.py sends (WASM threads); Python runs with one
thread and with onnxruntime's default. Everything runs round-robin after a warm-up, so load from other
processes hits each alike. The model is ``model_card_lite/`` when it exists, else an untrained lite
network (speed does not depend on the weights). Needs ``npm ci`` in ``web/``, Chromium and playwright.
"""

from __future__ import annotations

import argparse
import functools
import statistics
import sys
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import cpu_description  # noqa: E402


def serve(model_dir: Path, isolated: bool) -> tuple[ThreadingHTTPServer, str]:
    """``web/`` over HTTP with ``/model/`` from ``model_dir``; ``isolated`` adds COOP/COEP."""

    class Handler(SimpleHTTPRequestHandler):
        def translate_path(self, path: str) -> str:
            if path.startswith("/model/"):
                return str(model_dir / path.removeprefix("/model/").split("?")[0])
            return super().translate_path(path)

        def end_headers(self) -> None:
            if isolated:
                self.send_header("Cross-Origin-Opener-Policy", "same-origin")
                self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
            super().end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(WEB)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class Page:
    """The page in a browser tab, stylizing through its own controls."""

    def __init__(self, browser, url: str, photo: Path, painting: Path, size: int) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.set_default_timeout(300_000)
        self.page.goto(url)
        self.page.wait_for_function("() => ['ready', 'error'].includes(document.body.dataset.state)")
        if self.page.evaluate("document.body.dataset.state") != "ready":
            raise SystemExit(f"the page did not start: {self.page.locator('#status').inner_text()}")
        self.size, self.runs = size, 0
        self.page.locator("#size").select_option(str(size))
        self.page.locator("#photo-input").set_input_files(str(photo))
        self.page.locator("#painting-input").set_input_files(str(painting))
        self._wait()

    def _wait(self) -> dict:
        self.page.wait_for_function("() => document.body.dataset.state === 'done' && !!window.adainTimes")
        return self.page.evaluate("window.adainTimes")

    def full_run(self) -> dict:
        """One stylization with both images encoded anew, at the working size: its times in ms."""
        other = "384" if self.size != 384 else "256"
        for value in (other, str(self.size)):
            self.page.evaluate("() => { window.adainTimes = null; }")
            self.page.locator("#size").select_option(value)
            times = self._wait()
        assert times["photo"] > 0 and times["painting"] > 0, times
        return times

    def canvas(self) -> np.ndarray:
        import base64
        import io

        url = self.page.evaluate("() => document.getElementById('result').toDataURL('image/png')")
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def python_run(encoder, decoder, photo: np.ndarray, painting: np.ndarray) -> tuple[float, np.ndarray]:
    """The same stylization with onnxruntime: seconds, and the result as RGB bytes."""
    from adain_hub.onnx_export import adain_step, crop_box

    start = time.perf_counter()
    _, s_mean, s_std = encoder.run(None, {"image": painting})
    features, c_mean, c_std = encoder.run(None, {"image": photo})
    padded = decoder.run(None, {"features": adain_step(features, c_mean, c_std, s_mean, s_std, 1.0)})[0]
    h, w = photo.shape[2:]
    top, left = crop_box(h, w)
    image = padded[0, :, top : top + h, left : left + w]
    seconds = time.perf_counter() - start
    return seconds, (image.transpose(1, 2, 0) * 255 + 0.5).astype(np.uint8)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after one warm-up (default 5)")
    parser.add_argument("--size", type=int, default=512, help="longer side of the photo and painting (default 512)")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the page after the last run here")
    args = parser.parse_args()

    import onnxruntime as ort
    import torch
    from playwright.sync_api import sync_playwright

    from adain_hub import AdaIN, AdaINConfig, Stylizer
    from adain_hub.onnx_export import export_graph

    if not (WEB / "ort" / "ort.wasm.min.mjs").exists():
        raise SystemExit("web/ort/ is missing: run `npm ci` in web/")
    lite = ROOT / "model_card_lite"
    if (lite / "model.safetensors").exists():
        model, which = AdaIN.from_pretrained(lite), "model_card_lite/"
    else:
        torch.manual_seed(0)
        model, which = AdaIN(AdaINConfig(architecture="lite")).eval(), "untrained lite network"
    side = args.size
    tmp = Path(tempfile.mkdtemp(prefix="bench_web_"))
    photo_img = Image.open(ROOT / "tests" / "fixtures" / "coffee.png").convert("RGB").resize((side, side * 3 // 4))
    painting_img = Image.open(ROOT / "examples" / "kandinsky_improvisation_30.jpg").convert("RGB").resize((side, side))
    photo_img.save(tmp / "photo.png")
    painting_img.save(tmp / "painting.png")
    for name in ("encoder.onnx", "decoder.onnx"):
        export_graph(model, name, tmp / name)
    arrays = [(np.asarray(i, np.float32) / 255).transpose(2, 0, 1)[None].copy() for i in (photo_img, painting_img)]
    sessions = {}
    for threads in (1, 0):  # 0: onnxruntime's default (one per core)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sessions[threads] = [ort.InferenceSession(str(tmp / n), opts, providers=["CPUExecutionProvider"])
                             for n in ("encoder.onnx", "decoder.onnx")]

    servers = {iso: serve(tmp, iso) for iso in (False, True)}
    times: dict[str, list[float]] = {k: [] for k in ("web plain", "web isolated", "ort 1", "ort default")}
    threads_seen = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"])
        pages = {iso: Page(browser, url, tmp / "photo.png", tmp / "painting.png", side)
                 for iso, (_, url) in servers.items()}
        for r in range(args.rounds + 1):
            for iso, page in pages.items():
                t = page.full_run()
                threads_seen[iso] = t["threads"]
                if r:
                    times["web isolated" if iso else "web plain"].append(t["total"] / 1000)
            for threads, (enc, dec) in sessions.items():
                seconds, result = python_run(enc, dec, *arrays)
                if r:
                    times["ort 1" if threads == 1 else "ort default"].append(seconds)
        canvas = pages[False].canvas()
        if args.screenshot:
            pages[False].page.screenshot(path=str(args.screenshot), full_page=True)
        browser.close()
    for server, _ in servers.values():
        server.shutdown()
    reference = np.asarray(Stylizer(model, backend="fp32")(photo_img, painting_img))

    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"{cpu_description()}; model: {which}; {photo_img.size[0]}x{photo_img.size[1]} photo, "
          f"{side}x{side} painting; median of {args.rounds} rounds")
    print("| where | threads | s per image | vs onnxruntime in Python, same threads |")
    print("|---|---:|---:|---:|")
    print(f"| Chromium, WASM, plain static server | {threads_seen[False]} | {med['web plain']:.2f} | "
          f"{med['web plain'] / med['ort 1']:.1f}x |")
    print(f"| Chromium, WASM, cross-origin isolated (app.py) | {threads_seen[True]} | {med['web isolated']:.2f} | "
          f"{med['web isolated'] / med['ort default']:.1f}x |")
    print(f"| Python, onnxruntime CPU | 1 | {med['ort 1']:.2f} | 1.0x |")
    print(f"| Python, onnxruntime CPU | default | {med['ort default']:.2f} | 1.0x |")
    print(f"page vs onnxruntime: PSNR {psnr(canvas, result):.1f} dB; page vs fp32 Stylizer: "
          f"PSNR {psnr(canvas, reference):.1f} dB")


if __name__ == "__main__":
    main()
