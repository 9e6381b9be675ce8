"""The database side of a running stage: a ``StageSink`` that records what stage code
reports, and the heartbeat that tells everyone the worker is alive.

Both outlive a database restart: a write that finds its connection gone is tried again
on a new one (``write_retrying``), a missed heartbeat is beaten again a second later, and
a cancel check that cannot reach the database keeps its last answer. A stage fails only
when the database stays away longer than ``RETRY_FOR_SECONDS`` (``bench/chaos.py``
restarts PostgreSQL under a running stage).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, ParamSpec, Self, TypeVar

from django.conf import settings
from django.db import (
    DatabaseError,
    InterfaceError,
    OperationalError,
    close_old_connections,
    connection,
    transaction,
)

from r1domain.base import SampleRecord, StageCancelled
from r1domain.checkpoints import prune_checkpoints
from r1domain.progress import measured
from r1web.runs import rollups
from r1web.runs.models import Stage
from r1web.runs.services import (
    checkpoint_record,
    metrics_record,
    metrics_record_steps,
    stage_heartbeat,
)
from r1web.traces.services import samples_record
from workers import shutdown

log = logging.getLogger(__name__)

# How long a write keeps trying while the database is unreachable, and the longest pause
# between tries. A restart takes seconds; a database down for minutes fails the stage.
RETRY_FOR_SECONDS = 120.0
MAX_BACKOFF_SECONDS = 8.0
# How long the sink's writer gathers writes before storing them together: live pages
# poll every few seconds, so a second's delay is not seen.
FLUSH_SECONDS = 1.0
# What a lost connection raises: the server went away (OperationalError) or Django
# already knows the connection is closed (InterfaceError). Integrity and data errors are
# bugs, never retried.
LOST_CONNECTION = (OperationalError, InterfaceError)

P = ParamSpec("P")
R = TypeVar("R")


def write_retrying(func: Callable[..., Any], /, *, retry_for: float = RETRY_FOR_SECONDS,
                   **kwargs) -> Any:
    """``func(**kwargs)``, tried again on a new connection while the database is away.

    The caller guarantees that ``func`` is one transaction and idempotent, so a try whose
    commit was lost can be made again: the sink's services are (samples skip stored
    positions, metrics and checkpoints upsert, a heartbeat overwrites). Inside a caller's
    transaction nothing can be retried, and the error propagates at once.
    """
    deadline = time.monotonic() + retry_for
    pause = 0.25
    while True:
        try:
            return func(**kwargs)
        except LOST_CONNECTION as exc:
            left = deadline - time.monotonic()
            if connection.in_atomic_block or left <= 0:
                raise
            log.warning("writing %s failed (%s); trying again in %.1fs",
                        getattr(func, "__name__", func), str(exc).strip(), min(pause, left))
            reset_connection()
            time.sleep(min(pause, left))
            pause = min(pause * 2, MAX_BACKOFF_SECONDS)


def retrying(func: Callable[P, R]) -> Callable[P, R]:
    """``func`` through ``write_retrying``: for the reads a stage makes before it starts
    (its examples, its model, its checkpoint), which a database restart at that moment
    would otherwise turn into a failed stage (``bench/chaos.py``)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return write_retrying(functools.partial(func, *args, **kwargs))

    return wrapper


def is_main_process() -> bool:
    """False in every process but the first of a stage that ``accelerate launch`` runs
    as several (``workers.distributed``): only the main process writes to the database,
    with what TRL gathered from all of them."""
    return os.environ.get("RANK", "0") == "0"


def _ping() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def reset_connection() -> None:
    """Drop this thread's connection (Django opens a new one on the next query). A broken
    connection can fail even to close; that is what dropping it is for."""
    with contextlib.suppress(DatabaseError):
        connection.close()


class DatabaseSink:
    """Records what stage code reports, on a writer thread, in the order it came.

    The training loop only hands records over; a thread of its own writes them, so a
    step never waits for the database (``bench/grpo_overhead.py`` measures the cost).
    ``close()`` waits for the last write and re-raises a write that failed for good
    (``write_retrying`` rides out a database restart). A worker that dies loses at most
    the writes still queued, all after the latest recorded checkpoint, and a resume
    discards and redoes those steps anyway.

    When the caller holds a transaction (a test inside ``atomic``), writes join it on
    the calling thread instead: another connection could not see its rows.

    When the worker is leaving (``workers.shutdown``), ``should_stop`` answers yes (GRPO
    and SFT do not ask: they save a checkpoint and stop), and the stage code's stop
    (``StageCancelled``) leaves the ``with`` block as ``StageHandedBack``, once every
    write is stored: the stage goes back to queued.
    """

    def __init__(self, stage: Stage, example_ids: dict[str, int] | None = None) -> None:
        self.stage = stage
        self.example_ids = example_ids or {}
        self._main = is_main_process()
        self._stop_checked_at = 0.0
        self._stop = False
        self._handing_back = False
        self._first_progress: tuple[float, int] | None = None  # (when, step): the pace
        self._last_progress: tuple[float, int, int] | None = None  # (when, step, total)
        self._error: BaseException | None = None
        self._writes: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        if not connection.in_atomic_block:
            self._thread = threading.Thread(target=self._drain, name=f"sink-{stage.pk}", daemon=True)
            self._thread.start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, traceback) -> None:
        self.close()
        if exc_type is not None and issubclass(exc_type, StageCancelled) and shutdown.leaving():
            step = self._last_progress[1] if self._last_progress else 0
            raise shutdown.StageHandedBack(f"handed back at step {step}") from exc

    def samples(self, records: list[SampleRecord]) -> None:
        self._write(samples_record, stage=self.stage, records=list(records),
                    example_ids=self.example_ids)

    def metrics(self, step: int, values: dict[str, float]) -> None:
        self._write(metrics_record, stage_pk=self.stage.pk, step=step, values=dict(values))

    def progress(self, step: int, total: int) -> None:
        now = time.monotonic()
        self._first_progress = self._first_progress or (now, step)
        self._last_progress = (now, step, total)
        self._write(stage_heartbeat, stage_pk=self.stage.pk, step=step, total=total)

    def checkpoint_saved(self, step: int, path: str, keep: int | None = None) -> None:
        self._write(checkpoint_record, stage_pk=self.stage.pk, step=step, path=path)
        if keep:
            # Queued behind the record: what is deleted is never the latest recorded one.
            self._write(prune_checkpoints, path=path, keep=keep)

    def should_stop(self) -> bool:
        if self._handing_back or self._hand_back():
            return True
        # Asked every step; one query every few seconds is plenty to honour a cancel.
        now = time.monotonic()
        if now - self._stop_checked_at > 2:
            self._stop_checked_at = now
            try:
                row = Stage.objects.filter(pk=self.stage.pk).values(
                    "cancel_requested", "status", "attempt").first()
            except LOST_CONNECTION:
                if connection.in_atomic_block:
                    raise
                # The database is restarting: keep training, ask again on a new connection.
                log.warning("stage %s: cannot check for a cancel; asking again", self.stage.pk)
                reset_connection()
                return self._stop
            # Another attempt owns the stage when this worker was reaped as silent and
            # the stage resumed: this one must stop writing into it.
            self._stop = (row is None or row["cancel_requested"] or row["status"] != "running"
                          or row["attempt"] != self.stage.attempt)
        return self._stop

    def _hand_back(self) -> bool:
        """Stop for the worker leaving, unless at the pace measured so far the stage
        ends within half the time the worker has left. A stage that asks has no
        checkpoint to come back to: finishing then loses nothing, and the other half of
        the time covers writing its result."""
        if not shutdown.leaving():
            return False
        left = self._seconds_to_end()
        if left is not None and left <= shutdown.seconds_left() / 2:
            return False
        log.warning("stage %s: the worker is leaving; handing the stage back", self.stage.pk)
        self._handing_back = True
        return True

    def _seconds_to_end(self) -> float | None:
        """Time to the last step at this attempt's pace; None before it can be told."""
        if self._first_progress is None or self._last_progress is None:
            return None
        (began, first), (latest, step, total) = self._first_progress, self._last_progress
        if step >= total:
            return 0.0
        return measured(step - first, total - first, began, latest).seconds_left

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._writes.put(None)
            self._thread.join()
        self._raise_failed_write()
        if self._thread is not None:
            # The stage's outcome is written next, from this thread, whose connection a
            # database restart may have cut while the writer thread rode the restart out.
            write_retrying(_ping)

    def _write(self, func, **kwargs) -> None:
        self._raise_failed_write()
        if not self._main:
            return  # another process of a multi-process stage: the main one writes
        if self._thread is None:
            func(**kwargs)
        else:
            self._writes.put((func, kwargs))

    def _raise_failed_write(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"recording to the database failed: {self._error}") from self._error

    def _drain(self) -> None:
        try:
            closing = False
            while not closing:
                items, closing = self._gather()
                for func, kwargs in coalesce(items):
                    if self._error is None:  # after a failure, later writes would lie
                        try:
                            write_retrying(func, **kwargs)
                        except Exception as exc:  # noqa: BLE001 (kept; close() raises it)
                            self._error = exc
        finally:
            connection.close()

    def _gather(self) -> tuple[list, bool]:
        """The writes handed over in the next ``FLUSH_SECONDS`` (or until ``close()``),
        and whether ``close()`` came. Several steps' writes then cost one transaction
        and one refresh of the chart summaries instead of a few each: the database
        shares the cores with training (``bench/grpo_overhead.py``)."""
        items = [self._writes.get()]
        deadline = time.monotonic() + FLUSH_SECONDS
        while items[-1] is not None and (left := deadline - time.monotonic()) > 0:
            try:
                items.append(self._writes.get(timeout=left))
            except queue.Empty:
                break
        if items[-1] is None:
            return items[:-1], True
        return items, False


def coalesce(items: list[tuple[Callable, dict]]) -> list[tuple[Callable, dict]]:
    """Merge runs of sample, metric and progress writes into one write each, keeping
    every other write (a checkpoint) in its place: what came before a checkpoint is
    stored before it, so a resume never finds a checkpoint newer than its samples."""
    merged: list[tuple[Callable, dict]] = []
    pending: list[tuple[Callable, dict]] = []
    for func, kwargs in items:
        if func in (samples_record, metrics_record, stage_heartbeat):
            pending.append((func, kwargs))
        else:
            merged += _merged(pending)
            pending = []
            merged.append((func, kwargs))
    return merged + _merged(pending)


def _merged(pending: list[tuple[Callable, dict]]) -> list[tuple[Callable, dict]]:
    if not pending:
        return []
    merged: dict[str, Any] = {"samples": None, "points": {}, "progress": None}
    for func, kwargs in pending:
        if func is samples_record:
            if merged["samples"] is None:
                merged["samples"] = {**kwargs, "records": []}
                merged["stage_pk"] = kwargs["stage"].pk
            merged["samples"]["records"] += kwargs["records"]
        elif func is metrics_record:
            merged["stage_pk"] = kwargs["stage_pk"]
            merged["points"].setdefault(kwargs["step"], {}).update(kwargs["values"])
        else:
            merged["progress"] = kwargs  # only the latest position matters
    return [(_record_together, merged)]


@transaction.atomic
def _record_together(*, samples: dict | None, points: dict, progress: dict | None,
                     stage_pk: int | None = None) -> None:
    """One transaction for what ``coalesce`` merged; each part is idempotent, so a retry
    after a lost commit stores nothing twice. The chart summaries of the samples' and
    the metrics' steps are refreshed once, together."""
    if stage_pk is not None:
        summaries = rollups.Summaries(stage_pk)
        if samples is not None:
            samples_record(**samples, summaries=summaries)
        if points:
            metrics_record_steps(stage_pk=stage_pk, points=points, summaries=summaries)
        summaries.refresh()
    if progress is not None:
        stage_heartbeat(**progress)


class Heartbeat:
    """Beats from a thread while stage code runs, so a long model load or evaluation
    never looks like a dead worker."""

    def __init__(self, stage_pk: int) -> None:
        self.stage_pk = stage_pk
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{stage_pk}", daemon=True)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        try:
            while not self._done.wait(settings.R1WEB_HEARTBEAT_SECONDS):
                self.beat()
        finally:
            connection.close()

    def beat(self) -> None:
        """One heartbeat. A missed one is no failure: the next comes an interval later,
        and a stage is reaped only after R1WEB_STALE_AFTER_SECONDS of silence."""
        try:
            close_old_connections()
            stage_heartbeat(stage_pk=self.stage_pk)
        except DatabaseError as exc:
            log.warning("stage %s: heartbeat failed (%s)", self.stage_pk, str(exc).strip())
            reset_connection()
