"""The adain-hub web demo: stylize a photo with one or two paintings in the browser or via the API.

    python app.py                              # adain-lite from the Hub, else the bundled model_card_lite/
    python app.py --model adain-hub/adain-vgg19  # the paper's VGG-19 model instead
    python app.py --model ./my_model --port 8080
    python app.py --model adain-hub/adain-lite --model kuindzhi=runs/kuindzhi/model   # a choice of models
    ADAIN_MODEL=adain-hub/adain-vgg19 GRADIO_SERVER_PORT=7861 python app.py
    ADAIN_MODELS="adain-hub/adain-lite,me/kuindzhi-adain" python app.py             # the same, for a Space

This file only parses, loads and lays out the page; the work is done by :class:`adain_hub.Stylizer`,
and :func:`adain_hub.images.load_image` alone decides what a bad image is. One Stylizer per model lives as
long as the app (each model is loaded once, however often it is picked), so its pixel-keyed cache keeps every
style encoded while alpha or weights change. With several models a dropdown picks one, and the gallery of
famous paintings follows it (each model's own style bank). The Live tab streams the webcam's frames through
the same Stylizer (labelled as sending them to the server). The static page in ``web/``, which stylizes in the
visitor's own browser (photos and the live camera, nothing uploaded), is served at ``/web/``.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # read when gradio is imported

import argparse  # noqa: E402
import itertools  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from collections import OrderedDict  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable, Mapping  # noqa: E402

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402
from starlette.exceptions import HTTPException  # noqa: E402 - gradio's server is Starlette's
from starlette.staticfiles import StaticFiles  # noqa: E402

from adain_hub import __version__, hub  # noqa: E402
from adain_hub.backends import BACKENDS  # noqa: E402
from adain_hub.hub import looks_like_path, named_models  # noqa: E402
from adain_hub.images import ImageError, load_image, one_line  # noqa: E402
from adain_hub.model import AdaIN  # noqa: E402
from adain_hub.style_bank import StyleBank, StyleBankError  # noqa: E402
from adain_hub.stylizer import StyleFeatures, Stylizer  # noqa: E402
from adain_hub import video as adain_video  # noqa: E402
from adain_hub.video import VideoError, probe  # noqa: E402

log = logging.getLogger("adain_hub.app")

ROOT = Path(__file__).resolve().parent
# the CPU default: the lite model beats the VGG-19 one on the bench split and runs in a third of its time
DEFAULT_MODEL = "adain-hub/adain-lite"
# the copy of each Hub model that ships in this repository: the fallback when the Hub cannot be had
BUNDLED = {"adain-hub/adain-lite": ROOT / "model_card_lite", "adain-hub/adain-vgg19": ROOT / "model_card"}
BUNDLED_MODEL = BUNDLED[DEFAULT_MODEL]
EXAMPLES = ROOT / "examples"
WEB = ROOT / "web"  # the in-browser page: served at /web/ when web/index.html is there
SIZES = (256, 384, 512, 768)
ORIGINAL = 0  # the "original" choice: the photo's own size, in tiles over the Stylizer's memory budget
DEFAULT_SIZE = 512
MAX_FILE_SIZE = "20mb"  # refused by the upload itself, before any decoding
MAX_VIDEO_SECONDS = 10.0  # the Video tab is for short clips: every frame runs the whole network
VIDEO_SIZES = (256, 384, 512)
VIDEO_OUT = Path(tempfile.gettempdir()) / "adain_hub_video"  # results, pruned after VIDEO_KEEP_S
VIDEO_KEEP_S = 3600.0
LIVE_SIZES = (256, 320, 384, 512)
DEFAULT_LIVE_SIZE = 320
LIVE_EVERY_S = 0.1  # the browser sends a frame at most this often, and none while the last is still out
LIVE_SECONDS = 120  # one visitor's stream holds a worker this long at most (then the webcam is clicked again)
LIVE_STREAMS = 2  # live visitors served at once; more wait in the queue
# what the Live tab asks the webcam for: not gradio's default 1920 x 1440, since every frame is uploaded
LIVE_CAMERA = {"video": {"width": {"ideal": 640}, "height": {"ideal": 480}}}

THEME = gr.themes.Soft(
    primary_hue="indigo",
    # system fonts: the page must not wait on a font CDN (Spaces behind a proxy, offline machines)
    font=["ui-sans-serif", "system-ui", "Segoe UI", "Roboto", "sans-serif"],
    font_mono=["ui-monospace", "Consolas", "monospace"],
)
CSS = """
.gradio-container { max-width: 1180px !important; margin: auto; }
#title h1 { margin-bottom: 0.2em; }
#run { min-height: 48px; font-size: 1.05em; }
#result img { width: 100%; height: 100%; object-fit: contain; }
"""


# -- model ----------------------------------------------------------------------------------
def load_model(name: str) -> tuple[AdaIN, str]:
    """Load ``name`` (a folder or a Hub id); when a Hub id cannot be had, fall back to the bundled model.

    Returns the model and a short description of where it came from, for the log and the page.
    A local folder is used as is, and a missing or broken one is an error (serving another model
    instead would hide a typo). A Hub id is fetched online, from the local Hub cache when offline
    (``HF_HUB_OFFLINE=1`` or no connection), and the bundled copy of that model (the default's,
    ``model_card_lite/``, for any other id) is the last resort, so ``python app.py`` works on a fresh
    clone with no network.
    """
    if looks_like_path(name):
        return hub.load_model(name), f"local folder {name}"
    online = hub.hub_reachable()
    try:
        model = hub.load_model(name, online=online)
        return model, f"{name} ({'Hugging Face Hub' if online else 'local Hub cache'})"
    except hub.ModelLoadError as exc:
        bundled = BUNDLED.get(name, BUNDLED_MODEL)
        log.warning("%s; using the bundled model in %s", exc, bundled)
        return hub.load_model(bundled), f"bundled {bundled.name}/ (fallback for {name})"


def make_stylizer(model: AdaIN, backend: str = "auto", size: int = DEFAULT_SIZE) -> Stylizer:
    """One Stylizer for the app's life. ``auto`` falls back to plain PyTorch if the fast backend
    cannot start (say OpenVINO is missing on the Space); a backend asked for by name must work."""
    try:
        return Stylizer(model, backend=backend, size=size)
    except Exception as exc:  # noqa: BLE001
        if backend != "auto":
            raise
        log.warning("backend 'auto' failed (%s: %s); using fp32 PyTorch", type(exc).__name__, exc)
        return Stylizer(model, backend="fp32", size=size)


# -- inputs ---------------------------------------------------------------------------------
def uploaded_image(**kwargs: Any) -> gr.Image:
    """A ``gr.Image`` that hands the uploaded file's path to the function without opening it.

    ``gr.Image`` runs ``PIL.Image.open`` on every upload, even with ``type="filepath"``, so a text
    file named ``.jpg`` would fail inside gradio with a bare "Error". Passing the path through lets
    :func:`load_image` judge it and the page show the reason. (The override is set on the instance:
    a ``gr.Image`` subclass would make gradio write an ``app.pyi`` stub next to this file.)
    """
    image = gr.Image(type="filepath", **kwargs)
    default = image.preprocess

    def preprocess(payload: Any) -> str | None:
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
            return str(payload.path)
        return default(payload)  # pasted or webcam images arrive inline: let gradio save them

    image.preprocess = preprocess
    return image


def user_error(message: str) -> gr.Error:
    """An error the user caused: shown on the page (and to API clients) as is, logged as one line
    instead of gradio's traceback."""
    log.info("refused: %s", message)
    return gr.Error(message, print_exception=False)


def _open(path: str, label: str, **kwargs: Any) -> Image.Image:
    """Load one upload; a bad one becomes a ``gr.Error`` naming the slot, not the temp path."""
    try:
        return load_image(path, **kwargs)
    except ImageError as exc:
        reason = str(exc).removeprefix(f"{path}: ").rstrip(".")
        raise user_error(f"{label}: {reason}.") from None


def model_bank(model: AdaIN) -> StyleBank | None:
    """The famous paintings shipped with the model (its style bank), or ``None`` when it has none."""
    try:
        return StyleBank.from_pretrained(model)
    except StyleBankError as exc:
        log.info("no style gallery: %s", exc)
        return None


def make_stylize_fn(stylizers: Stylizer | Mapping[str, Stylizer], banks: Mapping[str, StyleBank | None] | None = None):
    """The function behind the button and the ``/stylize`` API endpoint, over the app's models (by
    name; a lone Stylizer is the only one) and their style banks."""
    if isinstance(stylizers, Stylizer):
        stylizers = {"": stylizers}
    banks = banks or {}

    def stylize(
        content: str | None,
        style: str | None,
        alpha: float = 1.0,
        style_2: str | None = None,
        weight: float = 1.0,
        weight_2: float = 1.0,
        preserve_color: bool = False,
        mask: str | None = None,
        size: int = DEFAULT_SIZE,
        painting: str | None = None,
        model: str | None = None,
    ) -> Image.Image:
        """Stylize ``content`` with ``style`` (and optionally ``style_2``, blended by weight).

        Args:
            content: the photo.
            style: the first style image (a painting, a texture).
            alpha: content-style trade-off in [0, 1]; 1 is full style.
            style_2: optional second style image.
            weight: weight of the first style when blending two.
            weight_2: weight of the second style.
            preserve_color: keep the photo's colours.
            mask: optional mask; white = first style, black = second style (with one style, black
                areas stay the photo).
            size: longer side, in pixels, at which the network runs and the result comes back
                (0: the photo's own size).
            painting: the name of a famous painting of the chosen model's style bank, used as style 1
                when no style 1 image is given.
            model: which of the app's models stylizes (default: the first; last, so that older API
                calls keep working).
        """
        stylizer = _chosen(stylizers, model)
        bank = banks.get(model or next(iter(stylizers)))
        if content is None:
            raise user_error("Add a content photo first.")
        famous = None
        if painting and not style:
            if bank is None or painting not in bank:
                raise user_error(f"No famous painting named {painting!r} here.")
            if preserve_color:
                raise user_error("Keeping the photo's colours needs the style as an image; a famous painting "
                                 "from the gallery carries only its statistics.")
            famous = bank[painting]
        slots = [(s, w, label) for s, w, label in ((style, weight, "Style 1"), (style_2, weight_2, "Style 2")) if s]
        if not slots and famous is None:
            raise user_error("Add at least one style image, or pick a famous painting.")
        try:  # what the photo becomes, from its header (adain_hub.input_plan): refused before it is decoded
            refusal = stylizer.plan(content, int(size)).reason
        except ImageError:
            refusal = ""  # not an image at all: _open says so below
        if refusal:
            raise user_error(f"Content photo: {refusal}.")
        photo = _open(content, "Content photo", min_side=1)  # small photos run enlarged and come back as they are
        styles: list[Any] = [_open(s, label) for s, _, label in slots]
        if famous is not None:
            styles.insert(0, famous)
            slots.insert(0, (painting, weight, "Style 1"))
        masks = None if mask is None else _open(mask, "Mask", min_side=1)
        weights = [float(w) for _, w, _ in slots]
        if masks is None and sum(weights) <= 0:
            raise user_error("Give at least one style a weight above 0.")
        start = time.perf_counter()
        try:
            result = stylizer.stylize(
                photo,
                styles,
                alpha=float(alpha),
                weights=None if masks is not None else weights,  # a mask gives each style its region whole
                masks=masks,
                preserve_color=bool(preserve_color),
                size=int(size),
            )
        except ValueError as exc:  # bad settings (alpha out of range, mask/style mismatch)
            raise user_error(str(exc)) from None
        label_provenance(result, model, float(alpha), int(size),
                         [painting if s is famous else "an image" for s in styles])
        log.info(
            "stylized %dx%d with %d style(s), alpha=%.2f%s in %.2f s",
            *result.size,
            len(styles),
            alpha,
            ", mask" if masks is not None else "",
            time.perf_counter() - start,
        )
        return result

    return stylize


_RESULT_NUMBERS = itertools.count(1)


def label_provenance(result: Image.Image, model: str | None, alpha: float, size: int, styles: list[str]) -> None:
    """Text chunks for the PNG result: what made it, with which settings, when. They also give every result bytes
    of its own: gradio (6.31) keeps an output under the hash of its bytes and rewrites that file in place
    (``processing_utils.save_pil_to_cache``), so two requests with the same result raced, one client reading the
    file while the other request truncated it ("peer closed connection without sending complete message body")."""
    result.info.update({
        "Software": f"adain-hub {__version__}",
        "Comment": (f"AdaIN style transfer{f', model {model}' if model else ''}; style: {', '.join(styles)}; "
                    f"alpha {alpha:g}; size {size or 'original'}; result {next(_RESULT_NUMBERS)} of this server"),
        "Creation Time": datetime.now(timezone.utc).isoformat(timespec="microseconds"),
    })


def make_live_fn(stylizers: Stylizer | Mapping[str, Stylizer],
                 banks: Mapping[str, StyleBank | None] | None = None) -> Callable[..., Image.Image | None]:
    """The function behind the Live tab (its stream event, ``stylize_frame``; gradio_client cannot call streams):
    one webcam frame through the same Stylizer as the Photo tab (the app's, per model), with a famous painting or
    a style image. A style image is encoded once and kept for the frames after it; frames are not cached (each
    is seen once)."""
    if isinstance(stylizers, Stylizer):
        stylizers = {"": stylizers}
    banks = banks or {}
    kept: OrderedDict[tuple[str, str], StyleFeatures] = OrderedDict()  # (model, style file) -> encoded, the last few
    lock = threading.Lock()

    def stylize_frame(
        frame: Image.Image | None,
        painting: str | None = None,
        style: str | None = None,
        alpha: float = 1.0,
        size: int = DEFAULT_LIVE_SIZE,
        model: str | None = None,
    ) -> Image.Image | None:
        """Stylize one webcam frame.

        Args:
            frame: the frame (``None`` before the webcam sends one: nothing to show).
            painting: the name of a famous painting of the model's style bank (used when no ``style``).
            style: a style image, encoded on its first frame and kept.
            alpha: content-style trade-off in [0, 1]; 1 is full style.
            size: longer side, in pixels, of the stylized frame.
            model: which of the app's models stylizes (default: the first).
        """
        if frame is None:
            return None
        stylizer = _chosen(stylizers, model)
        name = model or next(iter(stylizers))
        if style:
            with lock:
                chosen = kept.get((name, style))
            if chosen is None:
                chosen = stylizer.encode_style(_open(style, "Style"))
                with lock:
                    kept[(name, style)] = chosen
                    while len(kept) > 4:
                        kept.popitem(last=False)
        elif painting:
            bank = banks.get(name)
            if bank is None or painting not in bank:
                raise user_error(f"No famous painting named {painting!r} here.")
            chosen = bank[painting]
        else:
            raise user_error("Pick a famous painting or add a style image for the live view.")
        try:
            return stylizer.stylize(frame, chosen, alpha=float(alpha), size=int(size), cache=False)
        except ValueError as exc:  # alpha out of range, a frame the Stylizer refuses
            raise user_error(str(exc)) from None

    return stylize_frame


def _chosen(per_model: Mapping[str, Any], model: str | None) -> Any:
    """What the app keeps for the model picked by name (its Stylizer, its function), the first
    model's when none is named; a name it does not have is the user's error."""
    if not model:
        return next(iter(per_model.values()))
    if model not in per_model:
        raise user_error(f"No model named {model!r} here; the models are: {', '.join(per_model)}.")
    return per_model[model]


def make_video_fn(stylizers: Stylizer | Mapping[str, Stylizer], max_seconds: float = MAX_VIDEO_SECONDS):
    """The function behind the Video tab and the ``/stylize_video`` API endpoint, over the app's
    models (by name; a lone Stylizer is the only one)."""
    if isinstance(stylizers, Stylizer):
        stylizers = {"": stylizers}

    def stylize_video(
        video: str | None,
        style: str | None,
        alpha: float = 1.0,
        stabilize: bool = True,
        size: int = VIDEO_SIZES[0],
        model: str | None = None,
        progress: gr.Progress = gr.Progress(),
    ) -> str:
        """Stylize a short clip with ``style``; returns the path of the stylized mp4 (audio kept).

        Args:
            video: the clip (at most ``MAX_VIDEO_SECONDS`` long).
            style: the style image.
            alpha: content-style trade-off in [0, 1]; 1 is full style.
            stabilize: keep the output stable over time (off: each frame on its own, which flickers).
            size: longer side, in pixels, of the frames that come back.
            model: which of the app's models stylizes (default: the first).
        """
        stylizer = _chosen(stylizers, model)
        if video is None:
            raise user_error("Add a video first.")
        if style is None:
            raise user_error("Add a style image.")
        try:
            info = probe(video)
        except VideoError as exc:
            raise user_error(_video_message(exc, video)) from None
        if info.duration > max_seconds:
            raise user_error(f"Video: {info.duration:.1f} s is over this demo's limit of {max_seconds:g} s; trim it, "
                             "or run `adain stylize clip.mp4 --style painting.jpg --out out/` on your own machine.")
        painting = _open(style, "Style")
        out = Path(tempfile.mkdtemp(prefix="clip_", dir=_pruned_video_folder())) / f"{Path(video).stem}_stylized.mp4"
        start = time.perf_counter()
        try:
            result = adain_video.stylize_video(
                stylizer, video, painting, out, alpha=float(alpha), size=int(size), stabilize=bool(stabilize),
                progress=lambda done, total: progress((done, total or None), desc="Stylizing frames", unit="frames"),
            )
        except VideoError as exc:  # damaged past its first frame
            raise user_error(_video_message(exc, video)) from None
        except ValueError as exc:
            raise user_error(str(exc)) from None
        log.info("stylized a %dx%d clip of %d frames%s in %.1f s", result.width, result.height, result.frames,
                 "" if stabilize else " (not stabilised)", time.perf_counter() - start)
        return str(out)

    return stylize_video


def _video_message(exc: VideoError, video: str) -> str:
    """A VideoError as the page shows it: "Video: why." (the uploaded file's temporary path left out)."""
    return f"Video: {str(exc).removeprefix(f'{video}: ').rstrip('.')}."


def _pruned_video_folder() -> Path:
    """The folder for video results, with results older than ``VIDEO_KEEP_S`` removed: gradio copies
    each result into its own cache, so ours only has to outlive the response."""
    import shutil

    VIDEO_OUT.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in VIDEO_OUT.glob("clip_*"):
        try:
            if now - old.stat().st_mtime > VIDEO_KEEP_S:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:  # another worker pruned it first
            pass
    return VIDEO_OUT


def build_video_tab(stylizer: Stylizer | Mapping[str, Stylizer], model: gr.Dropdown | None = None) -> None:
    """The Video tab: a short clip and a style in, the stylized clip out (inside ``build_demo``); with
    several models, ``model`` is the page's model dropdown."""
    with gr.Tab("Video (short clips)", elem_id="video_tab"):
        gr.Markdown(f"Stylize a clip of up to {MAX_VIDEO_SECONDS:g} s, the style encoded once; frames are kept "
                    "stable over time (untick to see the flicker of stylizing each frame on its own).")
        with gr.Row(equal_height=False):
            with gr.Column():
                clip = gr.Video(label="Clip", sources=["upload"], format=None, elem_id="video_in", height=240)
                painting = uploaded_image(label="Style", elem_id="video_style", sources=["upload", "clipboard"],
                                          height=240)
            with gr.Column():
                result = gr.Video(label="Result", format=None, interactive=False, elem_id="video_out", height=300)
                run = gr.Button("Stylize video", variant="primary", elem_id="video_run")
                alpha = gr.Slider(0, 1, value=1.0, step=0.05, label="Style strength (alpha)", elem_id="video_alpha")
                stabilize = gr.Checkbox(value=True, label="Stabilise (no flicker)", elem_id="video_stabilize")
                size = gr.Radio(list(VIDEO_SIZES), value=VIDEO_SIZES[0], label="Frame size (longer side, px)",
                                elem_id="video_size")
        inputs = [clip, painting, alpha, stabilize, size] + ([model] if model is not None else [])
        run.click(make_video_fn(stylizer), inputs=inputs, outputs=result, api_name="stylize_video")


def build_live_tab(stylizers: Mapping[str, Stylizer], banks: Mapping[str, StyleBank | None],
                   model: gr.Dropdown) -> None:
    """The Live tab (inside ``build_demo``): the webcam streamed to the server, each frame through the
    model's Stylizer and back; labelled as uploading, with the in-browser page linked for those who would
    rather keep their camera on their machine."""
    first = next(iter(stylizers))
    names = list(banks[first].names) if banks.get(first) else []
    with gr.Tab("Live (webcam)", elem_id="live_tab"):
        page = (" To keep your camera on your own machine, use [the in-browser page](web/?source=camera): it paints "
                "your webcam live in your own tab, and nothing is uploaded." if (WEB / "index.html").is_file() else "")
        gr.Markdown(
            "**This tab sends your webcam's frames to this server**, which paints them and sends them back "
            f"(up to {1 / LIVE_EVERY_S:g} a second, {LIVE_SECONDS // 60:g} minutes at a time)." + page,
            elem_id="live_note",
        )
        with gr.Row(equal_height=False):
            with gr.Column():
                camera = gr.Image(label="Webcam (frames are sent to the server)", sources=["webcam"], streaming=True,
                                  type="pil", elem_id="live_in", height=300,
                                  webcam_options=gr.WebcamOptions(mirror=True, constraints=LIVE_CAMERA))
                painting = gr.Dropdown(names, value=names[0] if names else None, label="Famous painting",
                                       elem_id="live_painting", visible=bool(names))
                style = uploaded_image(label="Or a style image (used instead)", elem_id="live_style",
                                       sources=["upload", "clipboard"], height=160)
            with gr.Column():
                result = gr.Image(label="Live result", format="jpeg", elem_id="live_out", interactive=False,
                                  height=360)
                alpha = gr.Slider(0, 1, value=1.0, step=0.05, label="Style strength (alpha)", elem_id="live_alpha")
                size = gr.Radio(list(LIVE_SIZES), value=DEFAULT_LIVE_SIZE, label="Working size (longer side, px)",
                                elem_id="live_size")
        camera.stream(make_live_fn(stylizers, banks), [camera, painting, style, alpha, size, model], result,
                      stream_every=LIVE_EVERY_S, time_limit=LIVE_SECONDS, concurrency_limit=LIVE_STREAMS,
                      show_progress="hidden", api_name="stylize_frame")

        def follow_live(name: str | None) -> Any:  # another model: its own famous paintings
            chosen = banks.get(name or first)
            options = list(chosen.names) if chosen else []
            return gr.Dropdown(options, value=options[0] if options else None, visible=bool(options))

        model.change(follow_live, model, painting, api_name=False)


# -- page -----------------------------------------------------------------------------------
def _examples() -> list[list[Any]]:
    """Rows for ``gr.Examples``: content, style 1, style 2, mask, alpha, keep colours."""
    e = lambda name: str(EXAMPLES / name)  # noqa: E731
    rows = [  # paintings: public domain, credited in examples/PAINTINGS.md
        [e("astronaut.jpg"), e("van_gogh_madame_roulin.jpg"), None, None, 0.8, False],
        [e("chelsea.jpg"), e("kandinsky_improvisation_30.jpg"), None, None, 1.0, False],
        [e("coffee.jpg"), e("marc_the_bewitched_mill.jpg"), None, None, 0.8, False],
        [e("rocket.jpg"), e("gauguin_mahana_no_atua.jpg"), None, None, 0.8, True],
        [e("chelsea.jpg"), e("kandinsky_houses_at_murnau.jpg"), e("hartley_movement.jpg"), None, 1.0, False],
        [e("astronaut.jpg"), e("cezanne_the_card_players.jpg"), e("manet_peonies.jpg"), e("mask_ellipse.png"), 1.0,
         False],
    ]
    return [row for row in rows if all(not isinstance(v, str) or Path(v).exists() for v in row)]


def gallery_for(bank: StyleBank | None) -> tuple[str, list | None]:
    """The gallery's title and pictures for a model's style bank."""
    items = [(bank.thumbnail(i), name) for i, name in enumerate(bank.names)] if bank and bank.thumbnails else None
    return f"Famous paintings ({len(bank) if bank else 0})", items


def _famous_paintings(banks: Mapping[str, StyleBank | None], style: gr.Image,
                      model: gr.Dropdown | None = None) -> gr.Textbox:
    """The chosen model's style bank as a gallery: a click makes that painting style 1 (and clears an
    uploaded style 1; uploading one clears the pick); picking another model shows its bank and clears
    the pick. Returns the box holding the pick's name."""
    first = next(iter(banks))
    bank = banks[first]
    label, items = gallery_for(bank)
    with gr.Accordion(label, open=bank is not None, visible=bank is not None) as accordion:
        gallery = gr.Gallery(items, columns=7, height=220, allow_preview=False, object_fit="cover", show_label=False,
                             elem_id="bank")
        painting = gr.Textbox(label="Style 1: famous painting", elem_id="painting", interactive=False,
                              placeholder="click a painting above")

    def pick(name: str | None, evt: gr.SelectData) -> tuple[str, None]:
        return banks[name or first].names[evt.index], None

    def follow(name: str | None) -> tuple[Any, Any, str]:
        chosen = banks.get(name or first)
        label, items = gallery_for(chosen)
        return gr.Accordion(label=label, open=chosen is not None, visible=chosen is not None), gr.Gallery(items), ""

    gallery.select(pick, model, [painting, style], api_name=False)
    style.upload(lambda _: "", style, painting, api_name=False)
    if model is not None:
        model.change(follow, model, [accordion, gallery, painting], api_name=False)
    return painting


def build_demo(stylizer: Stylizer | Mapping[str, Stylizer], model_name: str = "") -> gr.Blocks:
    """The page. Takes a ready Stylizer, or several by the name the page shows them under (the first is
    the default), so tests can build it around tiny or local models."""
    stylizers = dict(stylizer) if isinstance(stylizer, Mapping) else {model_name or "model": stylizer}
    if not stylizers:
        raise ValueError("build_demo needs at least one model")
    banks = {name: model_bank(s.model) for name, s in stylizers.items()}
    stylize = make_stylize_fn(stylizers, banks)
    image_kw = dict(sources=["upload", "clipboard"], height=240)

    with gr.Blocks(title="AdaIN style transfer") as demo:
        gr.Markdown(
            "# AdaIN style transfer\n"
            "Paint a photo in the style of any image, in real time: *Arbitrary Style Transfer with "
            "Adaptive Instance Normalization* (Huang & Belongie, 2017). Pick a photo and one or two "
            "styles (or a famous painting from the gallery), or click an example below.",
            elem_id="title",
        )
        model = gr.Dropdown(list(stylizers), value=next(iter(stylizers)), label="Model", elem_id="model",
                            visible=len(stylizers) > 1, info="each model paints in its own way; its gallery follows")
        with gr.Tabs():
            with gr.Tab("Photo", elem_id="photo_tab"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3):
                        content = uploaded_image(label="Content photo", elem_id="content", height=240,
                                                 sources=["upload", "webcam", "clipboard"])  # webcam: a snapshot
                        with gr.Row():
                            with gr.Column(min_width=200):
                                style = uploaded_image(label="Style 1", elem_id="style", **image_kw)
                                weight = gr.Slider(0, 1, value=1.0, step=0.05, label="Weight of style 1",
                                                   elem_id="weight")
                            with gr.Column(min_width=200):
                                style_2 = uploaded_image(label="Style 2 (optional)", elem_id="style_2", **image_kw)
                                weight_2 = gr.Slider(0, 1, value=1.0, step=0.05, label="Weight of style 2",
                                                     elem_id="weight_2")
                        painting = _famous_paintings(banks, style, model)
                        with gr.Accordion("Spatial control: mask (optional)", open=False):
                            gr.Markdown("White areas get style 1, black areas style 2; with one style, black stays "
                                        "the photo.")
                            mask = uploaded_image(label="Mask", elem_id="mask", image_mode="L", **image_kw)
                    with gr.Column(scale=2):
                        result = gr.Image(
                            label="Result",
                            type="pil",
                            format="png",
                            elem_id="result",
                            interactive=False,
                            buttons=["download", "fullscreen"],
                            height=420,
                        )
                        run = gr.Button("Stylize", variant="primary", elem_id="run")
                        alpha = gr.Slider(
                            0,
                            1,
                            value=1.0,
                            step=0.05,
                            label="Style strength (alpha)",
                            elem_id="alpha",
                            info="0 keeps the photo, 1 is full style",
                        )
                        size = gr.Radio(
                            [(str(s), s) for s in SIZES] + [("original", ORIGINAL)],
                            value=DEFAULT_SIZE,
                            label="Working size (longer side, px)",
                            elem_id="size",
                            info="larger is sharper and slower; original: the photo's own size",
                        )
                        preserve_color = gr.Checkbox(label="Keep the photo's colours", elem_id="preserve_color")
                inputs = [content, style, alpha, style_2, weight, weight_2, preserve_color, mask, size, painting, model]
                gr.Examples(
                    _examples(),
                    inputs=[content, style, style_2, mask, alpha, preserve_color],
                    label="Examples: click one, then Stylize",
                    examples_per_page=6,
                )
                run.click(stylize, inputs=inputs, outputs=result, api_name="stylize")
            build_video_tab(stylizers, model)
            build_live_tab(stylizers, banks, model)
        shown = (f"Model: `{model_name or 'custom'}` · backend `{getattr(next(iter(stylizers.values())).backend, 'name', '?')}`"
                 if len(stylizers) == 1 else "Models: " + ", ".join(
                     f"`{name}` ({getattr(s.backend, 'name', '?')})" for name, s in stylizers.items()))
        gr.Markdown(
            shown + " · "
            "API: `gradio_client.Client(url).predict(handle_file(photo), handle_file(style), 0.8, "
            'api_name="/stylize")`'
            + (" · [Stylize in your own browser](web/): the lite model runs in the tab, nothing is uploaded"
               if (WEB / "index.html").is_file() else ""),
            elem_id="footer",
        )
    # one job at a time per event (photo or video): the network already uses every core; the Stylizer is thread-safe
    demo.queue(default_concurrency_limit=1, max_size=16)
    return demo


def launch(demo: gr.Blocks, **kwargs: Any) -> tuple[Any, str, str]:
    """``demo.launch`` with the app's look and upload limit, and the in-browser page at ``/web/``
    (tests launch through here too). Gradio builds its server inside ``launch``, so the page is
    mounted on it right after, before this blocks (unless ``prevent_thread_lock``)."""
    kwargs.setdefault("theme", THEME)
    kwargs.setdefault("css", CSS)
    kwargs.setdefault("max_file_size", MAX_FILE_SIZE)
    block = not kwargs.get("prevent_thread_lock", False) and not getattr(sys, "ps1", sys.flags.interactive)
    kwargs["prevent_thread_lock"] = True
    result = demo.launch(**kwargs)
    mount_web(result[0])
    if block:  # as gradio's own launch blocks: in a script, not in an interactive session
        demo.block_thread()
    return result


def mount_web(server_app: Any) -> bool:
    """Serve ``web/`` at ``/web/`` on the app's server; ``False`` when the page is not there."""
    if not (WEB / "index.html").is_file():
        return False
    server_app.mount("/web", _WebFiles(directory=WEB, html=True), name="web")
    return True


class _WebFiles(StaticFiles):
    """``web/`` with the headers that make the page cross-origin isolated, which onnxruntime-web needs
    to run WASM threads (a plain static server gives it one thread); ``node_modules/`` (npm's copy,
    150 MB) is not served: ``ort/`` has what the page loads."""

    async def get_response(self, path: str, scope: Any) -> Any:
        if Path(path).parts[:1] == ("node_modules",):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        response.headers["Cross-Origin-Opener-Policy"] = "same-origin"
        response.headers["Cross-Origin-Embedder-Policy"] = "require-corp"
        return response


# -- command line ---------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="AdaIN style transfer web demo.")
    p.add_argument(
        "--model",
        action="append",
        dest="models",
        metavar="[NAME=]MODEL",
        help=f"Hub id or local folder; give it again to offer several models, NAME= to name one on the page "
             f"(env ADAIN_MODELS, comma-separated, or ADAIN_MODEL; default {DEFAULT_MODEL}, falling back to "
             f"{BUNDLED_MODEL.name}/; adain-hub/adain-vgg19 for the paper's VGG-19 model)",
    )
    p.add_argument("--host", default=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"), help="address to bind")
    p.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("GRADIO_SERVER_PORT", 7860)),
        help="port (env GRADIO_SERVER_PORT; default 7860)",
    )
    p.add_argument("--backend", choices=BACKENDS, default="auto", help="inference backend (default auto)")
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    args = p.parse_args(argv)
    if not args.models:
        listed = [m.strip() for m in os.environ.get("ADAIN_MODELS", "").split(",") if m.strip()]
        args.models = listed or [os.environ.get("ADAIN_MODEL", DEFAULT_MODEL)]
    args.model = args.models[0]  # the default model (the first)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own start-up requests
    try:
        named = named_models(args.models)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    stylizers: dict[str, Stylizer] = {}
    sources: list[str] = []
    by_spec: dict[str, tuple[Stylizer, str]] = {}
    for name, spec in named.items():  # each model loaded once, with its own Stylizer (and cache)
        if spec in by_spec:  # the same model under a second name: shared, not loaded again
            stylizers[name], source = by_spec[spec]
            sources.append(source)
            continue
        try:
            model, source = load_model(spec)
            stylizers[name] = make_stylizer(model, args.backend)
            by_spec[spec] = stylizers[name], source
        except hub.ModelLoadError as exc:  # a missing or broken local folder: one line, no fallback
            log.error("%s", exc)
            return 1
        except Exception as exc:  # noqa: BLE001 - a backend that cannot start here, say
            log.error("cannot start the %s backend: %s", args.backend, one_line(exc))
            return 1
        sources.append(source)
        log.info("model %s: %s; backend: %s", name, source, stylizers[name].backend.name)
    demo = build_demo(next(iter(stylizers.values())), sources[0]) if len(stylizers) == 1 else build_demo(stylizers)
    try:
        launch(demo, server_name=args.host, server_port=args.port, share=args.share)
    except OSError as exc:  # gradio's message names launch(); ours names the flag
        reason = one_line(exc, 160)
        hint = "; choose another with --port or GRADIO_SERVER_PORT" if "port" in reason.lower() else ""
        log.error("cannot serve on %s:%d (%s)%s", args.host, args.port, reason, hint)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
