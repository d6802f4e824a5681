"""An ordered map over a thread pool, for decoding and resizing images beside the network (PIL
releases the GIL while it decodes and resizes)."""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable, Iterable, Iterator, TypeVar

T = TypeVar("T")


def threaded_map(fn: Callable[..., T], jobs: Iterable[tuple], threads: int, name: str = "decode",
                 depth: int | None = None, wait: bool = False) -> Iterator[T]:
    """``fn(*job)`` for each job, in order, in ``threads`` threads with up to ``depth`` (default
    ``4 * threads``) in flight: deep enough that a batch is ready while the network runs the last.
    Closing the generator stops them; with ``wait`` it also waits for the jobs already running
    (callers whose jobs write files)."""
    pool = ThreadPoolExecutor(threads, thread_name_prefix=name)
    pending: deque[Future] = deque()
    depth = depth or 4 * threads
    try:
        for job in jobs:
            pending.append(pool.submit(fn, *job))
            if len(pending) >= depth:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=wait, cancel_futures=True)
