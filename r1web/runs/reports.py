"""The report of a run that ``run_recipe --json`` prints."""

from __future__ import annotations

from r1web.runs.models import Run, StageKind

EVAL_KEYS = ("pass@1", "maj@k", "k", "mean_length", "reflection_rate")


def run_report(run: Run) -> dict:
    stages = list(run.stages.order_by("position"))
    evals = {
        stage.params.get("label", stage.name): {key: stage.result.get(key) for key in EVAL_KEYS}
        for stage in stages
        if stage.kind == StageKind.EVAL and stage.result
    }
    return {
        "run": run.pk,
        "status": run.status,
        "error": run.error,
        "stages": [_stage_report(stage) for stage in stages],
        "eval": evals,
    }


def _stage_report(stage) -> dict:
    return {
        "name": stage.name,
        "kind": stage.kind,
        "status": stage.status,
        "steps": stage.result.get("steps", stage.step),
        "samples": stage.samples.count(),
        "completions_per_step": stage.result.get("completions_per_step"),
        "metrics": stage.metric_points.values("key").distinct().count(),
        "attempts": stage.attempt,
        "error": stage.error,
    }
