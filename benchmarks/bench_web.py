"""Time the in-browser page (``web/``) in headless Chromium against onnxruntime in Python, in one run; with
``--live``, the page's camera mode (and the app's Live tab) on Chromium's fake camera.

    .venv/bin/python benchmarks/bench_web.py [--rounds 5] [--size 512] [--screenshot shot.png]
    .venv/bin/python benchmarks/bench_web.py --rounds 3 --baseline 3fa7d98 --live   # the issue's table
    .venv/bin/python benchmarks/bench_web.py --live --no-still --live-screenshot docs/live-page.jpg \
        --app-screenshot docs/app-live.jpg   # the docs' pictures

Still: one full stylization of a 512x384 photo with a 512x512 painting: both encoded, the AdaIN step, the
decoder. The page runs it through its own pipeline (``window.adainRestyle()``, which forgets both encodings;
a page from before it existed is made to encode both by switching the working size away and back) and
reports its times, and of them the time inside onnxruntime-web's session runs (``graphs``: the rest is the
page's own work, pixels in and out and the AdaIN step); Python runs the same two exported graphs with
onnxruntime's CPU provider. The page is
served by a plain static server (where today's page makes itself cross-origin isolated with its service
worker, so onnxruntime-web runs WASM threads; the page of before ran one thread there), by the same with
``?threads=1``, and with the cross-origin isolation headers app.py sends; Python runs with one thread and
with onnxruntime's default.
``--baseline REV`` adds the page of git revision REV (its ``web/`` files, and the graphs its
``adain export`` wrote, with today's onnxruntime-web), so a speed-up is measured side by side.
Everything runs round-robin after a warm-up, so load from other processes hits each alike.

Graphs alone (``--graphs``): each graph's own time in onnxruntime-web (a bare probe page, the page's session
options, random inputs), on one thread and two: the floor under any page's still, and the encoder run both ways a
page can fetch a painting's statistics (every output, or ``mean`` and ``std`` alone).

Live (``--live``): the page in camera mode, cross-origin isolated, at a fixed working size of 320 x 240 and
640 x 480 and on "auto", each for ``--live-seconds`` (10) after a warm-up, read from the page's own frame
counter; then the Gradio app's Live tab (the server's Stylizer, the model's default backend) at 320 x 240,
counting the result pictures that arrive. Chromium's fake camera gives 20 frames/s, the cap of any row.

The model is ``model_card_lite/`` when it exists, else an untrained lite network (speed does not depend on
the weights). Needs ``npm ci`` in ``web/``, Chromium and playwright (and gradio for the app's row).
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
WEB = ROOT / "web"
PAGE_FILES = ("index.html", "main.js", "adain.js", "style.css")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
LIVE_SIZES = (320, 640)
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_inference import cpu_description  # noqa: E402


def serve(model_dir: Path, isolated: bool, web: Path = WEB) -> tuple[ThreadingHTTPServer, str]:
    """``web`` over HTTP with ``/model/`` from ``model_dir``; ``isolated`` adds COOP/COEP."""

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

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(web)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


# -- a past revision ------------------------------------------------------------------------
def git_show(rev: str, path: str) -> str:
    return subprocess.run(["git", "show", f"{rev}:{path}"], cwd=ROOT, check=True, capture_output=True,
                          text=True).stdout


def page_at(rev: str, folder: Path) -> Path:
    """The page's files as they were at ``rev``, in ``folder``, with today's ``web/ort/`` beside them."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in PAGE_FILES:
        (folder / name).write_text(git_show(rev, f"web/{name}"), encoding="utf-8")
    (folder / "ort").symlink_to(WEB / "ort", target_is_directory=True)
    return folder


def exporter_at(rev: str) -> types.ModuleType:
    """``adain_hub.onnx_export`` as it was at ``rev`` (run against today's package for what it imports)."""
    module = types.ModuleType(f"adain_hub._onnx_export_{rev}")
    module.__package__ = "adain_hub"
    sys.modules[module.__name__] = module  # dataclasses look their module up there
    exec(compile(git_show(rev, "adain_hub/onnx_export.py"), f"{rev}:adain_hub/onnx_export.py", "exec"),
         module.__dict__)
    return module


# -- the page, still ------------------------------------------------------------------------------
class Page:
    """The page in a browser tab, stylizing a photo through its own controls."""

    def __init__(self, browser, url: str, photo: Path, painting: Path, size: int) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.set_default_timeout(300_000)
        self.page.goto(url)
        self.page.wait_for_function("() => ['ready', 'error'].includes(document.body.dataset.state)")
        if self.page.evaluate("document.body.dataset.state") != "ready":
            raise SystemExit(f"the page did not start: {self.page.locator('#status').inner_text()}")
        self.size = size
        self.restyle = self.page.evaluate("typeof window.adainRestyle === 'function'")
        self.page.locator("#size").select_option(str(size))
        self.page.locator("#painting-input").set_input_files(str(painting))
        self.page.locator("#photo-input").set_input_files(str(photo))
        self._wait()

    def _wait(self) -> dict:
        self.page.wait_for_function("() => document.body.dataset.state === 'done' && !!window.adainTimes "
                                    "&& window.adainTimes.photo > 0")
        return self.page.evaluate("window.adainTimes")

    def full_run(self) -> dict:
        """One stylization with both images encoded anew, at the working size: its times in ms."""
        if self.restyle:
            times = self.page.evaluate("window.adainRestyle()")
        else:  # a page from before adainRestyle: a size switch away and back encodes both again
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


# -- the graphs alone -----------------------------------------------------------------------------
PROBE_PAGE = """<!doctype html><meta charset="utf-8"><title>graphs alone</title><script type="module">
const ort = await import("./ort/ort.wasm.min.mjs");
const { sessionOptions } = await import("./adain.js");
ort.env.wasm.wasmPaths = new URL("./ort/", location.href).href;
ort.env.wasm.numThreads = Number(new URLSearchParams(location.search).get("threads"));
const options = sessionOptions("wasm"); // the page's own
const load = async (name) => ort.InferenceSession.create(new Uint8Array(await (await fetch("model/" + name)).arrayBuffer()),
  options);
const random = (dims) => new ort.Tensor("float32", Float32Array.from({ length: dims.reduce((a, b) => a * b) },
  () => Math.random()), dims);
// jobs: [{ graph, input, dims, fetches }]: ms of each, median of `rounds` taken round-robin after a warm-up
window.timeGraphs = async (jobs, rounds) => {
  const sessions = { "encoder.onnx": await load("encoder.onnx"), "decoder.onnx": await load("decoder.onnx") };
  const feeds = jobs.map((j) => ({ [j.input]: random(j.dims) }));
  const times = jobs.map(() => []);
  for (let r = 0; r <= rounds; r++) {
    for (let i = 0; i < jobs.length; i++) {
      const start = performance.now();
      await sessions[jobs[i].graph].run(feeds[i], jobs[i].fetches || undefined);
      if (r) times[i].push(performance.now() - start);
    }
  }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)]);
};
window.ready = true;
</script>"""


def graph_gflop(model: Any, graph: str, dims: list[int]) -> float:
    """The floating-point operations of one run of ``graph`` (its convolutions, as torch counts them) at ``dims``."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    half = model.encoder if graph == "encoder.onnx" else model.decoder
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        half(torch.zeros(dims))
    return counter.get_total_flops() / 1e9


def graphs_alone(args: argparse.Namespace, browser: Any, tmp: Path, model: Any) -> list[str]:
    """Each graph's own time in onnxruntime-web, with the page's session options and no page around it (random
    inputs: the time does not depend on the values): the floor under any page's still."""
    probe = tmp / "probe"
    probe.mkdir()
    (probe / "index.html").write_text(PROBE_PAGE, encoding="utf-8")
    (probe / "ort").symlink_to(WEB / "ort", target_is_directory=True)
    (probe / "adain.js").symlink_to(WEB / "adain.js")
    server, url = serve(tmp, True, probe)
    side, channels, down = args.size, model.config.feature_channels, model.config.downsample
    h, w = side * 3 // 4, side
    # name: graph, input, its dims, outputs fetched (None: all), part of a still as the page makes it
    jobs = {"encoder, photo, all outputs": ("encoder.onnx", "image", [1, 3, h, w], None, True),
            "encoder, painting, all outputs": ("encoder.onnx", "image", [1, 3, side, side], None, False),
            "encoder, painting, mean and std only (the page)": ("encoder.onnx", "image", [1, 3, side, side],
                                                                 ["mean", "std"], True),
            "decoder, photo": ("decoder.onnx", "features", [1, channels, h // down, w // down], None, True)}
    spec = [{"graph": g, "input": i, "dims": d, "fetches": f} for g, i, d, f, _ in jobs.values()]
    gflop = {name: graph_gflop(model, graph, dims) for name, (graph, _, dims, _, _) in jobs.items()}
    ms = {}
    try:
        for threads in (1, 2):
            page = browser.new_page()
            page.set_default_timeout(300_000)
            page.goto(f"{url}?threads={threads}")
            page.wait_for_function("() => window.ready")
            ms[threads] = dict(zip(jobs, page.evaluate("([j, r]) => window.timeGraphs(j, r)", [spec, args.rounds])))
            page.close()
    finally:
        server.shutdown()
    lines = [f"graphs alone: onnxruntime-web WASM, cross-origin isolated, the page's session options, random inputs; "
             f"median of {args.rounds} rounds",
             "| graph, input | GFLOP (convolutions) | ms, 1 thread | GFLOP/s, 1 thread | ms, 2 threads |",
             "|---|---:|---:|---:|---:|"]
    lines += [f"| {name} | {gflop[name]:.2f} | {ms[1][name]:.1f} | {gflop[name] / ms[1][name] * 1000:.1f} | "
              f"{ms[2][name]:.1f} |" for name in jobs]
    still = [name for name, job in jobs.items() if job[4]]
    lines.append(f"| a still's three runs, as the page makes them | {sum(gflop[k] for k in still):.2f} | "
                 f"{sum(ms[1][k] for k in still):.1f} | | {sum(ms[2][k] for k in still):.1f} |")
    return lines


# -- live -----------------------------------------------------------------------------------------
def save_shot(png: bytes, path: Path, width: int = 900) -> None:
    """A screenshot for the docs: ``width`` px wide, as a JPEG."""
    shot = Image.open(io.BytesIO(png)).convert("RGB")
    shot.resize((width, round(shot.height * width / shot.width)), Image.Resampling.LANCZOS).save(path, quality=88)


def live_page(browser: Any, url: str, size: str, seconds: float, query: str = "",
              screenshot: Path | None = None) -> dict[str, Any]:
    """The page's camera mode at working size ``size`` ("320", "640" or "auto"): frames per second by its
    own counter over ``seconds``, after a warm-up, and what else it reports. ``query``: more URL parameters;
    ``screenshot``: a JPEG of the page (controls, camera and painted frame) saved there at the end."""
    context = browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(300_000)
    try:
        page.goto(url + "?source=camera" + query)
        page.wait_for_function("() => ['live', 'error'].includes(document.body.dataset.state)")
        if page.evaluate("document.body.dataset.state") != "live":
            raise SystemExit(f"the camera did not start: {page.locator('#status').inner_text()}")
        page.locator("#live-size").select_option(size)
        page.wait_for_function("() => window.adainLive && window.adainLive.frames >= 5")
        time.sleep(4 if size == "auto" else 1)  # auto: let it settle on a size
        start, t0 = page.evaluate("window.adainLive"), time.perf_counter()
        times, graphs = [], []
        while time.perf_counter() - t0 < seconds:
            time.sleep(0.5)
            now = page.evaluate("window.adainLive")
            times.append(now["ms"])
            graphs.append(now.get("graphsMs", float("nan")))
        end, t1 = page.evaluate("window.adainLive"), time.perf_counter()
        if screenshot:  # the page down to its painted frame's status line, 900 px wide
            box = page.evaluate("""() => { const b = document.body.getBoundingClientRect();
                const o = document.querySelector('.output').getBoundingClientRect();
                return { x: b.x, y: 0, width: b.width, height: o.bottom + 8 }; }""")
            save_shot(page.screenshot(clip=box), screenshot)
        return {"fps": (end["frames"] - start["frames"]) / (t1 - t0), "width": end["width"], "height": end["height"],
                "ms": statistics.median(times), "graphs_ms": statistics.median(graphs),
                "dropped": end["dropped"] - start["dropped"], "threads": end["threads"]}
    finally:
        context.close()


def live_app(browser: Any, seconds: float, screenshot: Path | None = None) -> dict[str, Any]:
    """The Gradio app's Live tab with the lite model (its default backend) at 320 x 240: result pictures
    arriving per second, counted in the page over ``seconds`` after a warm-up; ``screenshot``: a JPEG of the
    tab saved there at the end."""
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    sys.path.insert(0, str(ROOT))
    import app

    model, _ = app.load_model(str(ROOT / "model_card_lite"))
    stylizer = app.make_stylizer(model)
    demo = app.build_demo(stylizer, "model_card_lite/")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _, url, _ = app.launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                           ssr_mode=False, quiet=True)
    context = browser.new_context(permissions=["camera"], viewport={"width": 1280, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(120_000)
    try:
        page.goto(url)
        page.locator("button[role=tab]", has_text="Live").click()
        page.locator("#live_size label", has_text="320").click()
        page.locator("#live_in button", has_text="Click to Access Webcam").click()
        page.locator("#live_in button", has_text="Record").click()
        page.wait_for_selector("#live_out img")
        page.evaluate("""() => { window.seen = new Set(); window.arrived = 0;
            const tick = () => { const i = document.querySelector('#live_out img');
                if (i && i.src && !window.seen.has(i.src)) { window.seen.add(i.src); window.arrived++; }
                requestAnimationFrame(tick); };
            tick(); }""")
        time.sleep(2)
        start, t0 = page.evaluate("window.arrived"), time.perf_counter()
        time.sleep(seconds)
        end, t1 = page.evaluate("window.arrived"), time.perf_counter()
        size = page.locator("#live_out img").evaluate(
            "async (i) => { while (!(i.complete && i.naturalWidth)) await new Promise(requestAnimationFrame); "
            "return [i.naturalWidth, i.naturalHeight]; }")
        if screenshot:
            save_shot(page.screenshot(full_page=True), screenshot)
        return {"fps": (end - start) / (t1 - t0), "width": size[0], "height": size[1], "backend": stylizer.backend.name}
    finally:
        context.close()
        demo.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds after one warm-up (default 5)")
    parser.add_argument("--size", type=int, default=512, help="longer side of the photo and painting (default 512)")
    parser.add_argument("--screenshot", type=Path, default=None, help="save the page after the last run here")
    parser.add_argument("--baseline", metavar="REV", default=None,
                        help="also time the page (and export) of this git revision, side by side")
    parser.add_argument("--live", action="store_true", help="also the page's camera mode and the app's Live tab")
    parser.add_argument("--live-seconds", type=float, default=10.0, help="how long each live row counts frames")
    parser.add_argument("--live-painting", default="van-gogh-madame-roulin",
                        help="the bank painting the live rows paint with (default van-gogh-madame-roulin)")
    parser.add_argument("--live-screenshot", type=Path, default=None,
                        help="save the page at 320 x 240 here as a JPEG (docs/live-page.jpg)")
    parser.add_argument("--app-screenshot", type=Path, default=None,
                        help="save the app's Live tab here as a JPEG (docs/app-live.jpg)")
    parser.add_argument("--graphs", action="store_true",
                        help="also each graph's own time in onnxruntime-web, with no page around it")
    parser.add_argument("--no-still", action="store_true", help="live rows only")
    parser.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = parser.parse_args()

    import onnxruntime as ort
    import torch
    from playwright.sync_api import sync_playwright

    from adain_hub import AdaIN, AdaINConfig, StyleBank, Stylizer
    from adain_hub.onnx_export import export_graph, styles_json

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
    bank = (StyleBank.from_pretrained(model) if model.style_bank_file else
            StyleBank.from_images(model, [tmp / "painting.png"], names=["kandinsky"], backend="fp32"))
    (tmp / "styles.json").write_text(json.dumps(styles_json(bank)), encoding="utf-8")
    sites = {"plain": (tmp, WEB, False), "isolated": (tmp, WEB, True)}
    urls = {"plain": "", "plain, 1 thread": "?threads=1", "isolated": ""}  # row -> query on its site
    if args.baseline:
        old = tmp / f"at_{args.baseline}"
        old_model = old / "model"
        old_model.mkdir(parents=True)
        exporter = exporter_at(args.baseline)
        for name in ("encoder.onnx", "decoder.onnx"):
            exporter.export_graph(model, name, old_model / name)
        web_old = page_at(args.baseline, old / "web")
        sites.update({f"plain, {args.baseline}": (old_model, web_old, False),
                      f"isolated, {args.baseline}": (old_model, web_old, True)})
        urls.update({f"plain, {args.baseline}": "", f"isolated, {args.baseline}": ""})
    servers = {key: serve(model_dir, isolated, web) for key, (model_dir, web, isolated) in sites.items()}
    report: dict[str, object] = {"cpu": cpu_description(), "model": which}
    lines = [f"{cpu_description()}; model: {which}"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                    args=CHROMIUM_ARGS)
        if not args.no_still:
            lines += still(args, browser, servers, urls, tmp, model, photo_img, painting_img, ort, Stylizer, report)
        if args.graphs:
            lines += graphs_alone(args, browser, tmp, model)
        if args.live:
            lines += live(args, browser, servers, report)
        browser.close()
    for server, _ in servers.values():
        server.shutdown()
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")


def still(args: argparse.Namespace, browser: Any, servers: dict[str, tuple[Any, str]], urls: dict[str, str], tmp: Path,
          model: Any, photo_img: Image.Image, painting_img: Image.Image, ort: Any, Stylizer: Any,
          report: dict[str, Any]) -> list[str]:
    """The still table: every page round-robin with onnxruntime in Python."""
    arrays = [(np.asarray(i, np.float32) / 255).transpose(2, 0, 1)[None].copy() for i in (photo_img, painting_img)]
    sessions = {}
    for threads in (1, 0):  # 0: onnxruntime's default (one per core)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sessions[threads] = [ort.InferenceSession(str(tmp / n), opts, providers=["CPUExecutionProvider"])
                             for n in ("encoder.onnx", "decoder.onnx")]
    site = {key: servers[key.split(", 1 thread")[0]][1] + query for key, query in urls.items()}
    pages = {key: Page(browser, url, tmp / "photo.png", tmp / "painting.png", args.size) for key, url in site.items()}
    times: dict[str, list[float]] = {key: [] for key in pages} | {"ort 1": [], "ort default": []}
    graphs: dict[str, list[float]] = {key: [] for key in pages}  # the part inside session runs (today's page)
    threads_seen = {}
    for r in range(args.rounds + 1):
        for key, page in pages.items():
            t = page.full_run()
            threads_seen[key] = t["threads"]
            if r:
                times[key].append(t["total"] / 1000)
                if "graphs" in t:
                    graphs[key].append(t["graphs"] / 1000)
        for threads, (enc, dec) in sessions.items():
            seconds, result = python_run(enc, dec, *arrays)
            if r:
                times["ort 1" if threads == 1 else "ort default"].append(seconds)
    canvas = pages["plain"].canvas()
    if args.screenshot:
        pages["plain"].page.screenshot(path=str(args.screenshot), full_page=True)
    for page in pages.values():
        page.page.close()
    reference = np.asarray(Stylizer(model, backend="fp32")(photo_img, painting_img))
    med = {k: statistics.median(v) for k, v in times.items()}
    in_graphs = {k: statistics.median(v) for k, v in graphs.items() if v}
    report["still"] = med
    report["still_in_graphs"] = in_graphs
    w, h = photo_img.size
    lines = [f"still: {w}x{h} photo, {args.size}x{args.size} painting, both encoded; median of {args.rounds} rounds",
             "| where | threads | s per image | of which in the graphs | vs onnxruntime in Python, same threads |",
             "|---|---:|---:|---:|---:|"]
    for key in pages:
        where = "cross-origin isolated (app.py)" if key.startswith("isolated") else "plain static server"
        rev = key.partition(", ")[2]
        label = f", page of {rev}" if rev and rev != "1 thread" else ", ?threads=1" if rev else ""
        ort_key = "ort 1" if threads_seen[key] == 1 else "ort default"
        part = f"{in_graphs[key]:.3f}" if key in in_graphs else "-"
        lines.append(f"| Chromium, WASM, {where}{label} | {threads_seen[key]} | {med[key]:.3f} | {part} | "
                     f"{med[key] / med[ort_key]:.1f}x |")
    lines.append(f"| Python, onnxruntime CPU | 1 | {med['ort 1']:.3f} | {med['ort 1']:.3f} | 1.0x |")
    lines.append(f"| Python, onnxruntime CPU | default | {med['ort default']:.3f} | {med['ort default']:.3f} | 1.0x |")
    for key in pages:
        rev = key.partition(", ")[2]
        if rev and rev != "1 thread":
            new = key.partition(", ")[0]
            lines.append(f"{new}: today's page is {med[key] / med[new]:.2f}x as fast as the page of {rev}; "
                         f"with no work of its own beside the graphs it would be {med[key] / in_graphs[new]:.2f}x")
    lines.append(f"page vs onnxruntime: PSNR {psnr(canvas, result):.1f} dB; page vs fp32 Stylizer: "
                 f"PSNR {psnr(canvas, reference):.1f} dB")
    return lines


def live(args: argparse.Namespace, browser: Any, servers: dict[str, tuple[Any, str]],
         report: dict[str, Any]) -> list[str]:
    """The live table: the page's camera mode at fixed sizes and on auto, then the app's Live tab."""
    _, url = servers["isolated"]
    rows = {size: live_page(browser, url, size, args.live_seconds, f"&painting={args.live_painting}",
                            args.live_screenshot if size == str(LIVE_SIZES[0]) else None)
            for size in [*map(str, LIVE_SIZES), "auto"]}
    rows["320, 1 thread"] = live_page(browser, url, "320", args.live_seconds, "&threads=1")
    app_row = None
    try:
        app_row = live_app(browser, args.live_seconds, args.app_screenshot)
    except ImportError as exc:  # no gradio here
        print(f"app's Live tab skipped: {exc}", file=sys.stderr)
    report["live"] = {"page": rows, "app": app_row}
    lines = [f"live: Chromium's fake camera (20 frames/s), frames per second over {args.live_seconds:g} s",
             "| where | working size | frames/s | ms per frame | of which in the graphs | frames dropped |",
             "|---|---|---:|---:|---:|---:|"]
    for size, r in rows.items():
        label = f"{r['width']} x {r['height']}" + (" (auto)" if size == "auto" else "")
        lines.append(f"| page, WASM, cross-origin isolated, {r['threads']} thread{'s' * (r['threads'] > 1)} | "
                     f"{label} | {r['fps']:.1f} | {r['ms']:.0f} | {r['graphs_ms']:.0f} | {r['dropped']} |")
    if app_row:
        lines.append(f"| app.py Live tab (server's Stylizer, {app_row['backend']}) | {app_row['width']} x "
                     f"{app_row['height']} | {app_row['fps']:.1f} | | | |")
    return lines


if __name__ == "__main__":
    main()
