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
    stage_hand_back,
    stage_heartbeat,
    stage_succeed,
    stages_reap_stale,
    stages_requeue_queued,
)
from r1web.traces.models import Sample

pytestmark = pytest.mark.django_db


def test_a_starting_worker_sends_every_queued_stage_again_and_the_second_task_is_harmless(
    make_run, monkeypatch, django_capture_on_commit_callbacks
):
    # The worker that took a queued stage's task died before claiming it: the stage waits
    # with no task until a new worker sends it again.
    from r1web.celery import app

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, args, queue: sent.append((args[0], queue)))
    lost = make_run(status="queued")
    running = make_run(name="busy", status="running")
    with django_capture_on_commit_callbacks(execute=True):
        assert stages_requeue_queued() == 1
    assert sent == [(lost.pk, lost.queue)]
    assert running.pk not in [pk for pk, _ in sent]
    # Its old task, had it survived, would find the stage claimed by the new one.
    assert stage_claim(stage_pk=lost.pk, worker="new") is not None
    assert stage_claim(stage_pk=lost.pk, worker="old") is None


def test_only_one_of_two_deliveries_of_a_task_claims_the_stage(make_run):
    stage = make_run(status="queued")
    assert stage_claim(stage_pk=stage.pk, worker="w1") is not None
    assert stage_claim(stage_pk=stage.pk, worker="w2") is None
    stage.refresh_from_db()
    assert (stage.status, stage.worker, stage.attempt) == ("running", "w1", 1)


def test_a_finished_stage_queues_the_next_one_and_the_last_finishes_the_run(make_run):
    first = make_run(status="running")
    second = Stage.objects.create(run=first.run, position=1, name="eval", kind=StageKind.EVAL)
    second.needs.add(first)
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


def _saved_checkpoint(folder, step: int) -> str:
    """A checkpoint folder as ``Trainer`` leaves it once written to the end."""
    path = folder / f"checkpoint-{step}"
    path.mkdir()
    (path / "trainer_state.json").write_text(f'{{"global_step": {step}}}')
    return str(path)


def _stale_stage_with_four_steps(make_run, make_samples, settings) -> Stage:
    settings.R1WEB_STALE_AFTER_SECONDS = 60
    stage = make_run(status="queued")
    stage_claim(stage_pk=stage.pk, worker="w1")
    make_samples(stage, steps=4)
    metrics_record(stage_pk=stage.pk, step=4, values={"loss": 1.0})
    return stage


def _take_over(stage: Stage) -> set[int]:
    """A second worker claims the stale stage; the steps whose samples are kept."""
    Stage.objects.filter(pk=stage.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    taken = stage_claim(stage_pk=stage.pk, worker="w2")
    assert taken is not None and taken.attempt == 2
    return set(Sample.objects.filter(stage=stage).values_list("step", flat=True))


def test_a_stale_running_stage_can_be_taken_over_and_drops_work_after_its_checkpoint(
    make_run, make_samples, settings, tmp_path
):
    from r1web.runs.services import checkpoint_record

    stage = _stale_stage_with_four_steps(make_run, make_samples, settings)
    checkpoint_record(stage_pk=stage.pk, step=2, path=_saved_checkpoint(tmp_path, 2))

    assert _take_over(stage) == {1, 2}
    assert not MetricPoint.objects.filter(stage=stage, step__gt=2).exists()
    assert stage.resume_checkpoint().step == 2


def test_a_recorded_checkpoint_gone_from_disk_resumes_from_the_one_before(
    make_run, make_samples, settings, tmp_path
):
    # A kill between writing checkpoint-3 and finishing it (or a checkpoint deleted by
    # hand) must not fail the resume: the stage goes back to checkpoint-2.
    from r1web.runs.services import checkpoint_record

    stage = _stale_stage_with_four_steps(make_run, make_samples, settings)
    checkpoint_record(stage_pk=stage.pk, step=2, path=_saved_checkpoint(tmp_path, 2))
    cut_short = tmp_path / "checkpoint-3"
    cut_short.mkdir()  # weights begun, trainer_state.json never written
    checkpoint_record(stage_pk=stage.pk, step=3, path=str(cut_short))

    assert stage.resume_checkpoint().step == 2
    assert _take_over(stage) == {1, 2}


def test_cancelling_a_run_cancels_its_waiting_stages_and_asks_the_running_one_to_stop(make_run):
    running = make_run(status="running")
    waiting = Stage.objects.create(run=running.run, position=1, name="eval", kind=StageKind.EVAL)
    waiting.needs.add(running)
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
    with pytest.raises(RunError, match="no failed or cancelled stage"):
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


def _graph(make_run):
    """train -> (eval, sample) -> sft: a diamond, like a recipe's stage graph."""
    train = make_run(status="running", key="train")
    run = train.run

    def node(key, position, kind, *needs):
        stage = Stage.objects.create(run=run, position=position, key=key, name=key, kind=kind)
        stage.needs.set(needs)
        return stage

    evaluate = node("eval", 1, StageKind.EVAL, train)
    sample = node("sample", 2, StageKind.GENERATE, train)
    sft = node("sft", 3, StageKind.SFT, evaluate, sample)
    return train, evaluate, sample, sft


def test_a_stage_is_queued_only_when_every_stage_it_needs_has_succeeded(make_run):
    train, evaluate, sample, sft = _graph(make_run)
    stage_succeed(stage_pk=train.pk)
    for stage in (evaluate, sample, sft):
        stage.refresh_from_db()
    assert (evaluate.status, sample.status, sft.status) == ("queued", "queued", "pending")
    Stage.objects.filter(pk=evaluate.pk).update(status="running")
    stage_succeed(stage_pk=evaluate.pk)
    sft.refresh_from_db()
    assert sft.status == "pending" and sft.waiting_on() == sample


def test_a_failed_stage_holds_its_dependents_and_resume_restarts_from_it(make_run):
    train, evaluate, sample, sft = _graph(make_run)
    stage_succeed(stage_pk=train.pk)
    Stage.objects.filter(pk__in=[evaluate.pk, sample.pk]).update(status="running")
    stage_succeed(stage_pk=evaluate.pk)
    stage_fail(stage_pk=sample.pk, error="out of memory", resumable=False)
    sft.refresh_from_db()
    run = train.run
    run.refresh_from_db()
    assert sft.status == "pending" and sft.waiting_on() == sample
    assert run.status == "failed" and "out of memory" in run.error
    assert run_resume(run=run) == sample
    for stage in (train, evaluate, sample, sft):
        stage.refresh_from_db()
    assert [s.status for s in (train, evaluate, sample, sft)] == [
        "succeeded", "succeeded", "queued", "pending"]


def test_a_run_launched_earlier_goes_first_when_a_worker_takes_a_task(make_run):
    older = make_run(name="older", status="succeeded", key="a")
    newer = make_run(name="newer", status="queued", key="a")
    follow_up = Stage.objects.create(run=older.run, position=1, key="b", name="next",
                                     kind=StageKind.EVAL, status="queued")
    # The task in hand was sent for the newer run's stage; the older run's next stage wins.
    taken = stage_claim(stage_pk=newer.pk, worker="w1")
    assert taken == follow_up
    assert stage_claim(stage_pk=follow_up.pk, worker="w1") == newer
    assert stage_claim(stage_pk=newer.pk, worker="w1") is None


def test_an_evaluation_of_the_same_model_data_and_settings_is_reused(make_run, tmp_path):
    from r1web.datasets.models import Dataset, DatasetVersion
    from r1web.runs.models import Checkpoint, StageInput
    from r1web.runs.services import run_schedule

    checkpoint = Checkpoint.objects.create(name="base", path=str(tmp_path))
    dataset = Dataset.objects.create(name="tasks")
    version = DatasetVersion.objects.create(dataset=dataset, number=1, content_hash="x",
                                            num_examples=1)

    def evaluation(name, k=8):
        stage = make_run(name=name, status="pending", kind=StageKind.EVAL, key="eval",
                         input_checkpoint=checkpoint, params={"k": k, "label": name})
        StageInput.objects.create(stage=stage, version=version, role="eval")
        return stage

    first = evaluation("first")
    run_schedule(run=first.run)
    Stage.objects.filter(pk=first.pk).update(status="running")
    stage_succeed(stage_pk=first.pk, result={"pass@1": 0.5})
    same = evaluation("same")
    other = evaluation("other settings", k=4)
    run_schedule(run=same.run)
    run_schedule(run=other.run)
    same.refresh_from_db()
    other.refresh_from_db()
    assert (same.status, same.reused_from, same.result) == ("succeeded", first, {"pass@1": 0.5})
    assert other.status == "queued" and other.reused_from is None
    same.run.refresh_from_db()
    assert same.run.status == "succeeded"


def test_a_worker_that_lost_its_stage_leaves_the_attempt_after_it_alone(make_run, settings):
    # Reaped as silent (a busy machine), resumed by its user, then the first worker
    # reports its outcome: neither its cancel nor its success may touch what came after.
    settings.R1WEB_STALE_AFTER_SECONDS = 60
    lost = stage_claim(stage_pk=make_run(status="queued").pk, worker="slow")
    Stage.objects.filter(pk=lost.pk).update(heartbeat_at=timezone.now() - timedelta(minutes=5))
    stages_reap_stale()
    run_resume(run=lost.run)

    stage_fail(stage_pk=lost.pk, error="cancelled", cancelled=True, attempt=lost.attempt)
    assert Stage.objects.get(pk=lost.pk).status == "queued"
    again = stage_claim(stage_pk=lost.pk, worker="fresh")
    with pytest.raises(RunError):
        stage_succeed(stage_pk=lost.pk, attempt=lost.attempt)
    stage_fail(stage_pk=lost.pk, error="boom", attempt=lost.attempt)
    assert Stage.objects.values_list("status", "attempt").get(pk=lost.pk) == (
        "running", again.attempt)


def test_a_stage_handed_back_by_a_leaving_worker_is_queued_again_and_resumes_at_its_checkpoint(
    make_run, make_samples, settings, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    from r1web.celery import app
    from r1web.runs.services import checkpoint_record

    sent = []
    monkeypatch.setattr(app, "send_task", lambda name, args, queue: sent.append(args[0]))
    stage = _stale_stage_with_four_steps(make_run, make_samples, settings)
    checkpoint_record(stage_pk=stage.pk, step=4, path=_saved_checkpoint(tmp_path, 4))
    stage_heartbeat(stage_pk=stage.pk, step=4, total=8)
    with django_capture_on_commit_callbacks(execute=True):
        assert stage_hand_back(stage_pk=stage.pk, attempt=1)
    stage.refresh_from_db()
    stage.run.refresh_from_db()
    assert (stage.status, stage.step, stage.worker) == ("queued", 4, "")
    assert stage.run.status == "running"  # not failed: nothing needs a person
    assert sent == [stage.pk]
    taken = stage_claim(stage_pk=stage.pk, worker="w2")
    assert (taken.attempt, taken.resume_checkpoint().step) == (2, 4)
    assert set(Sample.objects.filter(stage=stage).values_list("step", flat=True)) == {1, 2, 3, 4}


def test_a_leaving_worker_whose_stage_was_cancelled_meanwhile_cancels_it(make_run):
    stage = make_run(status="queued")
    stage_claim(stage_pk=stage.pk, worker="w1")
    run_cancel(run=stage.run)
    assert not stage_hand_back(stage_pk=stage.pk, attempt=1)
    stage.refresh_from_db()
    assert (stage.status, stage.resumable) == ("cancelled", True)


def test_a_worker_hands_back_only_the_attempt_it_ran(make_run):
    stage = make_run(status="running", attempt=2)  # it was reaped, and runs again elsewhere
    assert not stage_hand_back(stage_pk=stage.pk, attempt=1)
    stage.refresh_from_db()
    assert stage.status == "running"
