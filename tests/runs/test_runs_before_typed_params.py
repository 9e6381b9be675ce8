"""Issue 22: runs stored before stage parameters were typed still load, render, resume and
finish. ``fixtures/runs_before_typed_params.json`` holds every recipe launched by the code
of that time (``dumpdata --natural-foreign`` of a fresh database): tiny settings, the
r1-zero run left as a worker would have left it (the base evaluated, GRPO failed early)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import call_command

from r1domain.stage_params import PARAMS
from r1web.runs.models import Checkpoint, Run, Stage, Status
from r1web.runs.services import run_resume, stage_claim
from workers.runner import execute

FIXTURE = Path(__file__).with_name("fixtures") / "runs_before_typed_params.json"

pytestmark = pytest.mark.django_db


@pytest.fixture
def old_runs(db, micro_base) -> dict[str, Run]:
    call_command("loaddata", str(FIXTURE), verbosity=0)
    # The model they named lived on another machine; here it is the micro base.
    Checkpoint.objects.update(path=micro_base)
    return {run.recipe if run.recipe != "custom" else "generate": run
            for run in Run.objects.all()}


def test_every_stored_stage_reads_back_through_its_kinds_type(old_runs):
    stages = Stage.objects.all()
    assert stages.count() == 28 and len(old_runs) == 8
    for stage in stages:
        assert type(stage.parameters()) is PARAMS[stage.kind], stage.key


def test_every_old_run_and_stage_page_renders(old_runs, viewer):
    for run in old_runs.values():
        assert viewer.get(run.get_absolute_url()).status_code == 200
        for stage in run.stages.all():
            assert viewer.get(stage.get_absolute_url()).status_code == 200, stage.key


@pytest.mark.slow
def test_an_old_failed_run_resumes_and_finishes(old_runs, alice, settings, tmp_path):
    settings.RUNS_DIR = tmp_path
    run = old_runs["r1-zero"]
    assert run.status == Status.FAILED
    run_resume(run=run, acting_user=alice)
    while (queued := run.stages.filter(status=Status.QUEUED).first()) is not None:
        execute(stage_claim(stage_pk=queued.pk, worker="test"))
    run.refresh_from_db()
    assert run.status == Status.SUCCEEDED, run.error
    grpo, after = run.stages.get(key="grpo"), run.stages.get(key="eval-grpo")
    assert grpo.result["steps"] == 2 and grpo.output_checkpoint is not None
    assert after.samples.count() == 3 * 2  # eval_limit 3, k 2, as launched then
