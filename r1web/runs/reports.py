"""The report of a run that ``run_recipe --json`` prints.

Shape (one JSON object)::

    {"run": pk, "status": ..., "error": ...,
     "stages": [{"key", "name", "kind", "status", "attempts", "error", "steps", "samples",
                 "probes", "completions_per_step", "metrics",
                 "outputs": {"checkpoint": path | None,
                             "datasets": [{"version": "name vN", "examples": n}]},
                 "reused_from": {"stage", "run", "key", "name"} | None,
                 "eval": {pass@1, maj@k, k, mean_length, reflection_rate, format_rate}
                         (evaluations with a result only)}],
     "eval": {label: {pass@1, ...}}}   # e.g. before/after, base/.../final, student_*
"""

from __future__ import annotations

from django.db.models import Count, Prefetch, Q

from r1domain.stage_params import EvalParams
from r1web.datasets.models import DatasetVersion
from r1web.runs.compare import EVAL_METRICS
from r1web.runs.models import Run, Stage, StageKind
from r1web.runs.rollups import SAMPLE_PREFIX

EVAL_KEYS = EVAL_METRICS  # kept: the name this module exported before


def run_report(run: Run) -> dict:
    stages = list(_stages(run))
    evals = {
        eval_label(stage): eval_result(stage)
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


def _stages(run: Run):
    outputs = DatasetVersion.objects.select_related("dataset").order_by("pk")
    return (
        run.stages.select_related("output_checkpoint", "reused_from")
        .prefetch_related(Prefetch("outputs", outputs))
        .annotate(
            sample_count=Count("samples", filter=Q(samples__probe=False), distinct=True),
            probe_count=Count("samples", filter=Q(samples__probe=True), distinct=True),
        )
        .order_by("position")
    )


def eval_label(stage: Stage) -> str:
    params = stage.parameters()
    return (params.label if isinstance(params, EvalParams) else "") or stage.name


def eval_result(stage: Stage) -> dict:
    return {key: stage.result.get(key) for key in EVAL_METRICS}


def _stage_report(stage: Stage) -> dict:
    report = {
        "key": stage.key,
        "name": stage.name,
        "kind": stage.kind,
        "status": stage.status,
        "attempts": stage.attempt,
        "error": stage.error,
        "steps": stage.result.get("steps", stage.step),
        "samples": stage.sample_count,  # training samples; probes are counted apart
        "probes": stage.probe_count,
        "completions_per_step": stage.result.get("completions_per_step"),
        # What the stage logged; the samples' per-step statistics are derived (rollups).
        "metrics": stage.metric_points.exclude(key__startswith=SAMPLE_PREFIX)
        .values("key").distinct().count(),
        "outputs": _outputs(stage),
        "reused_from": _reused_from(stage),
    }
    if stage.kind == StageKind.EVAL and stage.result:
        report["eval"] = eval_result(stage)
    return report


def _outputs(stage: Stage) -> dict:
    checkpoint = stage.output_checkpoint
    return {
        "checkpoint": checkpoint.path if checkpoint else None,
        "datasets": [
            {"version": str(version), "examples": version.num_examples}
            for version in stage.outputs.all()
        ],
    }


def _reused_from(stage: Stage) -> dict | None:
    """The evaluation whose result this one reuses: it may belong to another run."""
    earlier = stage.reused_from
    if earlier is None:
        return None
    return {"stage": earlier.pk, "run": earlier.run_id, "key": earlier.key, "name": earlier.name}
