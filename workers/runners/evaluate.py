"""Run an evaluation stage: k samples per held-out problem, scored as pass@1 (their mean),
maj@k, format, length and reflection."""

from __future__ import annotations

from r1domain.stage_params import EvalParams
from r1web.runs.models import Stage, StageInput
from r1web.runs.services import metrics_record
from workers.inputs import model_path, records, stage_examples, stage_sink
from workers.recording import write_retrying


def run_eval_stage(stage: Stage, params: EvalParams) -> dict:
    from workers.stages.evaluate import evaluate

    examples = stage_examples(stage, StageInput.Role.EVAL, params.split)
    if params.limit:
        examples = examples[: params.limit]
    with stage_sink(stage, examples) as sink:
        scores = evaluate(
            model_path=model_path(stage),
            examples=records(examples),
            k=params.k,
            sink=sink,
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature,
            seed=params.seed,
            completion_format=params.format(),
        )
    write_retrying(metrics_record, stage_pk=stage.pk, step=0,
                   values={f"eval/{key}": value for key, value in scores.items()})
    return scores
