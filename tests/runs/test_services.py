"""Stage state changes: claims, chaining, cancellation, the reaper, metric storage."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from r1web.runs.models import MetricPoint, Stage, StageKind
from r1web.runs.services import (
    RunError,
    metrics_record,
    run_cancel,
    run_resume,
    stage_claim,
    stage_fail,
    stage_succeed,
    stages_reap_stale,
)
from r1web.traces.models import Sample

pytestmark = pytest.mark.django_db


def test_only_one_of_two_deliveries_of_a_task_claims_the_stage(make_run):
    stage = make_run(status="queued")
    assert stage_claim(stage_pk=stage.pk, worker="w1") is not None
    assert stage_claim(stage_pk=stage.pk, worker="w2") is None
    stage.refresh_from_db()
    assert (stage.status, stage.worker, stage.attempt) == ("running", "w1", 1)


def test_a_finished_stage_queues_the_next_one_and_the_last_finishes_the_run(make_run):
    first = make_run(status="running")
    second = Stage.objects.create(run=first.run, position=1, name="eval", kind=StageKind.EVAL)
    stage_succeed(stage_pk=first.pk, result={"steps": 3})
    second.refresh_from_db()
    assert second.status == "queued"
    second.status = "running"
    second.save()
    stage_succeed(stage_pk=second.pk)
    first.run.refresh_from_db()
    assert first.run.status == "succeeded"


def test_a_silent_worker_is_reaped_to_failed_and_resumable(make_run, settings):
    settings.R1WEB_STALE_AFTER_SECONDS = 60
    stage = make_run(status="running", heartbeat_at=timezone.now() - timedelta(minutes=5))
    fresh = make_run(name="alive", status="running", heartbeat_at=timezone.now())
    assert stages_reap_stale() == 1
    stage.refresh_from_db()
    fresh.refresh_from_db()
    assert (stage.status, stage.resumable) == ("failed", True)
    assert fresh.status == "running"


def test_a_stale_running_stage_can_be_taken_over_and_drops_work_after_its_checkpoint(
    make_run, make_samples, settings
):
    from r1web.runs.services import checkpoint_record

    settings.R1WEB_STALE_AFTER_SECONDS = 60
    stage = make_run(status="queued")
    stage_claim(stage_pk=stage.pk, worker="w1")
    make_samples(stage, steps=4)
    metrics_record(stage_pk=stage.pk, step=4, values={"loss": 1.0})
    checkpoint_record(stage_pk=stage.pk, step=2, path="/tmp/ckpt-2")
    Stage.objects.filter(pk=stage.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))

    taken = stage_claim(stage_pk=stage.pk, worker="w2")
    assert taken is not None and taken.attempt == 2
    assert set(Sample.objects.filter(stage=stage).values_list("step", flat=True)) == {1, 2}
    assert not MetricPoint.objects.filter(stage=stage, step__gt=2).exists()


def test_cancelling_a_run_cancels_its_waiting_stages_and_asks_the_running_one_to_stop(make_run):
    running = make_run(status="running")
    waiting = Stage.objects.create(run=running.run, position=1, name="eval", kind=StageKind.EVAL)
    run_cancel(run=running.run)
    running.refresh_from_db()
    waiting.refresh_from_db()
    assert running.cancel_requested and running.status == "running"
    assert waiting.status == "cancelled"


def test_a_failed_run_resumes_at_its_first_unfinished_stage(make_run):
    stage = make_run(status="running")
    stage_fail(stage_pk=stage.pk, error="boom", resumable=True)
    stage.run.refresh_from_db()
    assert stage.run.status == "failed"
    assert run_resume(run=stage.run) == stage
    stage.refresh_from_db()
    assert stage.status == "queued"


def test_a_running_run_cannot_be_resumed(make_run):
    stage = make_run(status="running", heartbeat_at=timezone.now())
    with pytest.raises(RunError, match="only a failed or cancelled run"):
        run_resume(run=stage.run)


def test_a_metric_logged_twice_at_a_step_keeps_one_point_with_the_last_value(make_run):
    stage = make_run()
    metrics_record(stage_pk=stage.pk, step=1, values={"loss": 2.0, "note": "text", "nan": float("nan")})
    metrics_record(stage_pk=stage.pk, step=1, values={"loss": 1.5})
    points = list(MetricPoint.objects.filter(stage=stage).values_list("key", "value"))
    assert points == [("loss", 1.5)]


def test_a_retried_sample_batch_stores_each_completion_once(make_run, make_samples):
    stage = make_run()
    make_samples(stage, steps=2)
    make_samples(stage, steps=2)
    assert Sample.objects.filter(stage=stage).count() == 2 * 2 * 4
