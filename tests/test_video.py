"""Video: the stabiliser's pieces, files in and out (frames, rate, size, audio, rotation), bad inputs
on one line with nothing half-written, the CLI and the app's Video tab on a tiny model; and, with the
bundled model, the flicker and pan numbers the issue asks for. Clips are made here (numpy + PyAV)."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from adain_hub import AdaIN, video
from adain_hub.cli import main
from adain_hub.stylizer import Stylizer
from adain_hub.video import (
    OFF,
    FrameStabilizer,
    Stabilization,
    VideoError,
    change_map,
    frame_size,
    phase_shift,
    probe,
    shift_image,
    stylize_frames,
    stylize_video,
)

from .conftest import BUNDLED_MODEL
from .test_benchmarks import load

clips = load("bench_video")  # the clip makers and metrics the benchmark reports with
STYLE = Path(__file__).resolve().parent.parent / "examples" / "rocket.jpg"


@pytest.fixture
def stylizer(tiny_model) -> Stylizer:
    return Stylizer(tiny_model, backend="fp32", size=64)


def smooth_image(h: int = 64, w: int = 96, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 3, h // 4, w // 4, generator=g)
    return torch.nn.functional.interpolate(x, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


# -- pure pieces --------------------------------------------------------------------------------
def test_phase_shift_finds_a_translation_and_shift_image_undoes_it():
    a = smooth_image()
    b = torch.roll(a, shifts=(3, -5), dims=(2, 3))
    dy, dx, peak = phase_shift(a, b)
    assert abs(dy - 3) < 0.2 and abs(dx + 5) < 0.2 and peak > 0.5
    moved = shift_image(a, dy, dx)
    inner = (slice(None), slice(None), slice(8, -8), slice(8, -8))
    assert (moved[inner] - b[inner]).abs().max() < 0.02


def test_change_map_ignores_sensor_noise_and_flags_what_moved():
    g = torch.Generator().manual_seed(1)
    base = smooth_image()
    noisy = lambda: (base + torch.randn(base.shape, generator=g) * 3 / 255).clamp(0, 1)  # noqa: E731
    calm = change_map(noisy(), noisy(), threshold=2 / 255)
    assert float(calm.max()) < 0.1 and float(calm.mean()) < 1e-3
    moved = base.clone()
    moved[..., 20:40, 30:50] = 1.0
    changed = change_map(moved, base, threshold=2 / 255)
    assert float(changed[..., 30, 40]) == 1.0 and float(changed[..., 5, 90]) == 0.0


def test_stabilizer_keeps_still_frames_calm_and_restarts_at_a_cut():
    stab = FrameStabilizer(Stabilization(floor=0.25))
    first, second = smooth_image(seed=0), smooth_image(seed=5)
    outputs = [torch.zeros_like(first), torch.ones_like(first)]
    stab.prepare(first)
    assert torch.equal(stab.finish(outputs[0]), outputs[0])
    stab.prepare(first)  # the same input: only `floor` of the new stylization comes through
    torch.testing.assert_close(stab.finish(outputs[1]), torch.full_like(first, 0.25))
    stab.prepare(second)  # a different picture: a scene cut, the new stylization whole
    assert stab.cuts == 1
    assert torch.equal(stab.finish(outputs[0]), outputs[0])


@pytest.mark.parametrize(("size", "cap", "expected"), [((1920, 1080), 512, (512, 288)), ((131, 87), None, (130, 86)),
                                                      ((130, 86), 64, (64, 42)), ((45, 67), 512, (44, 66))])
def test_frame_size_caps_then_makes_sides_even(size, cap, expected):
    assert frame_size(*size, cap) == expected


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="floor"):
        Stabilization(floor=0.0)
    with pytest.raises(ValueError, match="noise"):
        Stabilization(noise=-1.0)


# -- files ------------------------------------------------------------------------------------
def streams(path: Path) -> dict[str, tuple]:
    with av.open(str(path)) as c:
        out = {}
        for s in c.streams:
            n = sum(1 for _ in c.decode(s)) if s.type == "video" else None
            c.seek(0)
            out[s.type] = (s.codec_context.name, n, s.average_rate if s.type == "video" else s.rate,
                           s.codec_context.width if s.type == "video" else None,
                           s.codec_context.height if s.type == "video" else None)
        return out


def test_stylize_video_keeps_frames_rate_size_and_audio(stylizer, tmp_path):
    src = clips.write_clip(tmp_path / "clip.mp4", clips.pan_clip(130, 86), fps=24, audio=True)
    done: list[tuple[int, int]] = []
    info = stylize_video(stylizer, src, STYLE, tmp_path / "out.mp4", size=128, progress=lambda d, t: done.append((d, t)))
    got = streams(tmp_path / "out.mp4")
    assert got["video"][1:] == (48, Fraction(24), 128, 84)  # 130x86 capped at 128 -> 128x84, even sides
    assert got["audio"][0] == "aac" and streams(src)["audio"][2] == got["audio"][2]
    assert (info.frames, info.width, info.height, info.has_audio) == (48, 128, 84, True)
    assert done[-1] == (48, 48) and len(done) == 48
    assert abs(probe(tmp_path / "out.mp4").duration - probe(src).duration) < 0.1
    assert sorted(os.listdir(tmp_path)) == ["clip.mp4", "out.mp4"]  # no temporary file left behind


def test_a_rotated_phone_clip_comes_out_upright(stylizer, tmp_path):
    path = tmp_path / "portrait.mp4"
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        s.set_display_rotation(90)
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((64, 96, 3), 40 * i, np.uint8), format="rgb24")
            frame.pts = i
            out.mux(s.encode(frame))
        out.mux(s.encode(None))
    assert (probe(path).width, probe(path).height) == (64, 96)
    stylize_video(stylizer, path, STYLE, tmp_path / "up.mp4", stabilize=False)
    assert streams(tmp_path / "up.mp4")["video"][3:] == (42, 64)  # 64x96 capped at 64


def test_an_interrupted_run_leaves_nothing(stylizer, tmp_path):
    src = clips.write_clip(tmp_path / "clip.mp4", clips.still_clip(64, 48, frames=12))
    (tmp_path / "out").mkdir()

    def stop(done: int, total: int) -> None:
        if done == 5:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        stylize_video(stylizer, src, STYLE, tmp_path / "out" / "clip.mp4", progress=stop)
    assert os.listdir(tmp_path / "out") == []


def make_bad_videos(folder: Path) -> dict[str, str]:
    """Files named like videos that are not usable ones -> the words their error line must hold."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.mp4").write_text("not a video at all\n")
    good = clips.write_clip(folder / "whole.tmpclip", clips.still_clip(64, 48, frames=24))
    data = good.read_bytes()
    good.unlink()
    (folder / "cut_short.mp4").write_bytes(data[: len(data) // 2])  # the index (moov) is at the end: lost
    with av.open(str(folder / "cut_faststart.mp4"), "w", options={"movflags": "faststart"}) as out:
        s = out.add_stream("libx264", rate=24)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        for i, arr in enumerate(clips.pan_clip(96, 64, frames=24, step=5)):
            f = av.VideoFrame.from_ndarray(arr, format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    fast = (folder / "cut_faststart.mp4").read_bytes()
    (folder / "cut_faststart.mp4").write_bytes(fast[: len(fast) * 3 // 5])  # index kept, frames missing
    with av.open(str(folder / "ffv1.mkv"), "w") as out:  # FFV1, then its codec id renamed to an unknown one
        s = out.add_stream("ffv1", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for _ in range(3):
            out.mux(s.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")))
        out.mux(s.encode(None))
    raw = (folder / "ffv1.mkv").read_bytes()
    (folder / "ffv1.mkv").unlink()
    (folder / "unknown_codec.mkv").write_bytes(raw.replace(b"V_FFV1", b"V_QQQQ"))
    with av.open(str(folder / "sound_only.mp4"), "w") as out:
        a = out.add_stream("aac", rate=44100, layout="mono")
        tone = np.zeros((1, 44100), np.float32)
        for start in range(0, 44100, 1024):
            f = av.AudioFrame.from_ndarray(tone[:, start : start + 1024], format="flt", layout="mono")
            f.sample_rate, f.pts = 44100, start
            out.mux(a.encode(f))
        out.mux(a.encode(None))
    return {"notes.mp4": "not a video", "cut_short.mp4": "truncated", "cut_faststart.mp4": "truncated",
            "unknown_codec.mkv": "unsupported video codec", "sound_only.mp4": "no video stream"}


def test_bad_videos_raise_one_line_video_error(stylizer, tmp_path):
    for name, words in make_bad_videos(tmp_path / "bad").items():
        with pytest.raises(VideoError, match=words) as err:
            stylize_video(stylizer, tmp_path / "bad" / name, STYLE, tmp_path / "out.mp4")
        assert "\n" not in str(err.value) and str(err.value).startswith(str(tmp_path / "bad" / name))
    assert not (tmp_path / "out.mp4").exists() and not list(tmp_path.glob(".*tmp"))


def test_cli_stylizes_videos_next_to_images_and_skips_bad_ones(tiny_model, tmp_path, capsys):
    model = tmp_path / "model"
    tiny_model.save_pretrained(model)
    folder = tmp_path / "in"
    expected = make_bad_videos(folder)
    clips.write_clip(folder / "clip.mp4", clips.pan_clip(80, 60, frames=10), audio=True)
    (folder / "clip.png").write_bytes((Path(__file__).parent / "fixtures" / "chelsea.png").read_bytes())
    out = tmp_path / "out"
    code = main(["stylize", str(folder), "--style", str(STYLE), "--size", "64", "--backend", "fp32",
                 "--model", str(model), "--out", str(out)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert code == 1 and "Traceback" not in "\n".join(err)
    assert sorted(os.listdir(out)) == ["clip.mp4", "clip.png"]  # nothing half-written, no temporary files
    for name, words in expected.items():
        assert sum(name in line and words in line for line in err) == 1, (name, err)
    assert streams(out / "clip.mp4")["video"][1:] == (10, Fraction(24), 64, 48)
    assert "audio" in streams(out / "clip.mp4")


def test_cli_no_stabilize_reaches_the_stylizer(tiny_model, tmp_path, monkeypatch, capsys):
    model = tmp_path / "model"
    tiny_model.save_pretrained(model)
    src = clips.write_clip(tmp_path / "clip.mp4", clips.still_clip(64, 48, frames=3))
    seen = []
    monkeypatch.setattr(video, "stylize_video", lambda *a, **kw: seen.append(kw["stabilize"]))
    for flags in ([], ["--no-stabilize"]):
        assert main(["stylize", str(src), "--style", str(STYLE), "--backend", "fp32", "--model", str(model),
                     "--out", str(tmp_path / "out"), *flags]) == 0
    assert seen == [True, False]
    code = main(["stylize", str(src), "--style", str(STYLE), "--method", "wct", "--backend", "fp32", "--model",
                 str(model), "--out", str(tmp_path / "out")])
    assert code == 1 and "--method adain" in capsys.readouterr().err


def test_app_video_tab_stylizes_a_clip_and_refuses_long_ones(stylizer, tmp_path):
    gr = pytest.importorskip("gradio")
    import app

    src = clips.write_clip(tmp_path / "clip.mp4", clips.still_clip(64, 48, frames=12), fps=6)  # 2 s
    out = app.make_video_fn(stylizer)(str(src), str(STYLE), 1.0, True, 256)
    assert streams(Path(out))["video"][1:] == (12, Fraction(6), 64, 48)
    with pytest.raises(gr.Error, match="over this demo's limit of 1 s"):
        app.make_video_fn(stylizer, max_seconds=1)(str(src), str(STYLE))
    (tmp_path / "notes.mp4").write_text("hello")
    with pytest.raises(gr.Error, match="Video: not a video"):
        app.make_video_fn(stylizer)(str(tmp_path / "notes.mp4"), str(STYLE))


# -- the numbers, with the bundled model --------------------------------------------------
@pytest.mark.slow
def test_stabilised_output_flickers_at_most_half_and_follows_a_pan():
    """48-frame clips: a still photo with noise of sigma 3 at 128x84, and a 2 px/frame pan at 192x128
    (the window must overlap its first position after 94 px for phase correlation to see the shift)."""
    stylizer = Stylizer(AdaIN.from_pretrained(BUNDLED_MODEL))  # the default backend, as users get it
    style = stylizer.encode_style(STYLE)
    still = clips.still_clip(128, 84)
    off = clips.flicker(list(stylize_frames(stylizer, still, style, size=128, stabilize=OFF)))
    on = clips.flicker(list(stylize_frames(stylizer, still, style, size=128)))
    assert on <= 0.5 * off, (on, off)
    pan = clips.pan_clip(192, 128)
    moved = list(stylize_frames(stylizer, pan, style, size=192))
    scene_shift = clips.shift_between(pan[0], pan[-1])
    assert abs(scene_shift + 94) < 1
    assert abs(clips.shift_between(moved[0], moved[-1]) - scene_shift) <= 6


def test_two_styles_with_weights_and_colour_preservation_work_on_frames(stylizer):
    frames = clips.still_clip(64, 48, frames=3)
    out = list(stylize_frames(stylizer, frames, [STYLE, STYLE.parent / "brick.jpg"], weights=[3, 1],
                              preserve_color=True, alpha=0.5))
    assert len(out) == 3 and all(img.size == (64, 48) for img in out)


@pytest.mark.slow
def test_a_terminated_cli_run_leaves_nothing_behind(tiny_model, tmp_path):
    """SIGTERM mid-video (as `kill` or a job scheduler sends): exit 130 and no file, temporary or not."""
    import signal
    import subprocess
    import sys
    import time

    model = tmp_path / "model"
    tiny_model.save_pretrained(model)
    src = clips.write_clip(tmp_path / "long.mp4", clips.pan_clip(160, 120, frames=240, step=1))
    out = tmp_path / "out"
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(Path(__file__).resolve().parent.parent))
    proc = subprocess.Popen([sys.executable, "-m", "adain_hub.cli", "stylize", str(src), "--style", str(STYLE),
                             "--model", str(model), "--backend", "fp32", "--out", str(out)],
                            env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(out.glob(".long.mp4.*.tmp")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "finished before it could be stopped: make the clip longer"
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130 and "interrupted" in err and "Traceback" not in err
    assert os.listdir(out) == []
