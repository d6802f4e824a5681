"""An ordered map over a thread pool, for decoding and resizing images beside the network (PIL
releases the GIL while it decodes and resizes)."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def threaded_map(fn: Callable[..., T], jobs: Iterable[tuple], threads: int, name: str = "decode",
                 depth: int | None = None, wait: bool = False, weigh: Callable[[tuple], float] | None = None,
                 max_weight: float = float("inf")) -> Iterator[T]:
    """``fn(*job)`` for each job, in order, in ``threads`` threads with up to ``depth`` (default
    ``4 * threads``) in flight: deep enough that a batch is ready while the network runs the last.
    With ``weigh``, the jobs in flight also weigh at most ``max_weight`` together (one job always
    runs, whatever it weighs): the memory their decoding takes, say. Closing the generator stops
    them; with ``wait`` it also waits for the jobs already running (callers whose jobs write files)."""
    pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
    pending: deque[tuple[Future, float]] = deque()
    depth = depth or 4 * threads
    held = 0.0
    try:
        for job in jobs:
            weight = weigh(job) if weigh is not None else 0.0
            while pending and held + weight > max_weight:
                future, done = pending.popleft()
                held -= done
                yield future.result()
            pending.append((pool.submit(fn, *job), weight))
            held += weight
            if len(pending) >= depth:
                future, done = pending.popleft()
                held -= done
                yield future.result()
        while pending:
            yield pending.popleft()[0].result()
    finally:
        pool.shutdown(wait=wait, cancel_futures=True)
