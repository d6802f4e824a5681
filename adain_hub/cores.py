"""How many CPU cores this process may use: the thread count of OpenVINO's inference and of the PNG writer."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores in this process's affinity mask (a container's or ``taskset``'s limit), else all of them."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
