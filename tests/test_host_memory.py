"""retain_freed_memory(): big tensors allocated again and again stop page-faulting (glibc only)."""

from __future__ import annotations

import json
import platform
import subprocess
import sys

import pytest

# in a process of its own: the setting is process-wide and cannot be undone
PROBE = """
import json, resource, torch
from adain_hub.host_memory import retain_freed_memory

MB = 64  # above 32 MiB: glibc never raises its mmap threshold that far by itself, so by default
         # every such block is mapped anew and unmapped on free

def faults_per_round(rounds=40, window=4):
    # the fewest faults a round over `window` rounds in a row: with the setting, the first blocks
    # land at new heap addresses until the aligned allocations settle into the heap they grew
    # (4 to 10 rounds on the AMX Xeon), after which none fault
    faults = []
    for _ in range(rounds):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        torch.empty(MB << 20, dtype=torch.uint8).fill_(1)
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    return min(sum(faults[i:i + window]) / window for i in range(rounds - window + 1))

default = faults_per_round()
applied = retain_freed_memory()
again = retain_freed_memory()
print(json.dumps({"default": default, "applied": applied, "again": again, "retained": faults_per_round(), "mb": MB}))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_a_big_tensor_made_again_after_retain_freed_memory_no_longer_faults_in_its_pages() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["applied"] and r["again"]
    pages = (r["mb"] << 20) / 4096
    assert r["default"] > 0.5 * pages  # glibc maps every such block anew and unmaps it on free: a fault per page
    assert r["retained"] < 0.1 * pages  # the freed block stays in the heap and is reused as it is


def test_retain_freed_memory_changes_nothing_off_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    from adain_hub import host_memory

    monkeypatch.setattr(host_memory, "_applied", False)
    monkeypatch.setattr(host_memory.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert host_memory.retain_freed_memory() is False
    assert host_memory._applied is False
