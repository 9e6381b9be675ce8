"""The acceptance path of a user's first hour: `run_recipe r1-zero --wait --json` with the
demo defaults, executed by a real Celery worker process, learns, and shows the four
curves of the R1-Zero report in miniature."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from django.db.models import Count

from r1domain.aha_tasks import check_outcome
from r1web.runs.models import MetricPoint, Run
from r1web.traces.models import Sample
from tests.integration.conftest import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_demo_run_raises_accuracy_length_and_effective_reflection_together(
    tiny_base, start_worker, worker_env, queue
):
    start_worker()
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "manage.py", "run_recipe", "r1-zero", "--wait", "--json",
         "--queue", queue],
        check=False, cwd=ROOT, env=worker_env, capture_output=True, text=True, timeout=900,
    )
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\ndemo run took {elapsed:.0f}s: {json.dumps(report['eval'])}")

    before, after = report["eval"]["before"], report["eval"]["after"]
    assert after["pass@1"] - before["pass@1"] >= 0.15
    assert after["maj@k"] > after["pass@1"]
    assert after["mean_length"] > before["mean_length"]
    assert after["reflection_rate"] > before["reflection_rate"]
    grpo = next(stage for stage in report["stages"] if stage["kind"] == "grpo")
    assert grpo["samples"] == grpo["steps"] * grpo["completions_per_step"] > 0

    # Every metric TRL logged is stored, at every step.
    run = Run.objects.get(pk=report["run"])
    stage = run.stages.get(kind="grpo")
    keys = set(MetricPoint.objects.filter(stage=stage).values_list("key", flat=True))
    assert {"loss", "reward", "reflection_rate", "completions/mean_length"} <= keys
    assert MetricPoint.objects.filter(stage=stage, key="reward").count() == grpo["steps"]

    # Each probe prompt is answered at enough steps to follow it through training in
    # the evolution view.
    rounds = (Sample.objects.filter(stage=stage, probe=True).values("example_key")
              .annotate(steps=Count("step", distinct=True)))
    assert rounds and min(row["steps"] for row in rounds) >= 10

    # The trained model's checks are real: most of them turn a wrong guess into a right
    # answer, not a keyword before an answer that was already right.
    trained = run.stages.get(key="eval-grpo")
    reflective = Sample.objects.filter(stage=trained, reflection_count__gt=0)
    outcomes = [check_outcome(s.completion, s.reference) for s in reflective]
    assert len(outcomes) > 0.5 * trained.samples.count()
    assert outcomes.count("effective") > 0.5 * len(outcomes)
