"""The record a stylized dataset keeps of itself: ``manifest.csv`` (one row per output, one per refused
input) and ``job.json`` (the settings its outputs were made with, so that a rerun into the same
folder resumes the same job instead of mixing two).

Each process of a run writes ``manifest.part-<rank>-of-<world>.csv`` for its whole share (rows are a
pure function of the input, the seed, the styles and the model, so outputs done by an earlier run get
their rows again); the main process merges the parts into ``manifest.csv``, sorted by source and
version, so the manifest is complete and has each output once whatever was interrupted before.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Iterable

from .images import write_atomic

MANIFEST = "manifest.csv"
JOB_FILE = "job.json"
JOB_FORMAT = "adain-hub-stylized-dataset/1"


@dataclass(frozen=True)
class Row:
    """One output (``output`` relative to OUT, version ``k`` of ``source``), or one refused input
    (``reason`` set, no output)."""

    source: str
    output: str = ""
    k: int | None = None
    style: str = ""
    alpha: float | None = None
    model: str = ""
    model_fingerprint: str = ""
    reason: str = ""

    def key(self) -> tuple[str, int]:
        return self.source, -1 if self.k is None else self.k


FIELDS = list(Row.__dataclass_fields__)


def to_csv(rows: Iterable[Row]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        values = asdict(row)
        values["k"] = "" if row.k is None else row.k
        values["alpha"] = "" if row.alpha is None else f"{row.alpha:g}"
        writer.writerow(values)
    return buf.getvalue().encode()


def read_rows(path: Path) -> list[Row]:
    """The rows of a manifest or of a part."""
    with open(path, newline="", encoding="utf-8") as fh:
        return [Row(r["source"], r["output"], int(r["k"]) if r["k"] else None, r["style"],
                    float(r["alpha"]) if r["alpha"] else None, r["model"], r["model_fingerprint"], r["reason"])
                for r in csv.DictReader(fh)]


def part_path(out: Path, rank: int, world: int) -> Path:
    return out / f"manifest.part-{rank}-of-{world}.csv"


def write_part(out: Path, rank: int, world: int, rows: Iterable[Row]) -> Path:
    path = part_path(out, rank, world)
    write_atomic(path, to_csv(sorted(rows, key=Row.key)))
    return path


def merge_parts(out: Path, world: int) -> tuple[Path, list[Row]]:
    """``manifest.csv`` from the ``world`` parts of this run (all must exist), sorted by source and
    version; parts of runs with another number of processes are deleted. Returns its path and rows."""
    rows: list[Row] = []
    for rank in range(world):
        path = part_path(out, rank, world)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: process {rank}'s manifest part is missing (did it fail?)")
        rows += read_rows(path)
    rows.sort(key=Row.key)
    manifest = out / MANIFEST
    write_atomic(manifest, to_csv(rows))
    for stale in out.glob("manifest.part-*-of-*.csv"):
        if not stale.name.endswith(f"-of-{world}.csv"):
            stale.unlink(missing_ok=True)
    return manifest, rows


def check_job(out: Path, settings: dict, write: bool) -> None:
    """Refuse (``ValueError``, one line) an OUT folder whose ``job.json`` records other settings: its
    outputs would be taken as done. With ``write`` (the main process), record ``settings`` when
    there is no such file yet."""
    path = out / JOB_FILE
    wanted = {"job": JOB_FORMAT, **settings}
    if path.is_file():
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: unreadable ({exc}); delete it only if OUT holds no outputs of another job")
        for key, value in wanted.items():
            if found.get(key) != value:
                raise ValueError(f"{out} holds the outputs of another job ({key}: {found.get(key)!r} there, "
                                 f"{value!r} now): rerun with the same settings to resume it, or use another OUT")
        return
    if write:
        write_atomic(path, (json.dumps(wanted, indent=2) + "\n").encode())
