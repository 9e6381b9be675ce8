"""Writes to runs and stages.

Every state change goes through here and checks the current state first. A stage task
is queued only after the transaction that made it queued commits.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from pathlib import Path

from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from r1domain.errors import R1WebError
from r1domain.stage_params import EvalParams
from r1web.audit.models import Action
from r1web.audit.services import audit_record
from r1web.runs import rollups
from r1web.runs.models import (
    FINISHED,
    Checkpoint,
    MetricPoint,
    Recipe,
    Run,
    Stage,
    StageKind,
    Status,
    stage_parameters,
)

log = logging.getLogger(__name__)


class RunError(R1WebError):
    """A request about a run that cannot be done: the message is shown as is."""


RUN_STAGE_TASK = "r1web.run_stage"  # workers.tasks.run_stage


def _enqueue(stage: Stage) -> None:
    # Sent by name: the web process never imports the worker's code (or torch with it).
    from r1web.celery import app

    stage_pk, queue = stage.pk, stage.queue
    transaction.on_commit(lambda: app.send_task(RUN_STAGE_TASK, args=[stage_pk], queue=queue))


@transaction.atomic
def stage_queue(*, stage: Stage) -> None:
    """Queue a pending (or failed, or cancelled) stage whose needs have all succeeded.

    Its inputs are pinned first: the model and dataset versions that earlier stages
    produced become this stage's concrete inputs. An evaluation that was already
    computed on the same model, data and settings is reused instead of queued.
    """
    stage = Stage.objects.select_for_update().get(pk=stage.pk)
    if stage.status not in (Status.PENDING, Status.FAILED, Status.CANCELLED):
        raise RunError(f"stage {stage.name} is {stage.status}; only a stopped stage can be queued")
    waiting = stage.waiting_on()
    if waiting is not None:
        raise RunError(f"stage {stage.name} is waiting on stage {waiting.name}")
    _pin_inputs(stage)
    if _reuse_evaluation(stage):
        return
    Stage.objects.filter(pk=stage.pk).update(
        status=Status.QUEUED, error="", cancel_requested=False, finished_at=None
    )
    run_refresh(run=stage.run)
    _enqueue(stage)


def _pin_inputs(stage: Stage) -> None:
    source = stage.input_from
    if source is not None and stage.input_checkpoint_id is None:
        if source.output_checkpoint_id is None:
            raise RunError(f"stage {stage.name}: stage {source.name} produced no model")
        stage.input_checkpoint_id = source.output_checkpoint_id
        Stage.objects.filter(pk=stage.pk).update(input_checkpoint=source.output_checkpoint_id)
    for link in stage.inputs.filter(version__isnull=True).select_related("from_stage"):
        output = link.from_stage.outputs.order_by("-pk").first() if link.from_stage else None
        if output is None:
            name = link.from_stage.name if link.from_stage else "?"
            raise RunError(f"stage {stage.name}: stage {name} produced no dataset")
        link.version = output
        link.save(update_fields=["version"])


def _reuse_evaluation(stage: Stage) -> bool:
    if stage.kind != StageKind.EVAL:
        return False
    key = eval_cache_key(stage)
    earlier = (
        Stage.objects.filter(cache_key=key, status=Status.SUCCEEDED, reused_from__isnull=True)
        .exclude(pk=stage.pk)
        .order_by("pk")
        .first()
    )
    Stage.objects.filter(pk=stage.pk).update(cache_key=key)
    if earlier is None:
        return False
    now = timezone.now()
    Stage.objects.filter(pk=stage.pk).update(
        status=Status.SUCCEEDED, reused_from=earlier, result=earlier.result, error="",
        step=earlier.total_steps, total_steps=earlier.total_steps, started_at=now,
        finished_at=now, resumable=False,
    )
    log.info("stage %s reuses the evaluation of stage %s", stage.pk, earlier.pk)
    run_schedule(run=stage.run)
    return True


def eval_cache_key(stage: Stage) -> str:
    """What makes two evaluations the same: the model (its path and the files there),
    the dataset versions and roles, and every setting but the display label (defaults
    included: a setting left at its default equals the same value set)."""
    checkpoint = stage.input_checkpoint
    inputs = sorted(stage.inputs.values_list("role", "version_id"))
    params = stage_parameters(stage, EvalParams).identity()
    identity = {
        "kind": stage.kind,
        "model": checkpoint.path if checkpoint else None,
        "files": _model_fingerprint(checkpoint.path) if checkpoint else None,
        "inputs": inputs,
        "params": params,
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _model_fingerprint(path: str) -> list:
    """Sizes and times of the model's files: a rebuilt model at the same path is new."""
    folder = Path(path)
    if not folder.is_dir():
        return []
    return sorted(
        (f.name, f.stat().st_size, int(f.stat().st_mtime))
        for f in folder.iterdir()
        if f.is_file() and f.suffix in (".json", ".safetensors", ".bin")
    )


@transaction.atomic
def run_schedule(*, run: Run) -> list[Stage]:
    """Queue every pending stage of ``run`` whose needs have all succeeded."""
    queued = []
    for stage in run.stages.filter(status=Status.PENDING).order_by("position"):
        stage.refresh_from_db(fields=["status"])
        if stage.status == Status.PENDING and stage.waiting_on() is None:
            stage_queue(stage=stage)
            queued.append(stage)
    run_refresh(run=run)
    return queued


@transaction.atomic
def run_start(*, run: Run) -> None:
    if not run.stages.exists():
        raise RunError("a run needs at least one stage")
    run_schedule(run=run)
    if not run.stages.exclude(status=Status.PENDING).exists():
        raise RunError("no stage of this run can start: every stage waits on another")


def run_refresh(*, run: Run) -> str:
    """Derive the run's status from its stages' (the stages are the truth)."""
    statuses = set(run.stages.values_list("status", flat=True))
    now = timezone.now()
    fields: dict = {}
    if Status.RUNNING in statuses:
        fields["status"] = Status.RUNNING
    elif Status.QUEUED in statuses:
        started = Run.objects.filter(pk=run.pk, started_at__isnull=False).exists()
        fields["status"] = Status.RUNNING if started else Status.QUEUED
    elif statuses <= {Status.SUCCEEDED}:
        fields["status"] = Status.SUCCEEDED
    elif Status.FAILED in statuses:
        fields["status"] = Status.FAILED
    elif Status.CANCELLED in statuses:
        fields["status"] = Status.CANCELLED
    else:
        fields["status"] = Status.PENDING
    finished = fields["status"] in FINISHED
    fields["finished_at"] = now if finished else None
    failed = run.stages.filter(status=Status.FAILED).order_by("position").first()
    fields["error"] = f"{failed.name}: {failed.error}"[:5000] if failed else ""
    Run.objects.filter(pk=run.pk).update(**fields)
    return fields["status"]


def stage_claim(*, stage_pk: int, worker: str) -> Stage | None:
    """Take the stage this task was sent for, or an older run's queued stage first.

    Every queued stage has exactly one task in the broker, so a task may run whichever
    stage is oldest on its queue: a run's next stage then goes ahead of the stages of
    runs launched later. The conditional update makes this safe when the broker
    delivers a task twice: only one caller sees a row updated. Returns None when there
    is nothing left to run.
    """
    queue = Stage.objects.filter(pk=stage_pk).values_list("queue", flat=True).first()
    if queue is None:
        return None
    oldest = (
        Stage.objects.filter(queue=queue, status=Status.QUEUED)
        .order_by("run__created_at", "run_id", "position")
        .values_list("pk", flat=True)[:20]
    )
    for pk in [stage_pk, *oldest] if _is_stale(stage_pk) else oldest:
        stage = _claim_one(pk, worker)
        if stage is not None:
            return stage
    return None


def _is_stale(stage_pk: int) -> bool:
    stale_before = timezone.now() - timezone.timedelta(seconds=_stale_seconds())
    return Stage.objects.filter(
        pk=stage_pk, status=Status.RUNNING, heartbeat_at__lt=stale_before
    ).exists()


def _claim_one(stage_pk: int, worker: str) -> Stage | None:
    """Take one queued stage, or a running one whose worker went silent."""
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
            status=Status.RUNNING, started_at=stage.run.started_at or now,
            finished_at=None, error="",
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
    checkpoint = stage.resume_checkpoint()
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
def checkpoint_record(
    *, stage_pk: int, step: int, path: str, final: bool = False, role: str = Checkpoint.Role.POLICY
) -> Checkpoint:
    stage = Stage.objects.select_related("run").get(pk=stage_pk)
    name = f"{stage.run.name} / {stage.name} " + ("final" if final else f"step {step}")
    checkpoint, _ = Checkpoint.objects.update_or_create(
        path=path, defaults={"name": name, "produced_by": stage, "step": step, "role": role}
    )
    if final:
        Stage.objects.filter(pk=stage_pk).update(output_checkpoint=checkpoint)
    return checkpoint


@transaction.atomic
def stage_succeed(
    *, stage_pk: int, result: dict | None = None, attempt: int | None = None
) -> None:
    """Mark a running stage done and queue every stage that was waiting only on it.
    With ``attempt``, only that attempt may succeed (see ``stage_fail``); told again that
    it succeeded (a worker retrying a write whose commit it did not see), it is done."""
    now = timezone.now()
    stage = Stage.objects.select_for_update().select_related("run").get(pk=stage_pk)
    if attempt is not None and (stage.status, stage.attempt) == (Status.SUCCEEDED, attempt):
        return
    if stage.status != Status.RUNNING:
        raise RunError(f"stage {stage.pk} is {stage.status}, not running")
    if attempt not in (None, stage.attempt):
        raise RunError(f"stage {stage.pk} runs attempt {stage.attempt}, not {attempt}")
    stage.status, stage.finished_at, stage.result = Status.SUCCEEDED, now, result or {}
    stage.step = max(stage.step, stage.total_steps)
    stage.save(update_fields=["status", "finished_at", "result", "step"])
    try:
        run_schedule(run=stage.run)
    except RunError as exc:
        # A dependent whose input is missing fails with the reason, visibly.
        log.warning("run %s: %s", stage.run_id, exc)
        _fail_blocked(stage.run, str(exc))


def _fail_blocked(run: Run, error: str) -> None:
    for stage in run.stages.filter(status=Status.PENDING).order_by("position"):
        if stage.waiting_on() is None:
            stage_fail(stage_pk=stage.pk, error=error)
            return


@transaction.atomic
def stage_fail(
    *, stage_pk: int, error: str, resumable: bool = False, cancelled: bool = False,
    attempt: int | None = None,
) -> None:
    """Stop a stage; the stages that need it stay pending ("waiting on") until a resume.

    A worker reporting on the attempt it claimed passes ``attempt``: then only that
    attempt, still running, is stopped. A worker that lost its stage (reaped as silent,
    then resumed) must not stop the queued or running attempt that replaced it.
    """
    now = timezone.now()
    status = Status.CANCELLED if cancelled else Status.FAILED
    stages = Stage.objects.filter(pk=stage_pk).exclude(status__in=FINISHED)
    if attempt is not None:
        stages = stages.filter(status=Status.RUNNING, attempt=attempt)
    updated = stages.update(
        status=status, error=error[:5000], resumable=resumable, finished_at=now
    )
    if updated:
        run_refresh(run=Stage.objects.get(pk=stage_pk).run)


@transaction.atomic
def stage_hand_back(*, stage_pk: int, attempt: int) -> bool:
    """Queue a running stage again because its worker is leaving (``workers.shutdown``):
    the next worker to claim it continues from its latest checkpoint, and the work
    recorded after that checkpoint is dropped then (``_discard_unfinished_work``).

    The caller guarantees that ``attempt`` has stopped writing. Only that attempt, still
    running, goes back; one whose cancel was asked meanwhile is cancelled instead.
    Returns whether the stage was queued again.
    """
    stage = (Stage.objects.select_for_update().select_related("run")
             .filter(pk=stage_pk, status=Status.RUNNING, attempt=attempt).first())
    if stage is None:
        return False
    if stage.cancel_requested:
        stage_fail(stage_pk=stage_pk, error="cancelled", cancelled=True, resumable=True,
                   attempt=attempt)
        return False
    Stage.objects.filter(pk=stage_pk).update(status=Status.QUEUED, worker="")
    run_refresh(run=stage.run)
    _enqueue(stage)
    log.info("stage %s handed back at step %s: its worker is leaving", stage_pk, stage.step)
    return True


def stages_requeue_queued() -> int:
    """Send the task of every queued stage again; called when a worker starts.

    A worker killed after the broker handed it a stage's task, and before it claimed the
    stage, took the task with it: Redis gives an unacknowledged task back only after its
    visibility timeout (an hour), and until then the stage stays queued with no task
    (``bench/chaos.py``). The worker that replaces it sends them again. A second task for
    a stage that still has one costs nothing: whichever comes second finds it claimed
    (``stage_claim`` is a conditional update) and ends.
    """
    stages = list(Stage.objects.filter(status=Status.QUEUED).only("pk", "queue"))
    for stage in stages:
        _enqueue(stage)
    return len(stages)


def stages_reap_stale() -> int:
    """Fail every running stage whose worker stopped writing heartbeats.

    Called by every worker (at start-up, then every heartbeat interval: see
    ``workers.tasks``), by ``run_recipe --wait`` and by a resume, so a dead worker never
    leaves a stage "running" forever; never by a page (no writes on GET). The stage stays
    resumable from its last checkpoint.
    """
    reaped = 0
    for stage in Stage.objects.filter(Stage.lost_filter()):
        message = f"worker {stage.worker or '?'} stopped responding at step {stage.step}"
        stage_fail(stage_pk=stage.pk, error=message, resumable=True, attempt=stage.attempt)
        log.warning("stage %s: %s", stage.pk, message)
        reaped += 1
    return reaped


@transaction.atomic
def run_cancel(*, run: Run, acting_user=None) -> None:
    if run.is_finished():
        raise RunError(f"run {run.pk} has already {run.status}")
    now = timezone.now()
    # A running stage is told to stop and ends itself at its next step.
    run.stages.filter(status=Status.RUNNING).update(cancel_requested=True)
    run.stages.filter(status__in=[Status.PENDING, Status.QUEUED]).update(
        status=Status.CANCELLED, finished_at=now
    )
    run_refresh(run=run)
    audit_record(actor=acting_user, action=Action.RUN_CANCEL, target=run)


@transaction.atomic
def run_resume(*, run: Run, acting_user=None) -> Stage:
    """Restart the failed or cancelled stages of a run; the stages waiting on them
    follow. A stage with a checkpoint continues from it."""
    stages_reap_stale()
    run.refresh_from_db()
    if run.recipe == Recipe.EXTERNAL:
        raise RunError(f"run {run.pk} is trained by its own script: restart the script to "
                       "continue it")
    stopped = run.stages.filter(status__in=[Status.FAILED, Status.CANCELLED])
    if run.status == Status.SUCCEEDED or not stopped.exists():
        # Other branches of a graph may still be running: what resumes is what stopped.
        raise RunError(f"run {run.pk} is {run.status} and has no failed or cancelled stage "
                       "to resume")
    stopped.update(status=Status.PENDING, finished_at=None, cancel_requested=False)
    queued = run_schedule(run=run)
    if not queued:
        raise RunError(f"run {run.pk}: no stage is ready to run")
    audit_record(actor=acting_user, action=Action.RUN_RESUME, target=run,
                 detail={"stage": queued[0].name})
    return queued[0]


def metrics_record(*, stage_pk: int, step: int, values: dict[str, float]) -> None:
    """Store logged metrics; a key logged twice at one step keeps the last value."""
    metrics_record_steps(stage_pk=stage_pk, points={step: values})


@transaction.atomic(savepoint=False)  # one upsert: nothing to undo apart from its caller
def metrics_record_steps(*, stage_pk: int, points: dict[int, dict[str, float]],
                         summaries: rollups.Summaries | None = None) -> None:
    """Store the metrics of several steps ({step: {key: value}}) in one go: one upsert
    and one refresh of the chart summaries over the steps' range (now, or with the
    caller's ``summaries``)."""
    rows = [
        MetricPoint(stage_id=stage_pk, step=step, key=key[:200], value=float(value))
        for step, values in points.items()
        for key, value in values.items()
        if _is_number(value)
    ]
    MetricPoint.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["stage", "key", "step"], update_fields=["value"]
    )
    if rows:
        steps = [row.step for row in rows]
        with rollups.summaries_of(stage_pk, summaries) as touched:
            touched.wrote({row.key for row in rows}, min(steps), max(steps))


def _is_number(value) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number)
