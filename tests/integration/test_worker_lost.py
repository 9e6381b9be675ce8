"""A worker that dies mid-stage: the stage must not stay "running", and resuming it
must finish the run without storing any completion twice."""

from __future__ import annotations

import pytest

from r1web.runs.models import Stage, StageKind
from r1web.runs.recipes import launch
from r1web.runs.services import run_resume, stages_reap_stale
from tests.integration.conftest import assert_every_completion_stored_once, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_killed_worker_leaves_the_stage_resumable_and_resuming_duplicates_nothing(
    tiny_base, start_worker, queue
):
    values = {"max_steps": 8, "eval_k": 2, "eval_limit": 4, "grpo_config": {"save_steps": 2}}
    run = launch("r1-zero", values, queue=queue)
    grpo = run.stages.get(kind=StageKind.GRPO)
    worker = start_worker()

    wait_for(lambda: grpo.samples.filter(step__gte=4).exists(), 300, "GRPO to reach step 4")
    worker.kill()

    # Nothing beats for the stage any more: once stale, it is failed, not "running".
    def reaped() -> bool:
        stages_reap_stale()
        grpo.refresh_from_db()
        return grpo.status == "failed"

    wait_for(reaped, 60, "the dead worker's stage to be reaped")
    assert grpo.resumable
    assert "stopped responding" in grpo.error
    run.refresh_from_db()
    assert run.status == "failed"

    run_resume(run=run)
    start_worker()
    wait_for(lambda: run.refresh_from_db() or run.is_finished(), 400, "the resumed run to end")

    grpo.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert grpo.attempt == 2
    assert_every_completion_stored_once(grpo)


def test_a_stage_whose_worker_beats_is_never_reaped(tiny_base, start_worker, queue):
    run = launch("r1-zero", {"max_steps": 2, "eval_k": 1, "eval_limit": 2}, queue=queue)
    start_worker()
    first = Stage.objects.get(run=run, position=0)
    wait_for(lambda: Stage.objects.filter(pk=first.pk, status="running").exists(), 120,
             "the first stage to start")
    assert stages_reap_stale() == 0
    wait_for(lambda: run.refresh_from_db() or run.is_finished(), 300, "the run to end")
    assert run.status == "succeeded", run.error
