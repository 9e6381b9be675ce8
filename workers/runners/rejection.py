"""Run a rejection-sampling stage: sample the stage's model on its train prompts, then
freeze the kept samples as a new version of an SFT dataset in the cold-start format."""

from __future__ import annotations

from django.db import transaction

from r1domain import rejection
from r1domain.base import ConfigError
from r1domain.coldstart import DEFAULT_TOKEN
from r1web.curation.services import curation_dataset_get_or_create
from r1web.datasets.models import Dataset, DatasetVersion, Example
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Checkpoint, Stage, StageInput
from workers.runner import _sink, completion_format, model_path, stage_examples


def run_rejection_stage(stage: Stage) -> dict:
    from workers.stages.rejection import rejection_sample

    params = stage.params
    rejection.check_params(params)
    _check_target(stage)
    examples = _prompts(stage)
    records = [example.as_record() for example in examples]
    checkpoint = model_path(stage)
    with _sink(stage, examples) as sink:
        result = rejection_sample(
            model_path=checkpoint,
            examples=records,
            sink=sink,
            samples_per_prompt=params.get("samples_per_prompt", 4),
            keep_per_prompt=params.get("keep_per_prompt", 1),
            completion_format=completion_format(stage),
            special_token=_token(stage),
            pass_rate_window=params.get("pass_rate_window"),
            judge_path=_judge_path(params),
            max_new_tokens=params.get("max_new_tokens", 64),
            temperature=params.get("temperature", 1.0),
            seed=params.get("seed", 0),
        )
    summary = result.summary()
    kept = result.kept()
    if not kept:
        reasons = ", ".join(f"{reason} {n}" for reason, n in summary["rejected"].items())
        raise RuntimeError(
            f"rejection sampling kept none of its {summary['samples']} samples ({reasons}): "
            "there is nothing to make a dataset of"
        )
    dataset = [
        rejection.kept_example(
            record, records[record.group], special_token=_token(stage), run=stage.run_id,
            stage=stage.pk, checkpoint=checkpoint,
        )
        for record in kept
    ]
    version = _freeze(stage, dataset, language=records[0].get("language") or "en")
    return {**summary, "dataset": str(version), "examples": version.num_examples}


def _prompts(stage: Stage) -> list[Example]:
    """The train split of the stage's prompts (all of them when it has none), limited."""
    examples = stage_examples(stage, StageInput.Role.TRAIN, "train")
    if not examples:
        examples = stage_examples(stage, StageInput.Role.TRAIN, None)
    limit = stage.params.get("prompt_limit")
    if limit:
        examples = examples[:limit]
    if not examples:
        raise ConfigError("rejection sampling needs prompts: its train dataset is empty")
    return examples


def _token(stage: Stage) -> str:
    return stage.params.get("special_token") or DEFAULT_TOKEN


def _judge_path(params: dict) -> str | None:
    if params.get("judge") is None:
        return None
    try:
        return Checkpoint.objects.get(pk=params["judge"]).path
    except Checkpoint.DoesNotExist:
        raise ConfigError(f"judge: no checkpoint #{params['judge']}") from None


def target_name(stage: Stage) -> str:
    return stage.params.get("target") or f"run-{stage.run_id}-{stage.key or stage.position}"


def _check_target(stage: Stage) -> None:
    """Refuse, before sampling, a target that is not an SFT set in the output's format."""
    name, token = target_name(stage), _token(stage)
    dataset = Dataset.objects.filter(name=name).first()
    if dataset and (dataset.kind != Dataset.Kind.SFT or dataset.special_token != token):
        raise ConfigError(
            f"target {name!r} is a {dataset.kind} dataset with token {dataset.special_token!r}; "
            f"rejection sampling writes SFT examples with {token!r}"
        )


@transaction.atomic
def _freeze(stage: Stage, records: list[dict], *, language: str) -> DatasetVersion:
    """A new version of the target dataset; a new dataset gets the output's token."""
    name = target_name(stage)
    curation_dataset_get_or_create(
        name=name, user=stage.run.created_by, special_token=_token(stage), language=language
    )
    return dataset_version_create(
        name=name, records=records, source=f"rejection sampling, stage {stage.pk}",
        kind=Dataset.Kind.SFT, produced_by=stage,
    )
