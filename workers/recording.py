"""The database side of a running stage: a ``StageSink`` that records what stage code
reports, and the heartbeat that tells everyone the worker is alive."""

from __future__ import annotations

import threading
import time

from django.conf import settings
from django.db import close_old_connections, connection

from r1web.runs.models import Stage
from r1web.runs.services import checkpoint_record, metrics_record, stage_heartbeat
from r1web.traces.services import samples_record
from workers.stages.base import SampleRecord


class DatabaseSink:
    """Writes samples and metrics as they come, in one batch per call."""

    def __init__(self, stage: Stage, example_ids: dict[str, int] | None = None) -> None:
        self.stage = stage
        self.example_ids = example_ids or {}
        self._stop_checked_at = 0.0
        self._stop = False

    def samples(self, records: list[SampleRecord]) -> None:
        samples_record(stage=self.stage, records=records, example_ids=self.example_ids)

    def metrics(self, step: int, values: dict[str, float]) -> None:
        metrics_record(stage_pk=self.stage.pk, step=step, values=values)

    def progress(self, step: int, total: int) -> None:
        stage_heartbeat(stage_pk=self.stage.pk, step=step, total=total)

    def checkpoint_saved(self, step: int, path: str) -> None:
        checkpoint_record(stage_pk=self.stage.pk, step=step, path=path)

    def should_stop(self) -> bool:
        # Asked every step; one query every few seconds is plenty to honour a cancel.
        now = time.monotonic()
        if now - self._stop_checked_at > 2:
            self._stop_checked_at = now
            row = Stage.objects.filter(pk=self.stage.pk).values("cancel_requested", "status").first()
            self._stop = row is None or row["cancel_requested"] or row["status"] != "running"
        return self._stop


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
