"""Why a queued stage has not started: a busy worker, older runs ahead of it, or no
worker listening at all (``run_recipe --wait`` says which).

Busy and ahead come from the database (a running stage's heartbeat says its worker is
alive); whether anyone listens on the queue comes from Celery's broadcast to workers,
with a short timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from r1domain.progress import Progress, measured
from r1web.runs.models import Stage, StageKind, Status

log = logging.getLogger(__name__)

PING_SECONDS = 1.0


def listening_workers(queue: str, timeout: float = PING_SECONDS) -> list[str] | None:
    """Names of the workers that answer and consume ``queue``; None when the broker
    cannot be asked (then nobody can say whether a worker is missing)."""
    from r1web.celery import app

    try:
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
    except Exception:  # broker down or unreachable: say so rather than guess
        log.warning("could not ask the workers which queues they consume", exc_info=True)
        return None
    return sorted(
        name
        for name, queues in replies.items()
        if any(q.get("name") == queue for q in queues or [])
    )


@dataclass(frozen=True)
class QueueState:
    stage: Stage
    busy: list[Stage]  # stages running on the queue (this run's too), alive
    ahead: int  # other runs' queued stages the workers take first (older runs)
    workers: list[str] | None  # who listens on the queue (None: could not ask)

    def explain(self) -> str:
        queue = self.stage.queue
        if self.busy:
            running = "; ".join(_describe(stage, self.stage.run_id) for stage in self.busy)
            tail = f", and {self.ahead} stage(s) of older runs wait before it" if self.ahead else ""
            return (
                f"the worker on queue {queue} is busy with {running}; "
                f"{self.stage.name} starts after it{tail}"
            )
        if self.workers == []:
            return (
                f"no worker is listening on queue {queue}: start one "
                f"(celery -A r1web worker -Q {queue}) or pass --start-worker"
            )
        if self.ahead:
            return f"{self.ahead} stage(s) of older runs are queued ahead on {queue}"
        if self.workers is None:
            return f"could not ask the broker which workers listen on queue {queue}"
        return (
            f"worker {', '.join(self.workers)} listens on queue {queue} "
            "but has not taken the stage yet"
        )


def _describe(stage: Stage, own_run: int) -> str:
    """Another run's stage with its progress (the rate measured since it started); this
    run's own stage by name, since its progress is shown already."""
    if stage.run_id == own_run:
        return f"this run's {stage.name}"
    progress = stage_progress(stage)
    return f"run #{stage.run_id} {stage.run.name!r} ({stage.name}, {progress})"


def progress_unit(stage: Stage) -> str:
    """What a stage's step counts: an evaluation reports problems done."""
    return "problem" if stage.kind == StageKind.EVAL else "step"


def stage_progress(stage: Stage) -> Progress:
    """A stage's step of total, at the rate measured from its start to its heartbeat."""
    return measured(
        stage.step, stage.total_steps, stage.started_at, stage.heartbeat_at, progress_unit(stage)
    )


def queue_state(stage: Stage, *, ping=listening_workers) -> QueueState:
    """What stands between a queued ``stage`` and a worker."""
    alive_after = timezone.now() - timezone.timedelta(seconds=settings.R1WEB_STALE_AFTER_SECONDS)
    on_queue = Stage.objects.filter(queue=stage.queue)
    busy = list(
        on_queue.filter(status=Status.RUNNING, heartbeat_at__gte=alive_after)
        .select_related("run")
        .order_by("started_at")[:3]
    )
    ahead = (
        on_queue.filter(status=Status.QUEUED, run__created_at__lt=stage.run.created_at)
        .exclude(run_id=stage.run_id)
        .count()
    )
    return QueueState(stage, busy, ahead, None if busy else ping(stage.queue))
