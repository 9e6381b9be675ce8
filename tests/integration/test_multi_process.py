"""A GRPO stage as two processes under ``accelerate launch`` (CPU, gloo), supervised by a
real worker: every sample recorded once, and a worker killed mid-stage takes its
processes with it and leaves the stage resumable."""

from __future__ import annotations

import subprocess

import pytest
from django.db.models import Count

from r1web.runs.models import StageKind
from r1web.runs.recipes import launch
from r1web.runs.services import run_resume, stages_reap_stale
from r1web.traces.models import Sample
from tests.integration.conftest import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Two prompts of 8 completions on each process: 32 completions a step over both.
TINY = {"max_steps": 6, "eval_k": 1, "eval_limit": 2, "probe_every": 0, "num_processes": 2,
        "grpo_config": {"per_device_train_batch_size": 16, "save_steps": 2}}


def stage_processes(stage_pk: int) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines()
            if "workers.distributed" in line and f" {stage_pk} " in f"{line} "]


def test_a_two_process_grpo_stage_survives_its_worker_and_records_every_sample_once(
    tiny_base, start_worker, queue
):
    run = launch("r1-zero", TINY, queue=queue)
    grpo = run.stages.get(kind=StageKind.GRPO)
    assert grpo.params["num_processes"] == 2
    worker = start_worker()

    wait_for(lambda: grpo.samples.filter(step__gte=3).exists(), 400, "GRPO to reach step 3")
    assert len(stage_processes(grpo.pk)) >= 2  # the launcher's processes train it
    worker.kill()
    # Nobody may go on writing to a stage whose supervisor is gone.
    wait_for(lambda: not stage_processes(grpo.pk), 30, "the stage's processes to exit")

    def reaped() -> bool:
        stages_reap_stale()
        grpo.refresh_from_db()
        return grpo.status == "failed"

    wait_for(reaped, 60, "the dead worker's stage to be reaped")
    assert grpo.resumable

    run_resume(run=run)
    start_worker()
    wait_for(lambda: run.refresh_from_db() or run.is_finished(), 500, "the resumed run to end")
    grpo.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert grpo.attempt == 2
    assert grpo.result["steps"] == 6
    assert grpo.result["completions_per_step"] == 32  # 16 per process, both processes
    trained = grpo.samples.filter(probe=False)
    assert trained.count() == 6 * 32
    duplicates = (Sample.objects.filter(stage=grpo).values("step", "group", "index", "probe")
                  .annotate(n=Count("id")).filter(n__gt=1))
    assert not duplicates.exists()
    assert set(trained.values_list("step", flat=True)) == set(range(1, 7))
    assert grpo.output_checkpoint is not None
