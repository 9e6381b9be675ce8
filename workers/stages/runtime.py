"""CPU thread settings shared by the stages: each training process on a host takes its
share of the host's cores, and the shares follow as stages start and finish."""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import torch
from transformers import TrainerCallback

from r1domain.processes import host_cores


def trainers_dir() -> Path:
    """Where the processes computing on this host sign in. Workers of one host share it
    (``R1WEB_TRAINERS_DIR``; by default a folder in the system's temp dir)."""
    configured = os.environ.get("R1WEB_TRAINERS_DIR")
    return Path(configured) if configured else Path(tempfile.gettempdir()) / "r1web-trainers"


class HostShare:
    """This process's place among the processes computing on this host.

    Each holds an exclusive lock on a file of its own in ``trainers_dir()`` for as long as
    it computes; the lock goes with the process, so a SIGKILLed worker leaves a file that
    the next count removes. Two stages that each spin torch threads on every core slow
    each other about 7x on two cores; sharing the cores costs them far less.
    """

    def __init__(self, directory: Path | None = None, cores: int | None = None) -> None:
        self.directory = directory or trainers_dir()
        self.cores = cores or host_cores()
        self._file = None

    def __enter__(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._file = path.open("w")
        fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return self

    def __exit__(self, *exc) -> None:
        if self._file is not None:
            with contextlib.suppress(FileNotFoundError):
                Path(self._file.name).unlink()
            self._file.close()
            self._file = None

    def live(self) -> int:
        """How many processes compute on this host now, this one included."""
        count = 0
        for path in self.directory.iterdir():
            try:
                with path.open() as probe:
                    fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                count += 1  # held: its process is alive
            except FileNotFoundError:
                continue  # its process just finished
            else:
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()  # nobody holds it: a killed process's leftover
        return max(1, count)

    def threads(self) -> int:
        return max(1, self.cores // self.live())


_share: HostShare | None = None
_fixed = False  # a block asked for an exact thread count


def default_threads() -> int:
    """``R1WEB_TORCH_THREADS`` when set, else this process's share of the host's cores."""
    configured = os.environ.get("R1WEB_TORCH_THREADS")
    if configured:
        return max(1, int(configured))
    return _share.threads() if _share is not None else host_cores()


def rebalance() -> int:
    """Resize torch's thread pool to this process's current share; called between steps
    (torch threads are sized per calling thread, so it must run on the training thread)."""
    if _share is None or _fixed or os.environ.get("R1WEB_TORCH_THREADS"):
        return torch.get_num_threads()
    wanted = _share.threads()
    if wanted != torch.get_num_threads():
        torch.set_num_threads(wanted)
    return wanted


@contextmanager
def torch_threads(count: int | None = None) -> Iterator[int]:
    """Run a block as one of this host's computing processes: with ``count`` torch
    threads when given, else with this process's share, kept current by ``rebalance``."""
    global _share, _fixed
    previous, outer, outer_fixed = torch.get_num_threads(), _share, _fixed
    with HostShare() if outer is None else contextlib.nullcontext(outer) as share:
        _share, _fixed = share, count is not None
        count = count or default_threads()
        torch.set_num_threads(count)
        try:
            yield count
        finally:
            _share, _fixed = outer, outer_fixed
            torch.set_num_threads(previous)


class ThreadShareCallback(TrainerCallback):
    """Keeps a trainer's thread pool at its share as other stages start and finish."""

    def on_step_begin(self, args, state, control, **kwargs):
        rebalance()
