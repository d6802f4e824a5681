"""A run that dies on an input does not die on it forever: each process of ``adain stylize-dataset``
keeps a small record of the inputs it has in flight, so the next run knows which inputs were being
handled when a process was killed (out of memory, a crash inside a decoder, ``kill -9``).

The record is ``OUT/.in-flight-<rank>.jsonl``, one per process: a first line with the deaths known so
far (``{"deaths": {source: n}}``), then ``{"start": source}`` and ``{"done": source}`` lines appended
as inputs come and go. A run that ends, normally or by an exception, rewrites it with nothing in
flight; a process that is killed leaves its starts without their dones, and each of those inputs has
died once more. The next run:

- refuses an input that was in flight at two deaths (``DIED_TWICE``): a manifest row with that reason,
  and the input is never opened again (delete the record files to try it anyway);
- runs an input that was in flight at one death alone, after the others, with nothing else in
  flight (:meth:`InFlight.split`): a process that reads ahead has many inputs in flight when it dies,
  and only running each suspect on its own tells the killer from its neighbours.

Every process reads every record (so a run with another number of processes counts the same deaths)
before any rewrites its own; the caller waits for all processes in between.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import IO, Callable, Iterable, Iterator, TypeVar

from .images import write_atomic

DIED_TWICE = "the process died twice while handling it"
RECORD_GLOB = ".in-flight-*.jsonl"
COMPACT_LINES = 4096  # rewritten with only what is in flight once it has this many lines

J = TypeVar("J")


def record_path(out: Path, rank: int) -> Path:
    return out / f".in-flight-{rank}.jsonl"


def read_deaths(out: Path) -> dict[str, int]:
    """Deaths by input over every process's record in ``out``: those the records carry (each carries
    them all, so they agree by their maximum), less those of inputs a process has since finished
    alone, plus one for each input a record left in flight."""
    known: dict[str, int] = {}
    cleared: set[str] = set()
    in_flight: list[str] = []
    for path in sorted(out.glob(RECORD_GLOB)):
        carried, flying, finished = _read(path)
        for source, n in carried.items():
            known[source] = max(known.get(source, 0), n)
        cleared |= finished
        in_flight += flying
    deaths = {source: n for source, n in known.items() if source not in cleared}
    for source in in_flight:
        deaths[source] = deaths.get(source, 0) + 1
    return deaths


def _read(path: Path) -> tuple[dict[str, int], set[str], set[str]]:
    """A record's deaths, the inputs it has in flight and the suspects it finished alone; a torn last
    line (a kill mid-write) is skipped."""
    known: dict[str, int] = {}
    in_flight: set[str] = set()
    cleared: set[str] = set()
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return known, in_flight, cleared
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if isinstance(entry.get("deaths"), dict):
            known.update({str(k): int(v) for k, v in entry["deaths"].items()})
        elif "start" in entry:
            in_flight.add(str(entry["start"]))
        elif "done" in entry:
            in_flight.discard(str(entry["done"]))
            if entry.get("cleared"):
                cleared.add(str(entry["done"]))
    return known, in_flight, cleared


class InFlight:
    """This process's record (see the module docstring). ``deaths`` is :func:`read_deaths` of the
    output folder, read by every process before any makes its record."""

    def __init__(self, out: Path, rank: int, deaths: dict[str, int]) -> None:
        self.path, self.deaths = record_path(out, rank), dict(deaths)
        self.now: set[str] = set()
        self.lines = 0
        self.lock = threading.Lock()
        self.fh: IO[str] | None = None
        self._rewrite()

    def died_twice(self, source: str) -> bool:
        return self.deaths.get(source, 0) >= 2

    def suspect(self, source: str) -> bool:
        """In flight at one death: to run alone."""
        return self.deaths.get(source, 0) == 1

    def start(self, source: str) -> None:
        """``source`` is about to be opened: on disk before any of its bytes are read."""
        self._append({"start": source}, lambda: self.now.add(source))

    def done(self, source: str) -> None:
        """``source`` is written or refused: no longer in flight; a suspect that got this far alone
        was not what killed the process, and loses its death."""
        cleared = self.deaths.get(source) == 1
        if cleared:
            del self.deaths[source]
        self._append({"done": source, **({"cleared": True} if cleared else {})}, lambda: self.now.discard(source))

    def split(self, jobs: Iterable[J], source: Callable[[J], str]) -> tuple[Iterator[J], list[J]]:
        """``jobs`` without the suspects, which are set aside (they are few: the inputs in flight at a
        death) into the returned list as the iterator passes them, to run one at a time afterwards."""
        aside: list[J] = []

        def rest() -> Iterator[J]:
            for job in jobs:
                if self.suspect(source(job)):
                    aside.append(job)
                else:
                    yield job

        return rest(), aside

    def close(self) -> None:
        """The run ended (normally or by an exception, not by a kill): nothing is in flight."""
        with self.lock:
            self.now.clear()
            if self.fh is not None:
                self.fh.close()
                self.fh = None
            write_atomic(self.path, self._header().encode())

    def _append(self, entry: dict, change: Callable[[], None]) -> None:
        with self.lock:
            change()
            if self.fh is None or self.lines >= COMPACT_LINES:
                self._rewrite()
            self.fh.write(json.dumps(entry) + "\n")
            self.fh.flush()  # in the kernel's hands: a killed process's record survives it
            self.lines += 1

    def _header(self) -> str:
        return json.dumps({"deaths": self.deaths}) + "\n"

    def _rewrite(self) -> None:
        """The record as it stands, written whole, then appended to."""
        if self.fh is not None:
            self.fh.close()
        text = self._header() + "".join(json.dumps({"start": s}) + "\n" for s in sorted(self.now))
        write_atomic(self.path, text.encode())
        self.fh = open(self.path, "a", encoding="utf-8")
        self.lines = 1 + len(self.now)
