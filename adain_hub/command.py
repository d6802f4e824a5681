"""What every ``adain`` command ends with when it fails: one ``error: ...`` line and an exit code.

Shared by :mod:`adain_hub.cli` (which prints the line) and the modules that hold a command's work
(:mod:`adain_hub.dataset_command`, :mod:`adain_hub.finetune_command`), which must not import the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported when a command runs: `adain --help` stays fast
    import torch

    from .model import AdaIN

USAGE_ERROR, FAILURE = 2, 1


class CommandError(Exception):
    """Ends a command with one ``error: ...`` line on stderr and ``code`` (2: bad usage, 1: the run
    failed); no traceback."""

    def __init__(self, message: str, code: int = FAILURE) -> None:
        super().__init__(message)
        self.code = code


def load_model(model_id: str, device: "str | torch.device" = "cpu") -> "AdaIN":
    """The model from a folder or a Hub id on ``device`` (``auto``: CUDA when there is a GPU), or a
    :class:`CommandError` saying why not in one line."""
    import torch

    from .hub import ModelLoadError
    from .hub import load_model as load

    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    elif device == "cuda" and not torch.cuda.is_available():
        raise CommandError("--device cuda: no CUDA GPU is available here (use --device cpu)", USAGE_ERROR)
    try:
        return load(model_id).to(device)
    except ModelLoadError as exc:
        raise CommandError(str(exc)) from None
