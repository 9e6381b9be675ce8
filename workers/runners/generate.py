"""Run a candidate-generation stage: sample cold-start candidates and queue them for
curation in the target dataset."""

from __future__ import annotations

from r1domain.stage_params import GenerateParams
from r1web.curation.services import candidates_from_stage
from r1web.runs.models import Stage, StageInput
from workers.inputs import model_path, records, stage_examples, stage_sink
from workers.recording import write_retrying


def run_generate_stage(stage: Stage, params: GenerateParams) -> dict:
    from workers.stages.generate import generate_candidates

    examples = stage_examples(stage, StageInput.Role.TRAIN, params.split)
    if params.limit:
        examples = examples[: params.limit]
    exemplars = stage_examples(stage, StageInput.Role.EXEMPLARS, None)
    with stage_sink(stage, examples) as sink:
        result = generate_candidates(
            model_path=model_path(stage),
            examples=records(examples),
            method=params.method,
            exemplars=records(exemplars),
            special_token=params.special_token,
            shots=params.shots,
            per_prompt=params.per_prompt,
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature,
            seed=params.seed,
            sink=sink,
        )
    result["queued"] = write_retrying(candidates_from_stage, stage=stage)
    return result
