"""The database side of a running stage: a ``StageSink`` that records what stage code
reports, and the heartbeat that tells everyone the worker is alive."""

from __future__ import annotations

import queue
import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

from r1web.runs.models import Stage
from r1web.runs.services import checkpoint_record, metrics_record, stage_heartbeat
from r1web.traces.services import samples_record
from workers.domain.base import SampleRecord


class DatabaseSink:
    """Records what stage code reports, on a writer thread, in the order it came.

    The training loop only hands records over; a thread of its own writes them, so a
    step never waits for the database (``bench/grpo_overhead.py`` measures the cost).
    ``close()`` waits for the last write and re-raises a write that failed. A worker
    that dies loses at most the writes still queued, all after the latest recorded
    checkpoint, and a resume discards and redoes those steps anyway.

    When the caller holds a transaction (a test inside ``atomic``), writes join it on
    the calling thread instead: another connection could not see its rows.
    """

    def __init__(self, stage: Stage, example_ids: dict[str, int] | None = None) -> None:
        self.stage = stage
        self.example_ids = example_ids or {}
        self._stop_checked_at = 0.0
        self._stop = False
        self._error: BaseException | None = None
        self._writes: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        if not connection.in_atomic_block:
            self._thread = threading.Thread(target=self._drain, name=f"sink-{stage.pk}", daemon=True)
            self._thread.start()

    def __enter__(self) -> DatabaseSink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def samples(self, records: list[SampleRecord]) -> None:
        self._write(samples_record, stage=self.stage, records=list(records),
                    example_ids=self.example_ids)

    def metrics(self, step: int, values: dict[str, float]) -> None:
        self._write(metrics_record, stage_pk=self.stage.pk, step=step, values=dict(values))

    def progress(self, step: int, total: int) -> None:
        self._write(stage_heartbeat, stage_pk=self.stage.pk, step=step, total=total)

    def checkpoint_saved(self, step: int, path: str) -> None:
        self._write(checkpoint_record, stage_pk=self.stage.pk, step=step, path=path)

    def should_stop(self) -> bool:
        # Asked every step; one query every few seconds is plenty to honour a cancel.
        now = time.monotonic()
        if now - self._stop_checked_at > 2:
            self._stop_checked_at = now
            row = Stage.objects.filter(pk=self.stage.pk).values("cancel_requested", "status").first()
            self._stop = row is None or row["cancel_requested"] or row["status"] != "running"
        return self._stop

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._writes.put(None)
            self._thread.join()
        self._raise_failed_write()

    def _write(self, func, **kwargs) -> None:
        self._raise_failed_write()
        if self._thread is None:
            func(**kwargs)
        else:
            self._writes.put((func, kwargs))

    def _raise_failed_write(self) -> None:
        if self._error is not None:
            raise RuntimeError(f"recording to the database failed: {self._error}") from self._error

    def _drain(self) -> None:
        try:
            while (item := self._writes.get()) is not None:
                func, kwargs = item
                if self._error is None:  # after a failure, later writes would lie
                    try:
                        func(**kwargs)
                    except Exception as exc:
                        self._error = exc
        finally:
            connection.close()


class Heartbeat:
    """Beats from a thread while stage code runs, so a long model load or evaluation
    never looks like a dead worker."""

    def __init__(self, stage_pk: int) -> None:
        self.stage_pk = stage_pk
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"heartbeat-{stage_pk}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=5)

    def _beat(self) -> None:
        try:
            while not self._done.wait(settings.R1WEB_HEARTBEAT_SECONDS):
                close_old_connections()
                stage_heartbeat(stage_pk=self.stage_pk)
        finally:
            connection.close()
