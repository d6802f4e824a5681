"""``adain stylize-dataset``: flags to :class:`~adain_hub.stylize_dataset.DatasetOptions`, the
process state of ``accelerate launch`` / ``torchrun``, the model, its backend and the styles; then
:func:`~adain_hub.stylize_dataset.stylize_dataset`, with one ``error:`` line per refused input, a
progress bar on the main process and a summary line. The parser lives in :mod:`adain_hub.cli`, which
turns a :class:`CommandError` into its one line and exit code (this module never imports it back)."""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path
from typing import Callable

from .images import one_line

from .command import FAILURE, USAGE_ERROR, CommandError, load_model


def _one_line(exc: BaseException) -> str:
    return one_line(exc, 300)


def options_from_args(args: argparse.Namespace):
    """The flags as :class:`DatasetOptions`; a :class:`CommandError` (exit 2) for flags that cannot work."""
    from .stylize_dataset import DatasetOptions

    if len(args.alpha) > 2 or not all(math.isfinite(a) for a in args.alpha):
        raise CommandError(f"--alpha takes A or LO HI, got {' '.join(map(str, args.alpha))}", USAGE_ERROR)
    if args.center_crop is not None and args.size is not None:
        raise CommandError("--center-crop and --size cannot be combined (the crop sets the size)", USAGE_ERROR)
    lo, hi = args.alpha[0], args.alpha[-1]
    options = DatasetOptions(
        per_image=args.per_image, alpha=(lo, hi), center_crop=args.center_crop,
        size=512 if args.size is None else args.size, format=args.format, quality=args.quality, seed=args.seed,
        batch_size=args.batch_size, to_dataset=args.to_dataset, shard_size=args.shard_size,
        use_datasets=args.datasets, image_column=args.image_column, split=args.split,
        threads=max(2, _cores() // _local_processes()),
    )
    try:
        options.check()
    except ValueError as exc:
        raise CommandError(str(exc), USAGE_ERROR) from None
    return options


def run(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """The command; ``say`` writes one line to stderr without tearing the progress bar."""
    from tqdm import tqdm

    from .hub import looks_like_path
    from .int8 import INT8
    from .stylize_dataset import stylize_dataset
    from .stylizer import Stylizer

    options = options_from_args(args)
    if args.memory_budget is not None and not (math.isfinite(args.memory_budget) and args.memory_budget > 0):
        raise CommandError(f"--memory-budget must be a positive number of MB, got {args.memory_budget}", USAGE_ERROR)
    if args.out.exists() and not args.out.is_dir():
        raise CommandError(f"{args.out}: OUT must be a folder, and this is a file", USAGE_ERROR)
    if not Path(args.source).expanduser().exists() and looks_like_path(args.source):
        raise CommandError(f"{args.source}: no such folder (nor a Hub dataset id)", USAGE_ERROR)
    if args.styles is not None and not args.styles.exists():
        raise CommandError(f"--styles {args.styles}: no such folder or style bank", USAGE_ERROR)

    state = _process_state(args.device)
    model = load_model(args.model, state.device)  # each process its own GPU under accelerate/torchrun
    try:
        backend = _backend(model, args.backend)
        stylizer = Stylizer(model, backend=backend, cache_size=0, **(
            {"memory_budget": args.memory_budget} if args.memory_budget else {}))
    except Exception as exc:
        raise CommandError(f"backend {args.backend!r}: {_one_line(exc)}") from None
    # each painting encoded once, by the same engine (a float one under int8: statistics stay exact)
    bank = _styles(args.styles, model, "auto" if args.backend == INT8 else stylizer.backend)

    main = state.is_main_process
    bar = tqdm(desc="stylize-dataset", unit="img", file=sys.stderr, disable=None if main else True, dynamic_ncols=True)

    def progress(done: int, total: int | None) -> None:
        if total is not None and bar.total != total:
            bar.total = total
            bar.refresh()
        bar.update(done - bar.n)

    try:
        summary = stylize_dataset(args.source, args.out, stylizer, bank, options, model_id=args.model,
                                  processes=state, progress=progress,
                                  on_refused=lambda name, reason: say(f"error: {name}: {reason}"))
    except ValueError as exc:
        raise CommandError(_one_line(exc)) from None
    except OSError as exc:
        raise CommandError(f"{getattr(exc, 'filename', None) or args.out}: cannot write "
                       f"({exc.strerror or _one_line(exc)})") from None
    finally:
        bar.close()
        if state.num_processes > 1:
            state.destroy_process_group()
    rate = summary.stylized / summary.seconds if summary.seconds else 0.0
    if main:
        where = f" by process 0 of {state.num_processes}" if state.num_processes > 1 else ""
        refused = f"; {summary.total_refused} input(s) refused" if summary.total_refused else ""
        say(f"{args.out}: {summary.total_outputs} output(s) in the manifest{refused}; this run wrote "
             f"{summary.written}{where} ({summary.already_done} already there, {rate:.1f} images/s)")
        return FAILURE if summary.total_refused else 0
    return FAILURE if summary.refused else 0


def _cores() -> int:
    from .cores import available_cores

    return available_cores()


def _local_processes() -> int:
    """Processes on this machine under ``torchrun`` / ``accelerate launch`` (1 otherwise)."""
    return max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1") or 1))


def _process_state(device: str):
    """accelerate's view of the processes. Without a GPU it must be told ``cpu=True``, or under
    ``torchrun`` every process believes it is the only one (ECOSYSTEM_NOTES)."""
    import torch
    from accelerate import PartialState

    if device == "cuda" and not torch.cuda.is_available():
        raise CommandError("--device cuda: no CUDA GPU is available here (use --device cpu)", USAGE_ERROR)
    return PartialState(cpu=device == "cpu" or not torch.cuda.is_available())


def _backend(model, name: str):
    """The backend by name; on a CPU shared by several processes, OpenVINO gets its share of the cores."""
    from .int8 import data_backend

    return data_backend(model, name, threads=max(1, _cores() // _local_processes()))


def _styles(styles: Path | None, model, backend):
    """The style bank: a folder of paintings (encoded once), a bank file, or the model's own."""
    from .images import ImageError
    from .style_bank import StyleBank, StyleBankError

    try:
        if styles is None:
            return StyleBank.from_pretrained(model)
        if styles.is_dir():
            return StyleBank.from_images(model, styles, backend=backend)
        return StyleBank.load(styles, model)
    except StyleBankError as exc:
        hint = "; give --styles FOLDER (paintings) or a style bank file" if styles is None else ""
        raise CommandError(f"{exc}{hint}") from None
    except ImageError as exc:
        raise CommandError(f"--styles: {exc}") from None
