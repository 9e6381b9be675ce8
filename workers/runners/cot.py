"""Run a CoT stage: the stage's SFT examples, each with a model-written reasoning where
one was readable, become a new version of an SFT dataset."""

from __future__ import annotations

from r1domain.stage_params import AddCotParams
from r1web.datasets.models import Dataset
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Stage, StageInput
from workers.inputs import model_path, stage_examples, stage_sink
from workers.recording import write_retrying


def run_cot_stage(stage: Stage, params: AddCotParams) -> dict:
    from workers.stages.cot import add_cot

    examples = stage_examples(stage, StageInput.Role.TRAIN, None)
    records = [{**e.as_record(), "provenance": {**e.provenance, "example": e.pk}}
               for e in examples]
    with stage_sink(stage, examples) as sink:
        out, outcomes = add_cot(
            model_path=model_path(stage), examples=records, sink=sink,
            completion_format=params.format(), special_token=params.special_token,
            max_new_tokens=params.max_new_tokens, temperature=params.temperature,
            seed=params.seed,
        )
    version = write_retrying(
        dataset_version_create, name=params.target or f"run-{stage.run_id}-{stage.key}",
        records=out, source=f"CoT added by stage {stage.pk}", kind=Dataset.Kind.SFT,
        produced_by=stage,
    )
    return {"examples": version.num_examples, "outcomes": outcomes, "dataset": str(version)}
