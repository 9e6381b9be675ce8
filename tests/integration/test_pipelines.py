"""The R1 and distillation recipes end to end, with tiny settings, through a real Celery
worker process: every stage succeeds, each stage's outputs are what the next one reads,
and what rejection sampling and mixing kept is what they claim to keep.

The demo-default runs (minutes, not seconds) are measured by ``bench/pipelines.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest
from django.db.models import Count

from r1domain.coldstart import parse_cold_start, readability_issues
from r1web.datasets.models import Example
from r1web.runs.models import Run, Stage
from r1web.runs.recipes import launch
from r1web.runs.services import run_resume, stages_reap_stale
from r1web.traces.models import Sample
from tests.integration.conftest import ROOT, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# rs_prompts: the mix needs 75 kept samples for its 100 examples, at most 2 a prompt
# (keep_per_prompt), and after 3 steps of RL many prompts get no right answer at all.
TINY = {
    "max_steps": 3, "eval_k": 2, "eval_limit": 6, "rs_prompts": 96, "samples_per_prompt": 4,
    "grpo_config": {"per_device_train_batch_size": 8, "num_generations": 4},
    "sft_config": {"max_steps": 40, "eval_steps": 40},
    "reward_config": {"max_steps": 4},
}


def _run_recipe(recipe: str, params: dict, worker_env: dict, queue: str) -> dict:
    command = [sys.executable, "manage.py", "run_recipe", recipe, "--wait", "--json",
               "--queue", queue, "--max-steps", str(params["max_steps"]),
               "--eval-k", str(params["eval_k"])]
    for name in ("eval_limit", "rs_prompts", "samples_per_prompt", *params.get("extra", ())):
        command += ["--param", f"{name}={params[name]}"]
    for key, value in params["grpo_config"].items():
        command += ["--config", f"{key}={value}"]
    for key, value in params["sft_config"].items():
        command += ["--sft-config", f"{key}={value}"]
    done = subprocess.run(command, check=False, cwd=ROOT, env=worker_env, capture_output=True,
                          text=True, timeout=1500)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _assert_kept_samples_only(stage: Stage) -> None:
    version = stage.output_dataset()
    assert version is not None and version.num_examples > 0
    token = stage.params.get("special_token", "|special_token|")
    for example in version.examples.all():
        reasoning, summary = parse_cold_start(example.completion, token)
        assert not readability_issues(reasoning, summary)
        origin = example.provenance
        sample = Sample.objects.get(stage=stage, step=origin["step"], group=origin["group"],
                                    index=origin["index"])
        assert sample.verdict == "kept" and sample.correct
    rejected = Counter(stage.samples.exclude(verdict="kept").values_list("verdict", flat=True))
    assert sum(rejected.values()) + version.num_examples == stage.samples.count()


def _assert_mix_proportions(stage: Stage) -> None:
    version = stage.output_dataset()
    assert version.num_examples >= 100  # below 100 examples, 1% is less than one example
    sources = Counter(e.provenance["source"] for e in version.examples.all())
    for index, asked in enumerate(stage.params["proportions"]):
        assert abs(sources[index] / version.num_examples - asked) <= 0.01


def test_the_r1_recipe_runs_every_stage_and_keeps_only_what_it_claims(
    tiny_base, start_worker, worker_env, queue
):
    start_worker()
    # Enough prompts that the mix has over a hundred examples to take shares of.
    report = _run_recipe("r1", {**TINY, "rs_prompts": 400, "non_reasoning_cot": "true",
                                "extra": ["reward_config", "non_reasoning_cot"],
                                "reward_config": json.dumps(TINY["reward_config"])},
                         worker_env, queue)
    assert report["status"] == "succeeded"
    kinds = Counter(stage["kind"] for stage in report["stages"])
    assert kinds["grpo"] == 3 and kinds["sft"] == 2 and kinds["rejection_sampling"] == 2
    assert kinds["mix"] == 1 and kinds["reward_model"] == 1 and kinds["add_cot"] == 1
    assert {"base", "cold_start", "reasoning_rl", "sft", "final"} <= set(report["eval"])
    run = Run.objects.get(pk=report["run"])
    for stage in run.stages.filter(kind="rejection_sampling"):
        _assert_kept_samples_only(stage)
    _assert_mix_proportions(run.stages.get(kind="mix"))
    rm = run.stages.get(kind="reward_model").output_checkpoint
    assert rm.role == "reward_model"
    preference = run.stages.get(key="rl-preference")
    keys = set(preference.metric_points.values_list("key", flat=True))
    assert {"rewards/helpfulness/mean", "rewards/harmlessness/mean"} <= keys


def test_the_distill_recipe_compares_the_distilled_student_with_rl_and_its_base(
    tiny_base, start_worker, worker_env, queue
):
    start_worker()
    # A learning rate low enough that the teacher's samples are still right often enough
    # for rejection sampling to keep some, whatever numeric path the cores give training.
    grpo_config = {**TINY["grpo_config"], "learning_rate": 1e-5}
    values = {**TINY, "grpo_config": grpo_config, "teacher_steps": 20, "extra": ["teacher_steps"]}
    report = _run_recipe("distill", values, worker_env, queue)
    assert report["status"] == "succeeded"
    for label in ("student_base", "distilled", "student_rl"):
        assert {"pass@1", "maj@k", "mean_length"} <= set(report["eval"][label])
    run = Run.objects.get(pk=report["run"])
    _assert_kept_samples_only(run.stages.get(key="teacher-samples"))
    distill = run.stages.get(key="distill")
    assert distill.inputs.get().version == run.stages.get(key="teacher-samples").output_dataset()


def test_a_worker_killed_mid_pipeline_resumes_to_the_end_without_duplicates(
    tiny_base, start_worker, queue
):
    # Forty small GRPO steps with a checkpoint each (a kill lands mid-training), at a
    # learning rate low enough that the rejection sampling after it still keeps samples.
    values = {**TINY, "rs_prompts": 200, "max_steps": 40,
              "grpo_config": {**TINY["grpo_config"], "save_steps": 1, "learning_rate": 1e-5}}
    run = launch("r1", values, queue=queue)
    worker = start_worker()
    rl = run.stages.get(key="reasoning-rl")
    wait_for(lambda: rl.samples.filter(step__gte=2).exists(), 900, "reasoning RL to reach step 2")
    worker.kill()
    killed = Stage.objects.get(run=run, status="running")  # what the dead worker held

    def reaped() -> bool:
        stages_reap_stale()
        killed.refresh_from_db()
        return killed.status == "failed"

    wait_for(reaped, 90, "the dead worker's stage to be reaped")
    assert killed.resumable and "stopped responding" in killed.error
    run_resume(run=run)
    start_worker()
    wait_for(lambda: run.refresh_from_db() or run.is_finished(), 1500, "the resumed run to end")
    assert run.status == "succeeded", run.error
    killed.refresh_from_db()
    assert killed.attempt == 2
    duplicates = (Sample.objects.filter(run=run).values("stage", "step", "group", "index", "probe")
                  .annotate(n=Count("id")).filter(n__gt=1))
    assert not duplicates.exists()
    produced = Example.objects.filter(version__produced_by__run=run)
    assert not produced.values("version", "key").annotate(n=Count("id")).filter(n__gt=1).exists()
    if killed.kind == "grpo":  # resumed from its last checkpoint: every step sampled once
        steps = killed.result["steps"]
        trained = killed.samples.filter(probe=False)
        assert trained.count() == steps * killed.result["completions_per_step"]
