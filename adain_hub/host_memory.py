"""Keep freed host memory in the process, so big tensors stop costing a page fault per 4 KiB.

PyTorch's CPU tensors come from the C library's ``malloc``. glibc serves big blocks with a fresh
``mmap`` and gives them back on ``free``, and it trims freed memory at the top of the heap back to
the system. A training step allocates and frees the same few hundred MB of activations and
gradients every time, so every step touches them as new pages: a VGG-19 step at 128 px (batch 8,
AMX Xeon, 2 cores) took about 232,000 minor page faults, each a trip into the kernel to map and
zero 4 KiB. With mmap turned off and trimming deferred the same step took about 2,500; a 64 MiB
tensor made again and again went from a fault per page to none once the heap had settled, after 4
to 10 rounds (``tests/test_host_memory.py``; ``benchmarks/bench_training.py --compare fast`` times
a step).

This is process-wide and not undone, so only an entry point that owns its process calls
:func:`retain_freed_memory` (the training script); library functions never do. The process keeps its
peak heap, which for a training run is its steady state. It is not a general speed-up: ``adain
stylize`` on 16 photos (the lite model through OpenVINO) measured 129 ms a photo with it against
71 ms without, so the CLI leaves glibc as it is.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["retain_freed_memory"]

# glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_MAX = -4

_applied = False


def retain_freed_memory(top_pad_mb: int = 64) -> bool:
    """Ask glibc to serve big blocks from the heap (no per-block ``mmap``), never to trim the heap,
    and to grow it ``top_pad_mb`` at a time. Returns whether it applied (False off glibc, e.g. on
    macOS, Windows or musl, where nothing is changed). Calling it again is harmless."""
    global _applied
    if _applied:
        return True
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    ok = all(mallopt(param, value) == 1 for param, value in (
        (_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, 2**31 - 1), (_M_TOP_PAD, top_pad_mb << 20)))
    _applied = ok
    return ok
