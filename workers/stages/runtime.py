"""CPU thread settings shared by the stages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch


def default_threads() -> int:
    """One intra-op thread per core the process may use (``R1WEB_TORCH_THREADS`` wins).

    PyTorch's default can exceed the cores a container is allowed, and oversubscribed
    threads make tiny-model training several times slower.
    """
    configured = os.environ.get("R1WEB_TORCH_THREADS")
    if configured:
        return max(1, int(configured))
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


@contextmanager
def torch_threads(count: int | None = None) -> Iterator[int]:
    """Run a block with ``count`` torch threads, restoring the previous setting."""
    previous = torch.get_num_threads()
    count = count or default_threads()
    torch.set_num_threads(count)
    try:
        yield count
    finally:
        torch.set_num_threads(previous)
