"""What dataset imports and exports (``imports``, ``exports``) do alike with their job
rows: queue the worker's task after commit, claim a queued job, fail a job that has not
ended. Each takes the job's model (a ``models.WorkerJob``)."""

from __future__ import annotations

import logging

from django.db import transaction
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
