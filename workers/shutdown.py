"""A worker told to stop hands its running stage back instead of finishing it first.

SIGTERM (a deploy, a node drain) starts Celery's warm shutdown, which waits for the
running task: hours for a stage on a GPU. Here the stage stops at its next step boundary
instead and goes back to queued with its progress kept. GRPO and SFT save a checkpoint
there, which the next worker resumes from. Stages with no checkpoint (evaluation,
sampling, generation) are told through ``DatabaseSink.should_stop`` and start over on the
next worker, unless at their measured pace they end within half the time left: then they
finish first, which loses nothing. Whatever happens, the process exits
``R1WEB_SHUTDOWN_SECONDS`` after the signal: a stage still running then stops beating and
is reaped, resumable, as when a worker is killed.

Stage code asks ``leaving()``: plain Python, no database and no Celery.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

log = logging.getLogger(__name__)

EXIT_CODE = 1  # as Celery's cold shutdown: the worker did not end cleanly


class StageHandedBack(BaseException):
    """The stage stopped because its worker is leaving: it goes back to queued.

    A BaseException, like Celery's own ``WorkerShutdown``: the runner records what an
    ``except Exception`` catches as the stage's failure, and this is none.
    ``workers.tasks.run_stage`` catches it and queues the stage again.
    """


class Shutdown:
    """This process's shutdown: whether it began, and when the process must be gone."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 exit: Callable[[int], object] = os._exit) -> None:
        self._clock, self._exit = clock, exit
        self._deadline: float | None = None

    def begin(self, grace: float) -> None:
        """From now on stages stop at their next step boundary; after ``grace`` seconds
        the process exits. Called from a signal handler, so it takes no lock; a second
        call (another signal) keeps the first deadline."""
        if self._deadline is not None:
            return
        self._deadline = self._clock() + grace
        threading.Thread(target=self._exit_at_deadline, name="r1web-shutdown", daemon=True).start()

    def leaving(self) -> bool:
        return self._deadline is not None

    def seconds_left(self) -> float:
        if self._deadline is None:
            return math.inf
        return max(0.0, self._deadline - self._clock())

    def _exit_at_deadline(self) -> None:
        time.sleep(self.seconds_left())
        log.warning("the worker is still busy when its shutdown time is over: exiting now; "
                    "a stage it ran is reaped and can be resumed")
        self._exit(EXIT_CODE)


current = Shutdown()  # the process's own; tests put another in its place


def leaving() -> bool:
    """Whether this process's worker is shutting down."""
    return current.leaving()


def seconds_left() -> float:
    return current.seconds_left()


@contextlib.contextmanager
def sigterm_hands_back(grace: float) -> Iterator[None]:
    """While a stage runs in a prefork pool process, SIGTERM begins the shutdown there
    instead of ending the process on the spot (billiard's handler), so the stage can hand
    itself back. The worker's main process hears SIGTERM through Celery (the
    ``worker_shutting_down`` signal) and passes it on (``tell_pool_processes``); with
    ``--pool solo`` the stage runs in that main process and nothing changes here."""
    from billiard.process import current_process

    in_pool_process = current_process().name != "MainProcess"
    if not in_pool_process or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda *_: current.begin(grace))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def tell_pool_processes(pids) -> None:
    """SIGTERM to the pool processes that run a stage (``pids``, from Celery's active
    requests). This process is skipped: with ``--pool solo`` the stage runs here, and
    knows already."""
    for pid in pids:
        if pid and pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
