"""Video: how much stabilisation cuts flicker, whether the output still follows a pan, and what it costs.

    .venv/bin/python benchmarks/bench_video.py                       # all three parts
    .venv/bin/python benchmarks/bench_video.py --parts quality --quality-size 512
    .venv/bin/python benchmarks/bench_video.py --parts speed --sizes 320 512 --frames 24

Clips are synthetic (a photo, numpy noise), so nothing large is stored:

- still: 48 frames of one photo plus Gaussian noise of sigma 3 (0..255), independent per frame.
- pan: a window sliding 2 px per frame across a wider photo (94 px over 48 frames), same noise.

Metrics: flicker = mean absolute change between consecutive output frames (0..255), as a ratio
to stylizing each frame on its own with the same model and style in the same run; pan shift = the
global shift between the first and last output frame by phase correlation, against the input's.
Speed: frames per second of ``stylize_video`` on an mp4 (decode + stylize + encode),
stabilised and per-frame runs interleaved, after a warm-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCENE = ROOT / "tests" / "fixtures" / "coffee.png"
STYLE = ROOT / "examples" / "rocket.jpg"


# -- synthetic clips ----------------------------------------------------------------------------
def scene(width: int, height: int, path: Path = SCENE) -> np.ndarray:
    """The photo at ``path`` resized to cover ``width`` x ``height`` and centre-cropped, as uint8 HWC."""
    img = Image.open(path).convert("RGB")
    scale = max(width / img.width, height / img.height)
    img = img.resize((max(width, round(img.width * scale)), max(height, round(img.height * scale))), Image.LANCZOS)
    left, top = (img.width - width) // 2, (img.height - height) // 2
    return np.asarray(img.crop((left, top, left + width, top + height)))


def still_clip(width: int, height: int, frames: int = 48, sigma: float = 3.0, seed: int = 0) -> list[np.ndarray]:
    """One photo, ``frames`` times, each with its own Gaussian noise of ``sigma`` (0..255)."""
    rng = np.random.default_rng(seed)
    base = scene(width, height).astype(np.float32)
    return [np.clip(base + rng.normal(0, sigma, base.shape), 0, 255).round().astype(np.uint8) for _ in range(frames)]


def pan_clip(width: int, height: int, frames: int = 48, step: int = 2, sigma: float = 3.0,
             seed: int = 0) -> list[np.ndarray]:
    """A ``width`` x ``height`` window moving ``step`` px right per frame over a wider photo: the
    scene moves left by ``step`` px a frame. Noise as in :func:`still_clip`."""
    rng = np.random.default_rng(seed)
    wide = scene(width + step * (frames - 1), height).astype(np.float32)
    out = []
    for t in range(frames):
        window = wide[:, t * step : t * step + width]
        out.append(np.clip(window + rng.normal(0, sigma, window.shape), 0, 255).round().astype(np.uint8))
    return out


def object_clip(width: int, height: int, frames: int = 48, step: int = 3, sigma: float = 3.0,
                seed: int = 0) -> tuple[list[np.ndarray], np.ndarray]:
    """A still photo with a bright patch (a third of the height) crossing it ``step`` px a frame,
    noise as in :func:`still_clip`; plus a mask of the rows the patch never reaches (the still
    background), for measuring flicker there."""
    rng = np.random.default_rng(seed)
    base = scene(width, height).astype(np.float32)
    side = height // 3
    patch = scene(side, side, STYLE).astype(np.float32)
    out = []
    for t in range(frames):
        frame = base.copy()
        x = (t * step) % max(1, width - side)
        frame[:side, x : x + side] = patch
        out.append(np.clip(frame + rng.normal(0, sigma, frame.shape), 0, 255).round().astype(np.uint8))
    still = np.zeros((height, width), bool)
    still[side + height // 6 :] = True  # a margin below the patch: strokes spread around it
    return out, still


def write_clip(path: Path, frames: Iterable[np.ndarray], fps: int = 24, audio: bool = False,
               codec: str = "libx264", crf: int = 12) -> Path:
    """Frames (uint8 HWC, even sides) to an mp4 with ``codec``; with ``audio``, a 440 Hz AAC tone as
    long as the video."""
    import av

    frames = list(frames)
    h, w = frames[0].shape[:2]
    with av.open(str(path), "w", format="mp4") as out:
        video = out.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            video.options = {"crf": str(crf)}
        sound = out.add_stream("aac", rate=44100, layout="mono") if audio else None
        for i, arr in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
        out.mux(video.encode(None))
        if sound is not None:
            samples = int(44100 * len(frames) / fps)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / 44100)).astype(np.float32)
            for start in range(0, samples, 1024):
                chunk = av.AudioFrame.from_ndarray(tone[None, start : start + 1024], format="flt", layout="mono")
                chunk.sample_rate, chunk.pts = 44100, start
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
    return path


def read_frames(path: Path) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format="rgb24") for f in c.decode(c.streams.video[0])]


# -- metrics -----------------------------------------------------------------------------------
def flicker(frames: list, where: np.ndarray | None = None) -> float:
    """Mean absolute change between consecutive frames, in 0..255 units (over ``where`` if given)."""
    arrs = [np.asarray(f, dtype=np.float32) for f in frames]
    diffs = [np.abs(b - a) for a, b in zip(arrs, arrs[1:])]
    return float(np.mean([d[where].mean() if where is not None else d.mean() for d in diffs]))


def pan_flicker(frames: list, step: int = 2) -> float:
    """Mean absolute change between consecutive frames of a clip panning ``step`` px left per frame,
    after following the pan (frame t compared with frame t-1 moved by ``step``), 20 px borders left
    out: what is left is flicker and lag, not motion."""
    arrs = [np.asarray(f, dtype=np.float32) for f in frames]
    return float(np.mean([np.abs(b[20:-20, 20 : -20 - step] - a[20:-20, 20 + step : -20]).mean()
                          for a, b in zip(arrs, arrs[1:])]))


def shift_between(first, last) -> float:
    """Horizontal shift (px) from ``first`` to ``last`` by phase correlation; negative = moved left."""
    import torch

    from adain_hub.video import phase_shift

    to_t = lambda a: torch.from_numpy(np.asarray(a, dtype=np.float32) / 255).permute(2, 0, 1)[None]  # noqa: E731
    return phase_shift(to_t(first), to_t(last))[1]


# -- the three parts ---------------------------------------------------------------------------
BASELINE = "per frame (stabilize=False)"


def variants() -> dict[str, object]:
    from adain_hub.video import OFF, Stabilization

    return {
        BASELINE: OFF,
        "default (blend + motion)": Stabilization(),
        "default + content-statistics EMA": Stabilization(stats=True),
        "content-statistics EMA only": Stabilization(stats=True, blend=False, motion=False),
        "blend without motion compensation": Stabilization(motion=False),
        "blend, floor 0.1": Stabilization(floor=0.1),
        "blend, floor 0.35": Stabilization(floor=0.35),
    }


def quality(stylizer, size: int, names: list[str] | None = None) -> list[tuple[str, float, float, float, float, float]]:
    """Per variant: still-clip flicker, its ratio to per frame, pan shift of the output (first to
    last frame), pan flicker after following the pan (ratio to per frame), and flicker of the still
    background while an object moves (ratio to per frame). The first row is the input clip."""
    from adain_hub.video import stylize_frames

    w, h = size, (size * 2 // 3) // 2 * 2
    still, pan = still_clip(w, h), pan_clip(w, h)
    moving, background = object_clip(w, h)
    style = stylizer.encode_style(STYLE)
    measured: dict[str, tuple[float, float, float, float]] = {}
    for name, settings in variants().items():
        if names and name not in names and name != BASELINE:
            continue
        run = lambda clip: list(stylize_frames(stylizer, clip, style, size=size, stabilize=settings))  # noqa: E731
        out_pan = run(pan)
        measured[name] = (flicker(run(still)), shift_between(out_pan[0], out_pan[-1]), pan_flicker(out_pan),
                          flicker(run(moving), background))
    f0, _, p0, b0 = measured[BASELINE]
    nan = float("nan")
    rows = [("input clip", flicker(still), nan, shift_between(pan[0], pan[-1]), nan, nan)]
    return rows + [(name, f, f / f0, shift, p / p0, b / b0) for name, (f, shift, p, b) in measured.items()]


def through_files(stylizer, size: int, folder: Path) -> dict[str, float]:
    """The same measures through mp4 files (x264 both ways, as a user gets them): still-clip flicker
    ratio, pan shift, frame counts."""
    from adain_hub.video import stylize_video

    w, h = size, (size * 2 // 3) // 2 * 2
    style = stylizer.encode_style(STYLE)
    still = write_clip(folder / "still.mp4", still_clip(w, h))
    pan = write_clip(folder / "pan.mp4", pan_clip(w, h))
    res = {}
    for on in (False, True):
        tag = "on" if on else "off"
        stylize_video(stylizer, still, style, folder / f"still_{tag}.mp4", size=size, stabilize=on)
        stylize_video(stylizer, pan, style, folder / f"pan_{tag}.mp4", size=size, stabilize=on)
        s, p = read_frames(folder / f"still_{tag}.mp4"), read_frames(folder / f"pan_{tag}.mp4")
        res[f"flicker {tag}"] = flicker(s)
        res[f"pan shift {tag}"] = shift_between(p[0], p[-1])
        res[f"frames {tag}"] = len(s)
    res["input flicker"] = flicker(read_frames(still))
    res["input pan shift"] = shift_between(*[read_frames(pan)[i] for i in (0, -1)])
    res["ratio"] = res["flicker on"] / res["flicker off"]
    return res


def speed(stylizer, sizes: list[int], frames: int, rounds: int, folder: Path) -> list[tuple[int, float, float]]:
    """(size, fps stabilised, fps per frame): median over ``rounds`` interleaved runs after a warm-up."""
    from adain_hub.video import stylize_video

    style = stylizer.encode_style(STYLE)
    rows = []
    for size in sizes:
        w, h = size, (size * 9 // 16) // 2 * 2  # a 16:9 clip, longer side = size
        clip = write_clip(folder / f"speed_{size}.mp4", pan_clip(w, h, frames=frames))
        times: dict[bool, list[float]] = {True: [], False: []}
        for r in range(rounds + 1):
            for on in (True, False):
                start = time.perf_counter()
                stylize_video(stylizer, clip, style, folder / f"speed_out_{size}.mp4", size=size, stabilize=on)
                if r:  # round 0 warms up (OpenVINO compiles for the shape)
                    times[on].append(time.perf_counter() - start)
        rows.append((size, frames / float(np.median(times[True])), frames / float(np.median(times[False]))))
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--parts", nargs="+", choices=["quality", "files", "speed"], default=["quality", "files", "speed"])
    p.add_argument("--model", default=str(ROOT / "model_card"))
    p.add_argument("--backend", default="auto")
    p.add_argument("--quality-size", type=int, default=256,
                   help="longer side of the quality clips (default 256; under about 192 the 94 px pan leaves "
                        "too little overlap with its first frame for phase correlation)")
    p.add_argument("--variants", nargs="*", default=None, help="quality variants to run (default all)")
    p.add_argument("--sizes", nargs="+", type=int, default=[320, 512], help="longer sides for the speed part")
    p.add_argument("--frames", type=int, default=24, help="frames per speed clip (default 24)")
    p.add_argument("--rounds", type=int, default=3, help="timed rounds per variant (default 3)")
    p.add_argument("--threads", type=int, default=None)
    args = p.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from adain_hub import AdaIN, Stylizer

    stylizer = Stylizer(AdaIN.from_pretrained(args.model), backend=args.backend)
    print(f"backend {stylizer.backend.name}; load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if "quality" in args.parts:
            print(f"\n### Quality, {args.quality_size} px, 48 frames (in memory)\n")
            print("| variant | still clip: flicker (0..255) | vs per frame | pan: shift first to last (px) "
                  "| pan: flicker after following it, vs per frame | moving object: background flicker vs per frame |")
            print("|---|---|---|---|---|---|")
            x = lambda r: "—" if r != r else f"{r:.2f}x"  # noqa: E731
            for name, f, ratio, shift, pf, bg in quality(stylizer, args.quality_size, args.variants):
                print(f"| {name} | {f:.3f} | {x(ratio)} | {shift:.1f} | {x(pf)} | {x(bg)} |")
        if "files" in args.parts:
            res = through_files(stylizer, args.quality_size, folder)
            print(f"\n### Through mp4 files, {args.quality_size} px (x264 crf 12 in, crf 18 out)\n")
            for k, v in res.items():
                print(f"- {k}: {v:.3f}" if isinstance(v, float) else f"- {k}: {v}")
        if "speed" in args.parts:
            print(f"\n### Speed, {args.frames}-frame 16:9 clips, median of {args.rounds} interleaved rounds\n")
            print("| longer side | fps stabilised | fps per frame | stabilisation cost |")
            print("|---|---|---|---|")
            for size, on, off in speed(stylizer, args.sizes, args.frames, args.rounds, folder):
                print(f"| {size} | {on:.2f} | {off:.2f} | {100 * (off / on - 1):.0f}% |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
