"""What worker jobs (dataset imports and exports, ``imports``, ``exports``; rollout
imports, ``r1web.ingest.imports``) do alike with their rows: queue the worker's task
after commit, claim a queued job, fail a job that has not ended, write its progress
while its transaction is open, sweep the files no job owns. Each takes the job's model
(a ``models.WorkerJob``)."""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from django.utils import timezone

from r1web.datasets.models import WorkerJob

log = logging.getLogger(__name__)


def queue_after_commit(model: type[WorkerJob], task: str, job_pk: int, queue: str) -> None:
    """Send ``task`` for the job once the transaction that made it commits."""
    transaction.on_commit(lambda: _send(model, task, job_pk, queue))


def _send(model: type[WorkerJob], task: str, job_pk: int, queue: str) -> None:
    from r1web.celery import app  # sent by name: the web process never imports workers

    try:
        app.send_task(task, args=[job_pk], queue=queue)
    except Exception as exc:
        log.exception("%s %s: could not queue", model._meta.verbose_name, job_pk)
        fail(model, job_pk, f"the {model._meta.verbose_name} could not be queued ({type(exc).__name__}); try again",
             statuses=[model.Status.QUEUED])


def claim(model: type[WorkerJob], job_pk: int, status: str) -> bool:
    """Move a queued job to ``status`` for this worker; False if another claimed it (a
    redelivered task) or it ended meanwhile."""
    now = timezone.now()
    return bool(model.objects.filter(pk=job_pk, status=model.Status.QUEUED).update(
        status=status, started_at=now, heartbeat_at=now
    ))


def fail(model: type[WorkerJob], job_pk: int, error: str, *, statuses, **conditions) -> bool:
    """Mark a job failed unless it already ended; True if this call did it."""
    return bool(
        model.objects.filter(pk=job_pk, status__in=statuses, **conditions).update(
            status=model.Status.FAILED, error=error[:5000], finished_at=timezone.now()
        )
    )


class SideWriter:
    """Writes to one job row through a database connection of its own, so the page that
    polls the row sees the progress while the worker's transaction (whose rows stay
    unseen until it commits) is still open. PostgreSQL only: SQLite takes one writer at
    a time, so there ``update`` writes nothing."""

    def __init__(self, model: type[WorkerJob], job_pk: int) -> None:
        self.table = model._meta.db_table
        self.pk = job_pk
        self._connection = None

    def update(self, status: str, **fields) -> None:
        """Set ``fields`` if the job is still in ``status``."""
        if connection.vendor == "sqlite":
            return
        if self._connection is None:
            self._connection = connections.create_connection(DEFAULT_DB_ALIAS)
        quote = self._connection.ops.quote_name
        columns = ", ".join(f"{quote(column)} = %s" for column in fields)
        with self._connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {quote(self.table)} SET {columns} WHERE id = %s AND status = %s",
                [*fields.values(), self.pk, str(status)],
            )

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def sweep_files(folder: Path, owned: set[str], older_than: timedelta) -> int:
    """Remove the files of ``folder`` that no live job owns (``owned``: their paths) and
    that nothing has written to for ``older_than``. Returns how many were removed."""
    cutoff = time.time() - older_than.total_seconds()
    removed = 0
    for entry in folder.iterdir():
        try:
            if entry.is_file() and str(entry) not in owned and entry.stat().st_mtime < cutoff:
                entry.unlink()
                removed += 1
        except FileNotFoundError:  # another process swept it first
            continue
    return removed
