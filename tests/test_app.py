"""The web app, served on a local port with the bundled model and driven through ``gradio_client``."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

gr = pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

import app  # noqa: E402
from adain_hub.images import output_size  # noqa: E402

from .conftest import BUNDLED_MODEL, FIXTURES  # noqa: E402

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class CountingEncode:
    """Wraps ``backend.encode`` to count how often the network really encodes an image."""

    def __init__(self, encode) -> None:
        self.encode, self.calls = encode, 0

    def __call__(self, image):
        self.calls += 1
        return self.encode(image)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Client, CountingEncode]]:
    """The real app (bundled model, fp32) on a free port; one server for the whole module."""
    model, _ = app.load_model(str(BUNDLED_MODEL))
    stylizer = app.make_stylizer(model, "fp32")
    stylizer.style_size = 256  # styles at 256 instead of 512: keeps the tests quick on a shared 2-core CPU
    counter = CountingEncode(stylizer.backend.encode)
    stylizer.backend.encode = counter
    demo = app.build_demo(stylizer, "bundled model_card/")
    _, url, _ = app.launch(
        demo, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, ssr_mode=False, quiet=True
    )
    try:
        yield Client(url, verbose=False), counter
    finally:
        demo.close()


def as_array(path: str | Path, size: tuple[int, int] | None = None) -> np.ndarray:
    img = Image.open(path).convert("RGB")
    return np.asarray(img.resize(size, Image.Resampling.LANCZOS) if size else img, dtype=np.float32) / 255.0


def test_stylize_endpoint_returns_a_png_at_the_output_size(served):
    client, _ = served
    content = FIXTURES / "rocket.jpg"  # 640x427: not square, so both sides are checked
    out = client.predict(handle_file(content), handle_file(FIXTURES / "brick.png"), 1.0, size=256, api_name="/stylize")
    assert Path(out).suffix == ".png"
    expected = output_size(*Image.open(content).size, 256)
    assert Image.open(out).size == expected == (256, 171)  # 640x427 scaled by 0.4, not rounded to 8
    result, photo = as_array(out), as_array(content, expected)
    assert result.std() > 0.05  # a picture, not a flat colour
    assert np.abs(result - photo).mean() > 0.05  # and restyled, not the photo given back
    # the PNG says what made it; the same request again paints the same pixels in a file of its own
    text = Image.open(out).text
    assert text["Software"].startswith("adain-hub ") and "alpha 1; size 256" in text["Comment"], text
    again = client.predict(handle_file(content), handle_file(FIXTURES / "brick.png"), 1.0, size=256,
                           api_name="/stylize")
    assert Path(again) != Path(out) and np.array_equal(as_array(again), result)
    assert Image.open(again).text["Creation Time"] != text["Creation Time"]


def test_a_famous_painting_from_the_models_bank_is_a_style(served):
    """The gallery's pick (by name) stylizes as the shipped bank's statistics say, with no painting file."""
    from adain_hub import StyleBank

    client, _ = served
    content = FIXTURES / "chelsea.png"
    out = client.predict(handle_file(content), None, 1.0, size=256, painting="van-gogh-madame-roulin",
                         api_name="/stylize")
    model, _ = app.load_model(str(BUNDLED_MODEL))
    stylizer = app.make_stylizer(model, "fp32")
    bank = StyleBank.from_pretrained(model)
    expected = np.asarray(stylizer(content, bank["van-gogh-madame-roulin"], size=256), dtype=np.float32) / 255.0
    assert np.abs(as_array(out) - expected).mean() < 1e-3
    with pytest.raises(AppError, match="No famous painting named"):
        client.predict(handle_file(content), None, 1.0, painting="no-such-painting", api_name="/stylize")
    with pytest.raises(AppError, match="carries only its statistics"):
        client.predict(handle_file(content), None, 1.0, preserve_color=True, painting="manet-peonies",
                       api_name="/stylize")


def test_bad_upload_is_a_clear_error_and_the_server_keeps_serving(served, tmp_path, capfd):
    client, _ = served
    fake = tmp_path / "holiday.jpg"
    fake.write_text("this is not a picture")
    style = handle_file(FIXTURES / "gravel.png")
    with pytest.raises(AppError, match=r"^Content photo: not an image"):
        client.predict(handle_file(fake), style, 0.7, api_name="/stylize")
    tiny = tmp_path / "tiny.png"
    Image.new("RGB", (12, 12), "red").save(tiny)
    with pytest.raises(AppError, match=r"^Style 2: image is too small"):
        client.predict(handle_file(FIXTURES / "chelsea.png"), style, 0.7, handle_file(tiny), api_name="/stylize")
    huge = tmp_path / "huge.jpg"
    huge.write_bytes(b"\xff\xd8" + bytes(21_000_000))  # over the app's 20 MB upload limit
    with pytest.raises(ValueError, match="exceeds the maximum file size"):  # refused before uploading
        client.predict(handle_file(huge), style, 0.7, api_name="/stylize")
    with pytest.raises(AppError, match="at least one style a weight above 0"):
        client.predict(handle_file(FIXTURES / "chelsea.png"), style, 0.7, weight=0.0, api_name="/stylize")
    assert "Traceback" not in capfd.readouterr().err  # user errors are one log line, not a stack trace
    out = client.predict(handle_file(FIXTURES / "chelsea.png"), style, 0.7, size=256, api_name="/stylize")
    assert Image.open(out).size == output_size(451, 300, 256)


def test_changing_alpha_or_weights_does_not_re_encode_unchanged_images(served, tmp_path):
    client, counter = served
    # mirrored copies: pixels no other test has sent, so nothing is in the cache yet
    files = []
    for name in ("coffee.png", "astronaut.png", "brick.png"):
        Image.open(FIXTURES / name).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(tmp_path / name)
        files.append(handle_file(tmp_path / name))
    content, style, style_2 = files
    before = counter.calls
    first = client.predict(content, style, 0.3, size=256, api_name="/stylize")
    assert counter.calls - before == 2  # the photo and the style, each encoded once

    before = counter.calls
    second = client.predict(content, style, 0.9, size=256, api_name="/stylize")
    assert counter.calls == before  # new alpha, fresh uploads of the same files: nothing re-encoded
    assert np.abs(as_array(first) - as_array(second)).mean() > 0.01  # yet alpha did change the result

    before = counter.calls
    client.predict(content, style, 0.9, style_2, 0.7, 0.3, size=256, api_name="/stylize")
    client.predict(content, style, 0.9, style_2, 0.2, 0.8, size=256, api_name="/stylize")
    assert counter.calls - before == 1  # only the new second style, once


def test_mask_with_two_styles(served, tmp_path):
    client, _ = served
    mask = Image.new("L", (64, 64), 0)
    ImageDraw.Draw(mask).rectangle((0, 0, 31, 63), fill=255)  # left half: style 1, right half: style 2
    mask.save(tmp_path / "mask.png")
    content = handle_file(FIXTURES / "astronaut.png")
    out = client.predict(
        content,
        handle_file(FIXTURES / "coffee.png"),
        1.0,
        handle_file(FIXTURES / "gravel.png"),
        mask=handle_file(tmp_path / "mask.png"),
        size=256,
        api_name="/stylize",
    )
    result = as_array(out)
    assert result.shape == (256, 256, 3)
    # coffee is warm and colourful, gravel is grey: the left half must be the more saturated one
    sat = result.max(-1) - result.min(-1)
    assert sat[:, :112].mean() > sat[:, 144:].mean() + 0.05


def test_hub_id_falls_back_to_the_bundled_model_fast_when_offline(caplog):
    start = time.perf_counter()
    with caplog.at_level(logging.WARNING, logger="adain_hub.app"):
        model, source = app.load_model("adain-hub/no-such-model")  # conftest sets HF_HUB_OFFLINE=1
    assert time.perf_counter() - start < 10
    assert "bundled model_card_lite/" in source and "using the bundled model" in caplog.text
    assert model.config.architecture == "lite"  # the default's bundled copy, for an unknown id
    vgg, source = app.load_model("adain-hub/adain-vgg19")  # a known id falls back to its own copy
    assert "bundled model_card/" in source and vgg.is_vgg and vgg.config.channels == (64, 128, 256, 512)
    _, local = app.load_model(str(BUNDLED_MODEL))
    assert local.startswith("local folder")


def test_a_missing_local_folder_is_an_error_not_a_fallback(tmp_path, caplog):
    from adain_hub.hub import ModelLoadError

    for name in (str(tmp_path / "my_model"), "./my_model", "runs/mine/model"):
        with pytest.raises(ModelLoadError, match="no such model folder"):
            app.load_model(name)
    with caplog.at_level(logging.ERROR, logger="adain_hub.app"):
        assert app.main(["--model", "./my_model"]) == 1
    assert "./my_model: no such model folder" in caplog.text


def test_a_port_in_use_is_one_line_naming_the_flag(caplog):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with caplog.at_level(logging.ERROR, logger="adain_hub.app"):
            assert app.main(["--model", str(BUNDLED_MODEL), "--port", str(port), "--backend", "fp32"]) == 1
    assert f"cannot serve on 127.0.0.1:{port}" in caplog.text and "--port" in caplog.text


def test_command_line_reads_env_and_flags(monkeypatch):
    monkeypatch.setenv("GRADIO_SERVER_PORT", "7123")
    monkeypatch.setenv("ADAIN_MODEL", "someone/some-model")
    args = app.parse_args([])
    assert (args.port, args.model, args.host) == (7123, "someone/some-model", "127.0.0.1")
    args = app.parse_args(["--port", "8000", "--model", "here", "--host", "0.0.0.0"])
    assert (args.port, args.model, args.host) == (8000, "here", "0.0.0.0")


def test_original_size_and_tiny_photos(served, tmp_path):
    """The "original" choice (size 0) gives the photo's own size; a photo too small for the network
    comes back at its size instead of being refused."""
    client, _ = served
    style = handle_file(FIXTURES / "gravel.png")
    out = client.predict(handle_file(FIXTURES / "chelsea.png"), style, 0.7, size=app.ORIGINAL, api_name="/stylize")
    assert Image.open(out).size == (451, 300)
    icon = tmp_path / "icon.png"
    Image.open(FIXTURES / "chelsea.png").resize((16, 16)).save(icon)
    out = client.predict(handle_file(icon), style, 0.7, size=256, api_name="/stylize")
    assert Image.open(out).size == (16, 16)


def test_video_endpoint_returns_the_clip_stylized_with_every_frame(served, tmp_path):
    from .test_benchmarks import load

    client, _ = served
    clips = load("bench_video")
    src = clips.write_clip(tmp_path / "clip.mp4", clips.still_clip(96, 64, frames=12), fps=12, audio=True)
    out = client.predict(handle_file(src), handle_file(FIXTURES / "brick.png"), 1.0, True, 256,
                         api_name="/stylize_video")
    path = Path(out["video"] if isinstance(out, dict) else out)
    frames = clips.read_frames(path)
    assert path.suffix == ".mp4" and len(frames) == 12 and frames[0].shape == (64, 96, 3)
    (tmp_path / "notes.mp4").write_text("not a video")
    with pytest.raises(AppError, match="Video: not a video"):
        client.predict(handle_file(tmp_path / "notes.mp4"), handle_file(FIXTURES / "brick.png"),
                       api_name="/stylize_video")


@pytest.fixture(scope="module")
def two_models(tmp_path_factory) -> dict[str, Any]:
    """Two tiny models under their page names: "plain" (VGG, no style bank) first, "painter" (lite, with a
    bank of two paintings) second, as a community fine-tune would sit next to the default."""
    import torch

    from adain_hub import AdaIN, AdaINConfig, StyleBank

    from .conftest import TINY, responsive

    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    responsive(AdaIN(TINY)).save_pretrained(root / "plain")
    painter = responsive(AdaIN(AdaINConfig(architecture="lite", channels=(4, 8))), seed=1)
    painter.save_pretrained(root / "painter")
    StyleBank.from_images(painter, [FIXTURES / "coffee.png", FIXTURES / "brick.png"], names=["warm", "grey"],
                          size=64).save(root / "painter")
    return {name: root / name for name in ("plain", "painter")}


def test_several_models_on_one_page_each_with_its_own_gallery(two_models):
    stylizers = {name: app.make_stylizer(app.load_model(str(path))[0], "fp32") for name, path in two_models.items()}
    demo = app.build_demo(stylizers)
    _, url, _ = app.launch(demo, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                           ssr_mode=False, quiet=True)
    try:
        client = Client(url, verbose=False)
        content, style = FIXTURES / "chelsea.png", FIXTURES / "gravel.png"
        first = client.predict(handle_file(content), handle_file(style), 1.0, size=256, api_name="/stylize")
        second = client.predict(handle_file(content), handle_file(style), 1.0, size=256, model="painter",
                                api_name="/stylize")
        for out, name in ((first, "plain"), (second, "painter")):  # an old call (no model) gets the first model
            expected = np.asarray(stylizers[name](content, style, size=256), dtype=np.float32) / 255.0
            assert np.abs(as_array(out) - expected).mean() < 1e-3, name
        assert np.abs(as_array(first) - as_array(second)).mean() > 0.01
        famous = client.predict(handle_file(content), None, 1.0, size=256, painting="warm", model="painter",
                                api_name="/stylize")
        assert Image.open(famous).size == output_size(451, 300, 256)
        with pytest.raises(AppError, match="No famous painting named 'warm'"):  # the first model has no bank
            client.predict(handle_file(content), None, 1.0, size=256, painting="warm", api_name="/stylize")
        with pytest.raises(AppError, match="nope is not in the list of choices"):  # gradio's dropdown says so
            client.predict(handle_file(content), handle_file(style), 1.0, model="nope", api_name="/stylize")
    finally:
        demo.close()
    # picking a model shows its own gallery (and clears the pick); a model without a bank hides it
    follow = next(f.fn for f in demo.fns.values() if f.name == "follow")
    accordion, gallery, pick = follow("painter")
    assert accordion.visible and accordion.label == "Famous paintings (2)" and pick == ""
    assert [item["caption"] for item in gallery.value] == ["warm", "grey"]
    accordion, gallery, _ = follow("plain")
    assert not accordion.visible


def test_models_from_flags_or_env_are_each_loaded_once(two_models, monkeypatch):
    loads, launched = [], []
    real = app.load_model
    monkeypatch.setattr(app, "load_model", lambda name: loads.append(name) or real(name))
    monkeypatch.setattr(app, "launch", lambda demo, **kw: launched.append(demo))
    plain, painter = str(two_models["plain"]), str(two_models["painter"])
    assert app.main(["--model", plain, "--model", f"kuindzhi={painter}", "--model", f"again={painter}",
                     "--backend", "fp32"]) == 0
    assert loads == [plain, painter] and len(launched) == 1  # the same model under two names: loaded once
    stylize = next(f for f in launched[0].fns.values() if f.name == "stylize")
    assert [b.elem_id for b in stylize.inputs][-1] == "model"  # the new input comes last: old calls keep working
    dropdown = next(b for b in stylize.inputs if b.elem_id == "model")
    assert dropdown.choices == [(plain, plain), ("kuindzhi", "kuindzhi"), ("again", "again")] and dropdown.visible
    monkeypatch.setenv("ADAIN_MODELS", f"{plain}, {painter}")
    monkeypatch.setenv("ADAIN_MODEL", "ignored/when-ADAIN_MODELS-is-set")
    assert app.parse_args([]).models == [plain, painter]
    assert app.named_models([plain, f"b={painter}"]) == {plain: plain, "b": painter}
    with pytest.raises(ValueError, match="given twice"):
        app.named_models(["a=x", "a=y"])


def test_the_live_tab_streams_frames_through_the_photo_tabs_stylizer(tmp_path):
    """The Live tab's function runs on the Stylizer the page was built with (no second one): a frame with a
    famous painting is what Stylizer.stylize paints, frames are never cached (each is seen once), and a style
    image is encoded on its first frame only."""
    from adain_hub import StyleBank

    model, _ = app.load_model(str(BUNDLED_MODEL))
    stylizer = app.make_stylizer(model, "fp32")
    stylizer.style_size = 256
    counter = CountingEncode(stylizer.backend.encode)
    stylizer.backend.encode = counter
    demo = app.build_demo(stylizer, "bundled")
    live = next(f for f in demo.fns.values() if f.api_name == "stylize_frame")
    assert [b.elem_id for b in live.inputs] == ["live_in", "live_painting", "live_style", "live_alpha", "live_size",
                                                "model"]
    assert live.concurrency_limit == app.LIVE_STREAMS and live.time_limit == app.LIVE_SECONDS
    frame = Image.open(FIXTURES / "chelsea.png").convert("RGB")  # 451x300, as a webcam would send it
    out = live.fn(frame, "van-gogh-madame-roulin", None, 0.8, 256, "bundled")
    assert counter.calls == 1  # the frame; a famous painting needs no encoding
    bank = StyleBank.from_pretrained(model)
    expected = stylizer(frame, bank["van-gogh-madame-roulin"], alpha=0.8, size=256)
    assert out.size == expected.size == output_size(451, 300, 256)
    assert np.abs(np.asarray(out, np.float32) - np.asarray(expected, np.float32)).mean() < 0.5
    calls = counter.calls
    live.fn(frame, "van-gogh-madame-roulin", None, 0.8, 256, "bundled")
    assert counter.calls == calls + 1  # the same frame again is encoded again: frames are not kept

    style = tmp_path / "style.png"
    Image.open(FIXTURES / "gravel.png").transpose(Image.Transpose.FLIP_TOP_BOTTOM).save(style)
    calls = counter.calls
    for _ in range(3):  # a style image (used instead of the painting): encoded on the first frame only
        out = live.fn(frame, "van-gogh-madame-roulin", str(style), 1.0, 256, "bundled")
    assert counter.calls == calls + 1 + 3
    expected = np.asarray(stylizer(frame, str(style), size=256), np.float32)
    assert np.abs(np.asarray(out, np.float32) - expected).mean() < 0.5

    assert live.fn(None, "van-gogh-madame-roulin", None, 1.0, 256, "bundled") is None  # no frame yet
    with pytest.raises(gr.Error, match="Pick a famous painting"):
        live.fn(frame, None, None, 1.0, 256, "bundled")
    with pytest.raises(gr.Error, match="No famous painting named"):
        live.fn(frame, "no-such-painting", None, 1.0, 256, "bundled")


def test_forty_still_requests_from_eight_clients_all_get_answers(served, tmp_path):
    """8 clients each sending 5 stills one after another (40 requests, 8 at a time in the queue): every one
    comes back as a picture, none as an error. Clients i and i + 5 ask for the same result at the same moment:
    before results carried their own metadata, gradio wrote both to one cache file and one download could read
    it while the other request was rewriting it."""
    from concurrent.futures import ThreadPoolExecutor

    client, _ = served
    url = client.src
    photo = tmp_path / "small.png"
    Image.open(FIXTURES / "chelsea.png").convert("RGB").resize((120, 80)).save(photo)

    def one_client(i: int) -> list[tuple[int, int]]:
        c = Client(url, verbose=False)
        return [Image.open(c.predict(handle_file(photo), handle_file(FIXTURES / "gravel.png"), 0.2 * (i % 5),
                                     size=256, api_name="/stylize")).size for _ in range(5)]

    with ThreadPoolExecutor(8) as pool:
        sizes = [size for sizes in pool.map(one_client, range(8)) for size in sizes]
    assert sizes == [(120, 80)] * 40
