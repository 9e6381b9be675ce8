"""Why a queued stage has not started (a busy worker, older runs ahead of it, or no
worker listening at all), and which running stage lost its worker: what
``run_recipe --wait`` prints and what the run and stage pages say.

All of it is read from the database: a running stage's heartbeat says its worker is
alive, and each worker's own row says which queues it consumes (``presence``). Pages
compute it on every poll and never write: a lost stage is failed by a worker's reaper,
or by the resume that a page offers.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.utils import timezone

from r1domain.progress import Progress, duration, measured
from r1web.runs.models import Run, Stage, StageKind, Status
from r1web.runs.presence import listening_workers

AHEAD_NAMED = 3  # older runs named one by one; more are counted

Ping = Callable[[str], list[str]]


@dataclass(frozen=True)
class QueueState:
    stage: Stage
    busy: list[Stage]  # stages running on the queue (this run's too), alive
    ahead: int  # other runs' queued stages the workers take first (older runs)
    ahead_runs: list[Run]  # the first of those runs, oldest first
    workers: list[str] | None  # who listens on the queue (None: not asked, it is busy)

    def explain(self, start_hint: str = "") -> str:
        """Why the stage waits, in one sentence; ``start_hint`` follows the command that
        starts a missing worker (the CLI offers its --start-worker)."""
        queue = self.stage.queue
        if self.busy:
            running = "; ".join(_describe(stage, self.stage.run_id) for stage in self.busy)
            tail = f", and {self._ahead_text()} wait before it" if self.ahead else ""
            return (
                f"the worker on queue {queue} is busy with {running}; "
                f"{self.stage.name} starts after it{tail}"
            )
        if not self.workers:
            return (
                f"no worker is listening on queue {queue}: start one "
                f"(celery -A r1web worker -Q {queue}){start_hint}"
            )
        if self.ahead:
            return f"{self._ahead_text()} are queued ahead on {queue}"
        return (
            f"worker {', '.join(self.workers)} listens on queue {queue} "
            "but has not taken the stage yet"
        )

    def _ahead_text(self) -> str:
        runs = ", ".join(_run_name(run) for run in self.ahead_runs)
        return f"{self.ahead} stage(s) of older runs ({runs})"


def _run_name(run: Run) -> str:
    return f"run #{run.pk} {run.name!r}"


def _describe(stage: Stage, own_run: int) -> str:
    """Another run's stage with its progress (the rate measured since it started); this
    run's own stage by name, since its progress is shown already."""
    if stage.run_id == own_run:
        return f"this run's {stage.name}"
    return f"{_run_name(stage.run)} ({stage.name}, {stage_progress(stage)})"


def progress_unit(stage: Stage) -> str:
    """What a stage's step counts: an evaluation reports problems done."""
    return "problem" if stage.kind == StageKind.EVAL else "step"


def stage_progress(stage: Stage) -> Progress:
    """A stage's step of total, at the rate measured from its start to its heartbeat."""
    return measured(
        stage.step, stage.total_steps, stage.started_at, stage.heartbeat_at, progress_unit(stage)
    )


def queue_state(stage: Stage, *, ping: Ping = listening_workers) -> QueueState:
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
    )
    count = ahead.count()
    runs = Run.objects.filter(pk__in=ahead.values("run_id")).order_by("created_at", "pk")
    ahead_runs = list(runs.only("pk", "name")[:AHEAD_NAMED]) if count else []
    return QueueState(stage, busy, count, ahead_runs, None if busy else ping(stage.queue))


# --- what the run and stage pages say ---------------------------------------------------

@dataclass(frozen=True)
class Notice:
    """A line under a stage's status: why it waits, or that its worker is lost."""

    stage: Stage
    text: str
    lost: bool = False  # its worker stopped beating: the page offers Resume


@dataclass(frozen=True)
class Notices:
    items: list[Notice]

    @property
    def any_lost(self) -> bool:
        return any(notice.lost for notice in self.items)


def stage_notices(stages: Iterable[Stage], *, ping: Ping = listening_workers) -> Notices:
    """The notices of a page's queued and lost stages, the workers of each queue asked
    once. No query for a stage that is neither."""
    ping = functools.cache(ping)
    notices = []
    for stage in stages:
        if stage.is_stale():
            notices.append(Notice(stage, lost_text(stage), lost=True))
        elif stage.status == Status.QUEUED:
            reason = queue_state(stage, ping=ping).explain()
            notices.append(Notice(stage, f"{stage.name} is queued: {reason}"))
    return Notices(notices)


def lost_text(stage: Stage) -> str:
    silent = (timezone.now() - stage.heartbeat_at).total_seconds()
    checkpoint = stage.latest_checkpoint()
    resume = (f"continues from its checkpoint at step {checkpoint.step}" if checkpoint
              else "starts it over: it has no checkpoint")
    return (
        f"{stage.name} lost its worker {stage.worker or '?'}: no heartbeat for "
        f"{duration(silent)}, over the {duration(settings.R1WEB_STALE_AFTER_SECONDS)} limit. "
        f"Resume {resume}."
    )
