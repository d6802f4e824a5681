"""Stylize videos: decode with PyAV, stylize every frame with the style encoded once, keep the result
stable over time, and write an mp4 (audio copied) that appears only once it is complete.

Why stabilise: stylizing each frame on its own turns sensor noise into flicker, because the decoder
paints strokes from the fine detail of each frame, and noise is fine detail that changes every frame.
:class:`FrameStabilizer` blends each new output with the previous one where the input did not really
change (after following the camera with a global phase-correlation shift), so still regions stay still
and moving ones follow the scene; it can also smooth AdaIN's content statistics across frames, which
measured no gain and is off by default.
``benchmarks/README.md`` has the measurements behind the defaults.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from . import functional as AF
from .images import (
    MIN_SIDE,
    ImageInput,
    fit,
    load_image,
    one_line,
    output_size,
    pad_to_multiple,
    temporary_path,
    to_pil,
    to_tensor,
    unpad,
)
from .stylizer import ContentStats, Stylizer

if TYPE_CHECKING:
    from .stylizer import StyleFeatures, StyleInput

VIDEO_SUFFIXES = frozenset(
    {".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".wmv", ".flv", ".3gp"}
)
# audio codecs the mp4 muxer takes as they are; anything else is re-encoded to AAC
_MP4_AUDIO = frozenset({"aac", "mp3", "mp3float", "ac3", "eac3", "opus", "flac", "alac"})

Progress = Callable[[int, int], None]
ANALYSIS_SIDE = 256  # frames are compared at about this longer side (see FrameStabilizer.prepare)


class VideoError(ValueError):
    """An input that is not a usable video; the message says which file and why, in one line."""


# -- files ----------------------------------------------------------------------------------
def is_video_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is named like a video (the CLI sends these here and the rest to images)."""
    return Path(path).suffix.lower() in VIDEO_SUFFIXES


@dataclass(frozen=True)
class VideoInfo:
    """What a video holds. ``frames`` is the container's count (0 when it does not say, as Matroska
    and WebM do not); ``width``/``height`` are as displayed (rotation applied)."""

    width: int
    height: int
    fps: Fraction
    frames: int
    duration: float
    has_audio: bool
    codec: str


def _open(src: str | os.PathLike):
    """``av.open`` with every failure turned into one :class:`VideoError` line."""
    import av

    name = str(src)
    path = Path(src)
    if not path.exists():
        raise VideoError(f"{name}: no such file")
    if path.is_dir():
        raise VideoError(f"{name}: is a folder, not a video")
    try:
        return av.open(name, "r")
    except av.FFmpegError as exc:
        if isinstance(exc, av.error.InvalidDataError):
            raise VideoError(f"{name}: not a video, or a damaged (truncated) or unsupported one") from None
        raise VideoError(f"{name}: cannot open video ({_av_reason(exc)})") from None
    except OSError as exc:
        raise VideoError(f"{name}: cannot open ({exc.strerror or one_line(exc)})") from None


def _av_reason(exc: BaseException) -> str:
    """FFmpeg's message without PyAV's ``[Errno N]`` prefix and file name."""
    import av

    if isinstance(exc, av.FFmpegError) and getattr(exc, "strerror", None):
        return str(exc.strerror)
    return one_line(exc)


def _video_stream(container, name: str):
    """The first video stream, checked to be decodable here."""
    if not container.streams.video:
        raise VideoError(f"{name}: has no video stream")
    stream = container.streams.video[0]
    if stream.codec_context is None:
        raise VideoError(f"{name}: unsupported video codec (this FFmpeg build has no decoder for it)")
    return stream


def probe(src: str | os.PathLike) -> VideoInfo:
    """Read a video's header and decode its first frame (so an undecodable stream is found before any
    work); :class:`VideoError` if it is not a usable video."""
    import av

    name = str(src)
    with _open(src) as container:
        stream = _video_stream(container, name)
        try:
            first = next(container.decode(stream), None)
        except av.FFmpegError as exc:
            raise VideoError(f"{name}: cannot decode video, damaged or truncated ({_av_reason(exc)})") from None
        if first is None:
            raise VideoError(f"{name}: no frame could be decoded (damaged or truncated video)")
        fps = Fraction(stream.average_rate or stream.guessed_rate or 25)
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        else:
            duration = (container.duration or 0) / 1e6
        w, h = first.width, first.height
        if first.rotation % 180:  # phones store portrait clips as landscape plus a display rotation
            w, h = h, w
        return VideoInfo(w, h, fps, int(stream.frames or 0), duration, bool(container.streams.audio),
                         stream.codec_context.name)


def frame_size(width: int, height: int, size: int | None) -> tuple[int, int]:
    """Output frame size: the input's, longer side capped at ``size``, then each side made even
    (yuv420p H.264 needs even sides) by dropping one pixel row or column."""
    w, h = output_size(width, height, size)
    return w - w % 2, h - h % 2


def _to_output_frame(img: Image.Image, size: tuple[int, int]) -> Image.Image:
    """Resize to ``size``; when only the even rounding differs, crop instead (keeps pixels exact)."""
    if img.size == size:
        return img
    w, h = img.size
    if (w - w % 2, h - h % 2) == size:
        return img.crop((0, 0, *size))
    return fit(img, size)


# -- stabilisation: pure functions ------------------------------------------------------------
def luma(x: Tensor) -> Tensor:
    """``(N, 3, H, W)`` RGB -> ``(N, 1, H, W)`` Rec. 601 luma (one channel is taken as luma already)."""
    if x.shape[1] == 1:
        return x
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b


def phase_shift(a: Tensor, b: Tensor) -> tuple[float, float, float]:
    """Global translation from frame ``a`` to frame ``b`` by phase correlation.

    Takes two ``(1, 3|1, H, W)`` images; returns ``(dy, dx, peak)`` with ``b(y, x) ~ a(y - dy, x - dx)``
    to sub-pixel precision, and the correlation peak height (near 1 for a clean shift, near 0 when
    the frames have nothing in common, e.g. at a scene cut).
    """
    la, lb = luma(a), luma(b)
    h, w = la.shape[-2:]
    window = torch.outer(torch.hann_window(h, periodic=False), torch.hann_window(w, periodic=False))
    fa = torch.fft.rfft2((la[0, 0] - la.mean()) * window)
    fb = torch.fft.rfft2((lb[0, 0] - lb.mean()) * window)
    cross = fb * fa.conj()
    r = torch.fft.irfft2(cross / (cross.abs() + 1e-9), s=(h, w))
    peak = float(r.max())
    iy, ix = divmod(int(r.argmax()), w)

    def refine(m1: float, m0: float, p1: float) -> float:  # vertex of the parabola through 3 samples
        denom = m1 - 2 * m0 + p1
        return 0.0 if abs(denom) < 1e-12 else float(np.clip(0.5 * (m1 - p1) / denom, -0.5, 0.5))

    dy = iy + refine(float(r[(iy - 1) % h, ix]), peak, float(r[(iy + 1) % h, ix]))
    dx = ix + refine(float(r[iy, (ix - 1) % w]), peak, float(r[iy, (ix + 1) % w]))
    dy = dy - h if dy > h / 2 else dy
    dx = dx - w if dx > w / 2 else dx
    return dy, dx, peak


def shift_image(x: Tensor, dy: float, dx: float) -> Tensor:
    """``x`` moved by ``(dy, dx)`` pixels (bilinear; uncovered borders repeat the edge)."""
    if dy == 0 and dx == 0:
        return x
    n, _, h, w = x.shape
    ys = torch.arange(h, dtype=x.dtype) - dy
    xs = torch.arange(w, dtype=x.dtype) - dx
    gy, gx = torch.meshgrid(2 * ys / max(h - 1, 1) - 1, 2 * xs / max(w - 1, 1) - 1, indexing="ij")
    grid = torch.stack((gx, gy), dim=-1)[None].expand(n, -1, -1, -1)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _box(x: Tensor, size: int, op: str = "avg") -> Tensor:
    """Box mean (borders: over the pixels inside) or max over ``size`` x ``size``, same shape out;
    done as two 1-D passes, which is exact for a box and 5-10x faster than one 2-D pool."""
    k = size | 1
    if k == 1:
        return x
    for kernel, pad in (((1, k), (0, k // 2)), ((k, 1), (k // 2, 0))):
        if op == "max":
            x = F.max_pool2d(x, kernel, stride=1, padding=pad)
        else:
            x = F.avg_pool2d(x, kernel, stride=1, padding=pad, count_include_pad=False)
    return x


def change_map(current: Tensor, previous: Tensor, threshold: float, blur: int = 7, grow: int = 15) -> Tensor:
    """Where ``current`` differs from ``previous`` (aligned) by more than noise: ``(1, 1, H, W)`` in [0, 1].

    The signed luma difference is box-blurred first (``blur`` px), which averages independent
    sensor noise away while a real change (an edge that moved) survives; values from ``threshold``
    to twice it ramp from 0 to 1. The map is then grown by ``grow`` px and softened, because a
    moved edge changes the stylized strokes around it, not just its own pixels.
    """
    diff = _box(luma(current) - luma(previous), blur).abs()
    changed = ((diff - threshold) / threshold).clamp(0, 1)
    return _box(_box(changed, grow, "max"), grow)


# -- stabilisation: state over a clip ---------------------------------------------------------
@dataclass(frozen=True)
class Stabilization:
    """Settings of :class:`FrameStabilizer`; the defaults were chosen by measurement
    (``benchmarks/bench_video.py``).

    Attributes:
        stats: smooth AdaIN's content mean/std across frames, at a rate that follows how much of
            the frame changed (never below ``stats_rate``); reset at scene cuts. Off by default:
            statistics over a whole frame barely move with noise, and it measured no gain.
        blend: blend each output with the previous (motion-compensated) output where the input did
            not change; ``floor`` is the least weight of the new frame there (lower = calmer, but
            slow changes under the noise threshold fade in over about 1/floor frames).
        motion: follow camera pans with a global phase-correlation shift before comparing frames.
        noise: least change, in luma (0..1) after blurring, counted as real; ``None`` adapts it to
            the clip (3x the robust noise level of the frame difference, between 2/255 and 8/255).
        cut: fraction of the frame that must change for a scene cut (everything restarts).
    """

    stats: bool = False
    stats_rate: float = 0.2
    blend: bool = True
    floor: float = 0.2
    motion: bool = True
    noise: float | None = None
    cut: float = 0.6

    def __post_init__(self) -> None:
        for name in ("stats_rate", "floor", "cut"):
            value = getattr(self, name)
            if not 0.0 < value <= 1.0:
                raise ValueError(f"{name} must be in (0, 1], got {value}")
        if self.noise is not None and not self.noise > 0:
            raise ValueError(f"noise must be positive, got {self.noise}")


OFF = Stabilization(stats=False, blend=False, motion=False)


@dataclass
class _Step:
    """What the stabilizer decided about one frame, before the network runs."""

    changed: Tensor | None  # (1, 1, H, W) change map, None on the first frame or after a cut
    shift: tuple[float, float]


class FrameStabilizer:
    """Keeps one clip's stylization stable: call :meth:`prepare` with each input frame, stylize with
    :meth:`content_stats`, then :meth:`finish` with the stylized frame. Frames are ``(1, 3, H, W)``
    in [0, 1], all of one size."""

    def __init__(self, settings: Stabilization = Stabilization()) -> None:
        self.settings = settings
        self.reset()

    def reset(self) -> None:
        """Forget the clip (start of a new one)."""
        self._prev_in: Tensor | None = None
        self._prev_out: Tensor | None = None
        self._mean: Tensor | None = None
        self._std: Tensor | None = None
        self._step: _Step | None = None
        self.cuts = 0

    def prepare(self, frame: Tensor) -> None:
        """Compare ``frame`` with the previous input: camera shift, change map, scene cut.

        Frames are compared as luma at most ~256 px on the longer side (area-averaged by a whole
        factor): the map only has to find regions, and at 512 px full resolution added about half
        of the network's time per frame."""
        s = self.settings
        h, w = frame.shape[-2:]
        f = max(1, max(h, w) // ANALYSIS_SIDE)
        small = luma(F.avg_pool2d(frame, f) if f > 1 else frame)
        prev, self._prev_in = self._prev_in, small
        self._step = _Step(None, (0.0, 0.0))
        if prev is None or prev.shape != small.shape or not (s.blend or s.stats):
            return
        dy, dx = 0.0, 0.0
        if s.motion:
            dy, dx, peak = phase_shift(prev, small)
            if peak < 0.05 or math.hypot(dy, dx) * f < 0.5:  # no trustworthy shift, or jitter of a still shot
                dy, dx = 0.0, 0.0
        aligned = shift_image(prev, dy, dx)
        blur, grow = max(3, 7 // f), max(3, 15 // f)
        threshold = s.noise if s.noise is not None else _noise_threshold(small, aligned, blur)
        changed = change_map(small, aligned, threshold, blur, grow)
        cut = float((changed > 0.5).float().mean()) > s.cut
        self.cuts += cut
        if f > 1:
            changed = F.interpolate(changed, size=(h, w), mode="bilinear", align_corners=False)
        self._step = _Step(None if cut else changed, (dy * f, dx * f))

    def content_stats(self, c_feat: Tensor) -> tuple[Tensor, Tensor]:
        """The content mean/std AdaIN should normalise ``c_feat`` with: the frame's own, smoothed."""
        mean, std = AF.calc_mean_std(c_feat)
        step = self._step
        if not self.settings.stats or self._mean is None or step is None or step.changed is None:
            self._mean, self._std = mean, std
            return mean, std
        rate = max(self.settings.stats_rate, float(step.changed.mean()))
        self._mean = self._mean + rate * (mean - self._mean)
        self._std = self._std + rate * (std - self._std)
        return self._mean, self._std

    def finish(self, stylized: Tensor) -> Tensor:
        """The output frame: ``w * stylized + (1 - w) * previous output (shifted)``, ``w`` high where
        the input changed and ``floor`` where it did not."""
        step = self._step
        if not self.settings.blend or self._prev_out is None or step is None or step.changed is None:
            out = stylized
        else:
            floor = self.settings.floor
            w = floor + (1.0 - floor) * step.changed
            out = w * stylized + (1.0 - w) * shift_image(self._prev_out, *step.shift)
        self._prev_out = out
        return out


def _noise_threshold(frame: Tensor, aligned: Tensor, blur: int = 7) -> float:
    """3x the robust (median-based) level of the blurred frame difference, within 2/255 .. 8/255."""
    diff = _box(luma(frame) - luma(aligned), blur).abs()
    sigma = 1.4826 * float(diff.flatten()[:: max(1, diff.numel() // 65536)].median())
    return min(max(3.0 * sigma, 2.0 / 255), 8.0 / 255)


# -- stylizing frames ---------------------------------------------------------------------------
class ClipStylizer:
    """Stylize the frames of one clip in order, styles encoded once, stabilised unless told not to.

    Args:
        stylizer: the :class:`~adain_hub.stylizer.Stylizer` whose backend runs the network.
        styles: one style or a list (images or ``StyleFeatures``).
        alpha, weights: as for :meth:`Stylizer.stylize`.
        preserve_color: recolour the styles to the clip's first frame (once: recolouring per
            frame would make the style itself flicker).
        stabilize: ``True`` (default settings), ``False`` (each frame on its own), or a
            :class:`Stabilization`.
    """

    def __init__(
        self,
        stylizer: Stylizer,
        styles: StyleInput | Sequence[StyleInput],
        alpha: float = 1.0,
        weights: Sequence[float] | None = None,
        preserve_color: bool = False,
        stabilize: bool | Stabilization = True,
    ) -> None:
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.stylizer = stylizer
        self.styles = list(styles) if isinstance(styles, (list, tuple)) else [styles]
        if not self.styles:
            raise ValueError("need at least one style")
        self.weights = AF.normalize_weights(weights, len(self.styles))
        self.alpha = alpha
        self.preserve_color = preserve_color
        settings = stabilize if isinstance(stabilize, Stabilization) else (Stabilization() if stabilize else OFF)
        self.stabilizer = FrameStabilizer(settings)
        self._encoded: list[StyleFeatures] | None = None
        if not preserve_color:
            self._encoded = [stylizer.encode_style(s) for s in self.styles]

    @torch.inference_mode()
    def __call__(self, frame: Image.Image | Tensor) -> Tensor:
        """One frame (PIL RGB or ``(1, 3, H, W)`` in [0, 1]) -> its stylized ``(1, 3, H, W)``, in order."""
        x = to_tensor(frame) if isinstance(frame, Image.Image) else frame.float()
        if self._encoded is None:  # first frame with colour preservation
            first = frame if isinstance(frame, Image.Image) else to_pil(x)
            self._encoded = [self.stylizer.encode_style(s, colour_from=first) for s in self.styles]
        stab = self.stabilizer
        stab.prepare(x)
        backend = self.stylizer.backend
        c_feat = backend.encode(pad_to_multiple(x))  # not the Stylizer's cache: frames are seen once
        own = ContentStats(*stab.content_stats(c_feat))  # the frame's statistics, smoothed over time
        target = Stylizer.transform(c_feat, self._encoded, self.alpha, self.weights, content_stats=own)
        image = backend.decode(target).to(x.device)
        return stab.finish(unpad(image, *x.shape[-2:]).clamp(0, 1))


def stylize_frames(
    stylizer: Stylizer,
    frames: Iterable[ImageInput],
    styles: StyleInput | Sequence[StyleInput],
    size: int | None = None,
    **kwargs,
) -> Iterator[Image.Image]:
    """Stylize a sequence of frames held in memory (a clip's images, in order), yielding PIL images at
    the first frame's size capped at ``size`` (default: the stylizer's). ``kwargs`` go to
    :class:`ClipStylizer` (``alpha``, ``weights``, ``preserve_color``, ``stabilize``)."""
    clip = ClipStylizer(stylizer, styles, **kwargs)
    target: tuple[int, int] | None = None
    for frame in frames:
        img = load_image(frame)
        target = target or output_size(*img.size, size if size is not None else stylizer.size)
        yield to_pil(clip(fit(img, target)))


# -- files in, file out -----------------------------------------------------------------------
def _encoder_name() -> str:
    """H.264 (libx264, in PyAV's wheel) when this build has it, else MPEG-4 Part 2."""
    import av

    return "libx264" if "libx264" in av.codecs_available else "mpeg4"


def _demuxed(container, video, audio, decode_audio: bool, name: str) -> Iterator:
    """The file in order: decoded video frames, and audio as packets to copy (or frames to re-encode
    when ``decode_audio``). A decoding error is a :class:`VideoError`; writing errors are not."""
    import av

    packets = container.demux(*([video] + ([audio] if audio is not None else [])))
    frames = 0
    while True:
        try:
            packet = next(packets, None)
            if packet is None:
                return
            if packet.stream.type == "audio" and not decode_audio:
                items = [packet] if packet.dts is not None else []  # flush packets carry no data
            else:
                items = packet.decode()
        except av.FFmpegError as exc:
            reason = _av_reason(exc)
            raise VideoError(f"{name}: damaged or truncated video after {frames} frame(s) ({reason})") from None
        frames += sum(isinstance(item, av.VideoFrame) for item in items)
        yield from items


class _Mp4Writer:
    """An mp4 being written: H.264 video at the input's timestamps, audio copied or re-encoded."""

    def __init__(self, path: Path, size: tuple[int, int], fps: Fraction, time_base: Fraction, audio) -> None:
        import av

        self.out = av.open(str(path), "w", format="mp4")
        self.video = self.out.add_stream(_encoder_name(), rate=fps)
        self.video.width, self.video.height = size
        self.video.pix_fmt = "yuv420p"
        self.video.time_base = self.video.codec_context.time_base = time_base
        if self.video.codec_context.name == "libx264":
            self.video.options = {"crf": "18", "preset": "medium"}
        else:
            self.video.bit_rate = max(2_000_000, size[0] * size[1] * 8)
        self.time_base = time_base
        self.step = max(1, round(1 / (fps * time_base))) if fps else 1
        self.last_pts: int | None = None
        self.audio, self.reencode = None, False
        if audio is not None and audio.codec_context is not None:
            self.reencode = audio.codec_context.name not in _MP4_AUDIO
            if self.reencode:
                self.audio = self.out.add_stream("aac", rate=audio.rate or 48000)
            else:
                self.audio = self.out.add_stream_from_template(audio)

    def write(self, image: Tensor, pts: int | None) -> None:
        """One ``(1, 3, H, W)`` frame; ``pts`` in the input's time base (made increasing if it is not)."""
        import av

        arr = (image[0].clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
        frame = av.VideoFrame.from_ndarray(arr, format="rgb24")
        if pts is None or (self.last_pts is not None and pts <= self.last_pts):
            pts = 0 if self.last_pts is None else self.last_pts + self.step
        frame.pts, frame.time_base, self.last_pts = pts, self.time_base, pts
        self.out.mux(self.video.encode(frame))

    def write_audio(self, item) -> None:
        """An audio packet (copied) or decoded frame (re-encoded)."""
        if self.reencode:
            self.out.mux(self.audio.encode(item))
        else:
            item.stream = self.audio
            self.out.mux(item)

    def close(self, flush: bool = True) -> None:
        try:
            if flush:
                self.out.mux(self.video.encode(None))
                if self.reencode:
                    self.out.mux(self.audio.encode(None))
        finally:
            self.out.close()


def stylize_video(
    stylizer: Stylizer,
    src: str | os.PathLike,
    styles: StyleInput | Sequence[StyleInput],
    dst: str | os.PathLike,
    alpha: float = 1.0,
    weights: Sequence[float] | None = None,
    preserve_color: bool = False,
    size: int | None = None,
    stabilize: bool | Stabilization = True,
    progress: Progress | None = None,
) -> VideoInfo:
    """Stylize the video ``src`` into the mp4 ``dst``: every frame, at the input's frame rate and
    timestamps and its size capped at ``size`` (default: the stylizer's; sides made even), audio
    copied (re-encoded to AAC if mp4 cannot hold it as it is).

    The file is written under a temporary name beside ``dst`` and renamed when complete, so an
    interrupted or failed run never leaves a partial ``dst``. ``progress(done, total)`` is called
    after each frame (``total`` is the container's frame count, else estimated from the duration, 0
    if neither is known). Returns what was written. Raises :class:`VideoError` (one line) for a
    file that is not a usable video, before any style is encoded.
    """
    import av

    name, dst = str(src), Path(dst)
    info = probe(src)
    out_size = frame_size(info.width, info.height, size if size is not None else stylizer.size)
    if min(out_size) < MIN_SIDE:
        w, h = out_size
        raise VideoError(f"{name}: frames are too small to stylize ({w}x{h}, need at least {MIN_SIDE} px a side)")
    refusal = stylizer.network_plan(*out_size, tiles=False).reason  # frames run whole: within the budget
    if refusal:
        raise VideoError(f"{name}: {refusal}")
    clip = ClipStylizer(stylizer, styles, alpha, weights, preserve_color, stabilize)
    tmp = temporary_path(dst)
    written, writer = 0, None
    total = info.frames or round(info.duration * info.fps)  # an estimate for progress where none is stored
    try:
        with _open(src) as container:
            video = _video_stream(container, name)
            video.thread_type = "AUTO"
            audio = container.streams.audio[0] if container.streams.audio else None
            writer = _Mp4Writer(tmp, out_size, info.fps, video.time_base or Fraction(1, 90000), audio)
            for item in _demuxed(container, video, audio if writer.audio else None, writer.reencode, name):
                if not isinstance(item, av.VideoFrame):
                    writer.write_audio(item)
                    continue
                img = item.to_image()
                if item.rotation:  # counter-clockwise degrees, as the display matrix says
                    img = img.rotate(item.rotation, expand=True)
                writer.write(clip(_to_output_frame(img.convert("RGB"), out_size)), item.pts)
                written += 1
                if progress is not None:
                    progress(written, total)
            # only a stored count is trusted: an estimate from the duration is wrong for variable frame rates
            if written == 0 or (info.frames and written < info.frames * 0.98 - 1):
                raise VideoError(f"{name}: truncated video: decoded {written} of {info.frames or '?'} frames")
            has_audio = writer.audio is not None
            writer.close()
            writer = None
        os.replace(tmp, dst)
    except BaseException:
        if writer is not None:
            try:
                writer.close(flush=False)
            except Exception:  # noqa: BLE001 - the original error is the one to report
                pass
        tmp.unlink(missing_ok=True)
        raise
    codec = "h264" if _encoder_name() == "libx264" else "mpeg4"
    return replace(info, width=out_size[0], height=out_size[1], frames=written, has_audio=has_audio, codec=codec)
