"""What a model folder remembers of how it was trained (``training.json``): one entry per run.

A model trained over several sessions (each a few hours on a CPU, then killed) is continued from
the folder that was committed, on whatever machine the next session gets. The folder therefore
carries the step count the learning-rate schedule continues from, and the runs behind it (steps,
hours, crop size, machine), from which the model card's learning curve and its honest account of
how the model was made are written.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

HISTORY_FILE = "training.json"


@dataclass
class Run:
    """One training process: steps ``first_step`` to ``last_step`` in ``hours`` of wall time."""

    first_step: int
    last_step: int
    hours: float
    image_size: int
    batch: str
    lr: float
    identity_weight: float
    style_weight: float
    loop: str
    device: str
    finished: str  # UTC, ISO 8601
    judge_padding: str = "reflect"  # the fast loop's loss-network padding (histories before it have none)


@dataclass
class History:
    runs: list[Run] = field(default_factory=list)

    @property
    def steps(self) -> int:
        """Optimizer steps so far: where a continued run's step count and schedule resume."""
        return self.runs[-1].last_step if self.runs else 0

    @property
    def hours(self) -> float:
        return sum(r.hours for r in self.runs)

    def upto(self, step: int) -> "History":
        """The runs that ended at or before ``step`` (a run resumed from an earlier checkpoint
        replaces what came after it)."""
        return History([r for r in self.runs if r.last_step <= step])

    @classmethod
    def load(cls, folder: str | os.PathLike) -> "History":
        """The history in ``folder``; empty if it has none. A malformed file is a ``ValueError``."""
        path = Path(folder) / HISTORY_FILE
        if not path.is_file():
            return cls()
        try:
            data = json.loads(path.read_text())
            return cls([Run(**r) for r in data["runs"]])
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a training history ({exc})") from None

    def save(self, folder: str | os.PathLike) -> Path:
        path = Path(folder) / HISTORY_FILE
        tmp = path.with_name(f".{HISTORY_FILE}.tmp")
        tmp.write_text(json.dumps({"steps": self.steps, "hours": round(self.hours, 3),
                                   "runs": [asdict(r) for r in self.runs]}, indent=1) + "\n")
        os.replace(tmp, path)
        return path
