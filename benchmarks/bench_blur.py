"""What the lite decoder's anti-aliasing blurs cost in OpenVINO, by the form they are computed in (issue 32).

    python benchmarks/bench_blur.py --model model_card_lite --rounds 40

The decoder of an ``antialias`` model at 512 x 512, compiled as the CPU backend compiles it (LATENCY, bf16 where
the CPU has it): without its blurs, with them as a replicated pad and a 2 x 2 average pool (the first form), and
as ``ShuffleBlur`` computes them (a replicated pad and a depthwise convolution of fixed weights); the encoder beside
them, for the share of the whole network. Medians of ``--rounds`` runs, round-robin. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
import warnings
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


class PoolBlur(nn.Sequential):
    """The blur's first form: the same numbers as ``ShuffleBlur``, as a pad and an average pool."""

    def __init__(self, pad: tuple[int, int, int, int]) -> None:
        super().__init__(nn.ReplicationPad2d(pad), nn.AvgPool2d(2, stride=1))


class Features(nn.Module):
    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / "model_card_lite"), help="an antialias lite model folder")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()

    import openvino as ov

    from adain_hub.hub import load_model
    from adain_hub.openvino_backend import openvino_has_bf16

    model = load_model(args.model).eval()
    if not model.config.antialias:
        print(f"error: {args.model} has no blurs (antialias is false)", file=sys.stderr)
        return 2
    decoders = {"no blurs": copy.deepcopy(model.decoder), "pad + average pool": copy.deepcopy(model.decoder),
                "pad + depthwise convolution (ShuffleBlur)": model.decoder}
    for name in ("blur1", "blur2"):
        setattr(decoders["no blurs"].up, name, nn.Identity())
        setattr(decoders["pad + average pool"].up, name, PoolBlur(getattr(model.decoder.up, name).pad))
    precision = "bf16" if openvino_has_bf16() else "f32"
    config = {"PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision}
    core = ov.Core()
    image = torch.rand(1, 3, args.size, args.size)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        features = model.encode(image)[-1]
        reference = model.decoder(features)
        for name, decoder in decoders.items():
            if name != "no blurs":
                assert torch.allclose(decoder(features), reference, atol=1e-5), name  # the same numbers
        graphs = {"encoder": (Features(model.encoder), image)}
        graphs.update({name: (decoder, features) for name, decoder in decoders.items()})
        requests = {name: core.compile_model(ov.convert_model(module, example_input=x), "CPU", config)
                    .create_infer_request() for name, (module, x) in graphs.items()}
    inputs = {name: x.numpy() for name, (_, x) in graphs.items()}
    times: dict[str, list[float]] = {name: [] for name in requests}
    for i in range(args.rounds + 1):
        for name, request in requests.items():
            start = time.perf_counter()
            request.infer([inputs[name]])
            if i:  # the first round warms up
                times[name].append(time.perf_counter() - start)
    ms = {name: 1000 * statistics.median(t) for name, t in times.items()}
    base = ms["encoder"] + ms["no blurs"]
    print(f"{args.size} x {args.size}, OpenVINO {precision}, median of {args.rounds}\n")
    print("| decoder | ms | encoder + decoder vs no blurs |")
    print("|---|---:|---:|")
    for name in decoders:
        print(f"| {name} | {ms[name]:.2f} | {(ms['encoder'] + ms[name]) / base:.2f}x |")
    print(f"| (the encoder) | {ms['encoder']:.2f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
