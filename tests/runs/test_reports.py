from __future__ import annotations

import json

import pytest

from r1web.runs.models import Recipe, Run, Stage, StageKind
from r1web.runs.reports import run_report
from r1web.runs.services import metrics_record
from tests.runs.factories import SCORES, eval_result, make_pipeline


@pytest.fixture
def pipeline(db, make_samples):
    pipeline = make_pipeline(after_status="succeeded")
    Stage.objects.filter(pk=pipeline.after.pk).update(result=eval_result(0.5, 0.75, fmt=1.0))
    make_samples(pipeline.grpo, steps=2, groups=1, per_group=2)
    metrics_record(stage_pk=pipeline.grpo.pk, step=1, values={"loss": 1.0, "kl": 0.1})
    return pipeline


def stage_of(report: dict, key: str) -> dict:
    return next(stage for stage in report["stages"] if stage["key"] == key)


def test_the_report_lists_every_stage_in_order_with_its_state(pipeline):
    report = run_report(pipeline.run)
    assert [s["key"] for s in report["stages"]] == [
        "eval-base", "grpo", "rejection-sampling", "sft", "eval-after"]
    expected = {
        "name": "grpo", "kind": "grpo", "status": "succeeded", "attempts": 0, "error": "",
        "steps": 5, "samples": 4, "metrics": 2, "completions_per_step": None,
        "reused_from": None,
    }
    grpo = stage_of(report, "grpo")
    assert {key: grpo[key] for key in expected} == expected
    assert report["run"] == pipeline.run.pk and report["status"] == "running"


def test_a_stage_reports_the_checkpoint_and_datasets_it_produced(pipeline):
    report = run_report(pipeline.run)
    assert stage_of(report, "grpo")["outputs"] == {
        "checkpoint": pipeline.trained.path, "datasets": []}
    assert stage_of(report, "rejection-sampling")["outputs"] == {
        "checkpoint": None, "datasets": [{"version": f"{pipeline.version}", "examples": 12}]}


def test_an_evaluation_reports_its_scores_and_training_stages_do_not(pipeline):
    report = run_report(pipeline.run)
    assert stage_of(report, "eval-after")["eval"] == {
        "pass@1": 0.5, "maj@k": 0.75, "k": 4, "mean_length": 40.0, "reflection_rate": 0.1,
        "format_rate": 1.0}
    assert "eval" not in stage_of(report, "grpo")


def test_the_top_level_eval_is_keyed_by_label(pipeline):
    evals = run_report(pipeline.run)["eval"]
    assert set(evals) == {"before", "after"}
    assert evals["before"]["pass@1"] == 0.25 and evals["after"]["pass@1"] == 0.5
    assert all(set(scores) == set(SCORES) for scores in evals.values())


def test_an_evaluation_without_a_result_is_left_out_of_eval(db):
    pipeline = make_pipeline()  # eval-after still pending
    report = run_report(pipeline.run)
    assert set(report["eval"]) == {"before"} and "eval" not in stage_of(report, "eval-after")


def test_a_reused_evaluation_names_the_one_it_reuses(pipeline):
    Stage.objects.filter(pk=pipeline.after.pk).update(reused_from=pipeline.eval_base)
    reused = stage_of(run_report(pipeline.run), "eval-after")["reused_from"]
    assert reused == {"stage": pipeline.eval_base.pk, "run": pipeline.run.pk,
                      "key": "eval-base", "name": "eval-base"}


def test_a_distill_run_reports_its_student_evaluations_by_label(db):
    run = Run.objects.create(name="distill", recipe=Recipe.DISTILL, status="succeeded")
    for position, label in enumerate(("student_base", "distilled", "student_rl")):
        Stage.objects.create(run=run, position=position, key=f"eval-{label}", name=label,
                             kind=StageKind.EVAL, status="succeeded", params={"label": label},
                             result=eval_result(0.1 * (position + 1), 0.5))
    assert list(run_report(run)["eval"]) == ["student_base", "distilled", "student_rl"]


def test_the_report_is_plain_json(pipeline):
    assert json.loads(json.dumps(run_report(pipeline.run)))["eval"]["after"]["k"] == 4
