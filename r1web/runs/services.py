"""Writes to runs and stages.

Every state change goes through here and checks the current state first. A stage task
is queued only after the transaction that made it queued commits.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from r1web.runs import rollups
from r1web.runs.models import FINISHED, Checkpoint, MetricPoint, Run, Stage, Status

log = logging.getLogger(__name__)


class RunError(ValueError):
    """A request about a run that cannot be done: the message is shown as is."""


def _enqueue(stage: Stage) -> None:
    from workers.tasks import run_stage

    stage_pk, queue = stage.pk, stage.queue
    transaction.on_commit(lambda: run_stage.apply_async(args=[stage_pk], queue=queue))


@transaction.atomic
def stage_queue(*, stage: Stage) -> None:
    """Queue a pending (or failed, or cancelled) stage for a worker."""
    updated = Stage.objects.filter(
        pk=stage.pk, status__in=[Status.PENDING, Status.FAILED, Status.CANCELLED]
    ).update(status=Status.QUEUED, error="", cancel_requested=False, finished_at=None)
    if not updated:
        raise RunError(f"stage {stage.name} is {stage.status}; only a stopped stage can be queued")
    Run.objects.filter(pk=stage.run_id).exclude(status=Status.RUNNING).update(
        status=Status.QUEUED, error="", finished_at=None
    )
    _enqueue(stage)


@transaction.atomic
def run_start(*, run: Run) -> None:
    first = run.stages.order_by("position").first()
    if first is None:
        raise RunError("a run needs at least one stage")
    stage_queue(stage=first)


def stage_claim(*, stage_pk: int, worker: str) -> Stage | None:
    """Take a queued stage, or a running one whose worker went silent.

    The conditional update makes this safe when the broker delivers the task twice:
    only one caller sees a row updated. Returns None to every other caller.
    """
    now = timezone.now()
    stale_before = now - timezone.timedelta(seconds=_stale_seconds())
    claimable = Q(status=Status.QUEUED) | Q(status=Status.RUNNING, heartbeat_at__lt=stale_before)
    with transaction.atomic():
        won = Stage.objects.filter(claimable, pk=stage_pk).update(
            status=Status.RUNNING,
            worker=worker,
            heartbeat_at=now,
            started_at=now,
            attempt=F("attempt") + 1,
            error="",
            resumable=False,
        )
        if not won:
            return None
        stage = Stage.objects.select_related("run").get(pk=stage_pk)
        Run.objects.filter(pk=stage.run_id).update(
            status=Status.RUNNING, started_at=stage.run.started_at or now
        )
        _discard_unfinished_work(stage)
    return stage


def _discard_unfinished_work(stage: Stage) -> None:
    """On a second attempt, drop what was recorded after the checkpoint it resumes from.

    Those steps will be trained and sampled again; keeping the old rows would show two
    different completions for one (step, group, index).
    """
    if stage.attempt <= 1:
        return
    checkpoint = stage.latest_checkpoint()
    after = checkpoint.step if checkpoint else -1
    stage.samples.filter(step__gt=after).delete()
    stage.metric_points.filter(step__gt=after).delete()
    rollups.discard_after(stage_pk=stage.pk, step=after)
    Stage.objects.filter(pk=stage.pk).update(step=max(after, 0))


def _stale_seconds() -> int:
    from django.conf import settings

    return settings.R1WEB_STALE_AFTER_SECONDS


def stage_heartbeat(*, stage_pk: int, step: int | None = None, total: int | None = None) -> bool:
    """Record that the worker is alive (and how far it got). False if it lost the stage."""
    fields: dict = {"heartbeat_at": timezone.now()}
    if step is not None:
        fields["step"] = step
    if total is not None:
        fields["total_steps"] = total
    return bool(Stage.objects.filter(pk=stage_pk, status=Status.RUNNING).update(**fields))


@transaction.atomic
def checkpoint_record(*, stage_pk: int, step: int, path: str, final: bool = False) -> Checkpoint:
    stage = Stage.objects.select_related("run").get(pk=stage_pk)
    name = f"{stage.run.name} / {stage.name} " + ("final" if final else f"step {step}")
    checkpoint, _ = Checkpoint.objects.update_or_create(
        path=path, defaults={"name": name, "produced_by": stage, "step": step}
    )
    if final:
        Stage.objects.filter(pk=stage_pk).update(output_checkpoint=checkpoint)
    return checkpoint


@transaction.atomic
def stage_succeed(*, stage_pk: int, result: dict | None = None) -> None:
    """Mark a running stage done and queue the next one of its run, if any."""
    now = timezone.now()
    stage = Stage.objects.select_for_update().select_related("run").get(pk=stage_pk)
    if stage.status != Status.RUNNING:
        raise RunError(f"stage {stage.pk} is {stage.status}, not running")
    stage.status, stage.finished_at, stage.result = Status.SUCCEEDED, now, result or {}
    stage.step = max(stage.step, stage.total_steps)
    stage.save(update_fields=["status", "finished_at", "result", "step"])
    following = stage.run.stages.filter(position__gt=stage.position, status=Status.PENDING)
    next_stage = following.order_by("position").first()
    if next_stage is None:
        Run.objects.filter(pk=stage.run_id).update(status=Status.SUCCEEDED, finished_at=now)
    else:
        stage_queue(stage=next_stage)


@transaction.atomic
def stage_fail(*, stage_pk: int, error: str, resumable: bool = False, cancelled: bool = False) -> None:
    now = timezone.now()
    status = Status.CANCELLED if cancelled else Status.FAILED
    updated = Stage.objects.filter(pk=stage_pk).exclude(status__in=FINISHED).update(
        status=status, error=error[:5000], resumable=resumable, finished_at=now
    )
    if updated:
        stage = Stage.objects.get(pk=stage_pk)
        Run.objects.filter(pk=stage.run_id).update(status=status, error=error[:5000], finished_at=now)


def stages_reap_stale() -> int:
    """Fail every running stage whose worker stopped writing heartbeats.

    Called by workers at start-up, by the web pages that show stages and by
    ``run_recipe --wait``, so a dead worker never leaves a stage "running" forever. The
    stage stays resumable from its last checkpoint.
    """
    stale_before = timezone.now() - timezone.timedelta(seconds=_stale_seconds())
    reaped = 0
    for stage in Stage.objects.filter(status=Status.RUNNING, heartbeat_at__lt=stale_before):
        message = f"worker {stage.worker or '?'} stopped responding at step {stage.step}"
        stage_fail(stage_pk=stage.pk, error=message, resumable=True)
        log.warning("stage %s: %s", stage.pk, message)
        reaped += 1
    return reaped


@transaction.atomic
def run_cancel(*, run: Run) -> None:
    if run.is_finished():
        raise RunError(f"run {run.pk} has already {run.status}")
    now = timezone.now()
    # A running stage is told to stop and ends itself at its next step.
    run.stages.filter(status=Status.RUNNING).update(cancel_requested=True)
    run.stages.filter(status__in=[Status.PENDING, Status.QUEUED]).update(
        status=Status.CANCELLED, finished_at=now
    )
    if not run.stages.filter(status=Status.RUNNING).exists():
        Run.objects.filter(pk=run.pk).update(status=Status.CANCELLED, finished_at=now)


@transaction.atomic
def run_resume(*, run: Run) -> Stage:
    """Queue again the first stage of a failed or cancelled run that did not succeed."""
    stages_reap_stale()
    run.refresh_from_db()
    if run.status not in (Status.FAILED, Status.CANCELLED):
        raise RunError(f"run {run.pk} is {run.status}; only a failed or cancelled run can resume")
    stage = run.stages.exclude(status=Status.SUCCEEDED).order_by("position").first()
    if stage is None:
        raise RunError(f"run {run.pk} has no stage left to run")
    run.stages.filter(position__gt=stage.position, status=Status.CANCELLED).update(
        status=Status.PENDING, finished_at=None
    )
    stage_queue(stage=stage)
    return stage


@transaction.atomic
def metrics_record(*, stage_pk: int, step: int, values: dict[str, float]) -> None:
    """Store logged metrics; a key logged twice at one step keeps the last value."""
    rows = [
        MetricPoint(stage_id=stage_pk, step=step, key=key[:200], value=float(value))
        for key, value in values.items()
        if _is_number(value)
    ]
    MetricPoint.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["stage", "key", "step"], update_fields=["value"]
    )
    if rows:  # the chart summaries of this step's blocks
        rollups.refresh(stage_pk=stage_pk, keys=[r.key for r in rows], first_step=step, last_step=step)


def _is_number(value) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return number == number and abs(number) != float("inf")
