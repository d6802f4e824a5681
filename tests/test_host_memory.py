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

def faults_per_round(rounds=6):
    torch.empty(16 << 20, dtype=torch.uint8).fill_(1)  # warm: a 16 MiB tensor, as a 128 px VGG step makes
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(rounds):
        torch.empty(16 << 20, dtype=torch.uint8).fill_(1)
    return (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / rounds

default = faults_per_round()
applied = retain_freed_memory()
again = retain_freed_memory()
print(json.dumps({"default": default, "applied": applied, "again": again, "retained": faults_per_round()}))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_a_big_tensor_made_again_after_retain_freed_memory_no_longer_faults_in_its_pages() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    assert r["applied"] and r["again"]
    pages = (16 << 20) / 4096
    assert r["default"] > 0.5 * pages  # glibc maps every such block anew: a fault per page
    assert r["retained"] < 0.05 * pages  # the freed block is reused as it is


def test_retain_freed_memory_changes_nothing_off_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    from adain_hub import host_memory

    monkeypatch.setattr(host_memory, "_applied", False)
    monkeypatch.setattr(host_memory.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert host_memory.retain_freed_memory() is False
    assert host_memory._applied is False
