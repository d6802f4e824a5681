"""Would int8 OpenVINO make the default fast enough? Time and error of nncf post-training quantization.

    .venv/bin/pip install -e '.[bench]'   # nncf: for this script only, not a dependency of adain-hub
    .venv/bin/python benchmarks/bench_int8.py [--repeats 3] [--size 512] [--calibration 48]

The encoder (image -> relu4_1) and the decoder are quantized separately, as the OpenVINO backend
keeps them (AdaIN stays in fp32 between them; inside a quantized graph it breaks the output). The
calibration set is real photos and paintings: ``/work/shared/data/train`` if present, else the
images under ``examples/`` and ``tests/fixtures``. One job = encode content + encode style + AdaIN +
decode at ``--size``, as in ``bench_inference.py``; rows run round-robin after one warm-up round.
Error is the relative L2 distance of the uint8 output to OpenVINO fp32's (which is itself 0.01%
from PyTorch fp32).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_inference import cpu_description, pick_images, square  # noqa: E402


def calibration_images(limit: int, size: int) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    from adain_hub.images import ImageError, iter_image_files, to_tensor

    shared = Path("/work/shared/data/train")
    if shared.is_dir():
        contents = sorted(iter_image_files(shared / "content"))
        styles = sorted(iter_image_files(shared / "style"))
    else:
        contents = sorted(iter_image_files(ROOT / "tests" / "fixtures"))
        styles = sorted(iter_image_files(ROOT / "examples"))
    pick = lambda paths: paths[:: max(1, len(paths) // limit)][:limit]  # noqa: E731
    out: tuple[list[torch.Tensor], list[torch.Tensor]] = ([], [])
    for paths, into in ((pick(contents), out[0]), (pick(styles), out[1])):
        for path in paths:
            try:
                into.append(to_tensor(square(path, size)))
            except ImageError:
                continue
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--calibration", type=int, default=48, help="photos and as many paintings")
    parser.add_argument("--model", default=str(ROOT / "model_card"))
    args = parser.parse_args()
    try:
        import nncf
    except ImportError:
        sys.exit("bench_int8.py needs nncf: pip install -e '.[bench]' (or pip install nncf)")
    import openvino as ov

    from adain_hub import AdaIN
    from adain_hub.functional import adain
    from adain_hub.images import to_tensor
    from adain_hub.openvino_backend import ensure_ir

    threads = len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    model = AdaIN.from_pretrained(args.model).eval()
    folder, _ = ensure_ir(model)
    core = ov.Core()
    fp32 = {g: core.read_model(folder / f"{g}.xml") for g in ("encoder", "decoder")}

    contents, styles = calibration_images(args.calibration, 256)
    with torch.no_grad():
        targets = [adain(model.encode(c)[-1], model.encode(s)[-1]) for c, s in zip(contents, styles)]
    start = time.perf_counter()
    int8 = {
        "encoder": nncf.quantize(fp32["encoder"], nncf.Dataset([x.numpy() for x in contents + styles])),
        "decoder": nncf.quantize(fp32["decoder"], nncf.Dataset([t.numpy() for t in targets])),
    }
    quantize_s = time.perf_counter() - start

    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_NUM_THREADS": threads}
    compiled = {
        (kind, g): core.compile_model(graphs[g], "CPU", config).create_infer_request()
        for kind, graphs in (("fp32", fp32), ("int8", int8))
        for g in ("encoder", "decoder")
    }
    content_path, style_path = pick_images()
    content = to_tensor(square(content_path, args.size)).numpy()
    style = to_tensor(square(style_path, args.size)).numpy()

    def job(encoder: str, decoder: str) -> np.ndarray:
        enc = compiled[(encoder, "encoder")]
        fc = torch.from_numpy(np.array(enc.infer([content])[0]))
        fs = torch.from_numpy(np.array(enc.infer([style])[0]))
        out = compiled[(decoder, "decoder")].infer([adain(fc, fs).numpy()])[0]
        return np.round(np.clip(out, 0, 1) * 255)

    rows = {
        "OpenVINO fp32 (the default here)": ("fp32", "fp32"),
        "int8 encoder and decoder": ("int8", "int8"),
        "int8 encoder, fp32 decoder": ("int8", "fp32"),
        "fp32 encoder, int8 decoder": ("fp32", "int8"),
    }
    times: dict[str, list[float]] = {name: [] for name in rows}
    outputs: dict[str, np.ndarray] = {}
    for round_ in range(args.repeats + 1):
        for name, (e, d) in rows.items():
            start = time.perf_counter()
            outputs[name] = job(e, d)
            if round_:
                times[name].append(time.perf_counter() - start)

    ref = outputs["OpenVINO fp32 (the default here)"]
    base = statistics.median(times["OpenVINO fp32 (the default here)"])
    print(f"## int8 post-training quantization (nncf {nncf.__version__}, openvino {ov.__version__})\n")
    print(f"Machine: {cpu_description()}. {args.size}x{args.size}, median of {args.repeats} interleaved rounds.")
    print(f"Calibration: {len(contents)} photos, {len(styles)} paintings at 256 px; quantizing took "
          f"{quantize_s:.0f} s.\n")
    print("| graphs | median ms | speed-up vs OpenVINO fp32 | output error vs fp32 |")
    print("|---|---:|---:|---:|")
    for name, ts in times.items():
        err = np.linalg.norm(outputs[name] - ref) / np.linalg.norm(ref)
        print(f"| {name} | {statistics.median(ts) * 1e3:.0f} | {base / statistics.median(ts):.2f}x | {err:.2%} |")


if __name__ == "__main__":
    main()
