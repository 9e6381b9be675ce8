"""Sandboxes run side by side, as many at once as the host has cores."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from r1domain.processes import host_cores

T = TypeVar("T")


class SandboxPool:
    """A bounded thread pool: each thread waits on one sandbox process, so ``workers``
    sandboxes run at once and the rest queue."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or host_cores()
        self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox")

    def submit(self, func: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        return self._executor.submit(func, *args, **kwargs)

    def map(self, func: Callable[..., T], *iterables: Iterable[Any]) -> list[T]:
        """``func`` over the items, in order; the first exception is raised."""
        return list(self._executor.map(func, *iterables))

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


_shared: SandboxPool | None = None
_lock = threading.Lock()


def shared_pool() -> SandboxPool:
    """The process's pool, made on first use."""
    global _shared
    with _lock:
        if _shared is None:
            _shared = SandboxPool()
        return _shared


def _forget_after_fork() -> None:
    # A forked child (a prefork Celery worker) has none of its parent's threads.
    global _shared, _lock
    _shared, _lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_after_fork)
