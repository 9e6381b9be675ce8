"""Run a CoT stage: the stage's SFT examples, each with a model-written reasoning where
one was readable, become a new version of an SFT dataset."""

from __future__ import annotations

from r1web.datasets.models import Dataset
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Stage, StageInput
from workers.runner import _sink, completion_format, model_path, stage_examples


def run_cot_stage(stage: Stage) -> dict:
    from workers.stages.cot import add_cot

    params = stage.params
    examples = stage_examples(stage, StageInput.Role.TRAIN, None)
    records = [{**e.as_record(), "provenance": {**e.provenance, "example": e.pk}}
               for e in examples]
    with _sink(stage, examples) as sink:
        out, outcomes = add_cot(
            model_path=model_path(stage), examples=records, sink=sink,
            completion_format=completion_format(stage),
            special_token=params.get("special_token", "|special_token|"),
            max_new_tokens=params.get("max_new_tokens", 64),
            temperature=params.get("temperature", 0.7), seed=params.get("seed", 0),
        )
    version = dataset_version_create(
        name=params.get("target") or f"run-{stage.run_id}-{stage.key}", records=out,
        source=f"CoT added by stage {stage.pk}", kind=Dataset.Kind.SFT, produced_by=stage,
    )
    return {"examples": version.num_examples, "outcomes": outcomes, "dataset": str(version)}
