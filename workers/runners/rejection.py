"""Run a rejection-sampling stage: sample the stage's model on its train prompts, then
freeze the kept samples as a new version of an SFT dataset in the cold-start format."""

from __future__ import annotations

from django.db import transaction

from r1domain import rejection
from r1domain.base import ConfigError
from r1domain.stage_params import RejectionParams
from r1web.curation.services import curation_dataset_get_or_create
from r1web.datasets.models import Dataset, DatasetVersion, Example
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Checkpoint, Stage, StageInput
from workers.inputs import model_path, records, stage_examples, stage_sink
from workers.recording import retrying


def run_rejection_stage(stage: Stage, params: RejectionParams) -> dict:
    from workers.stages.rejection import rejection_sample

    _check_target(stage, params)
    examples = _prompts(stage, params)
    prompts = records(examples)
    checkpoint = model_path(stage)
    with stage_sink(stage, examples) as sink:
        result = rejection_sample(
            model_path=checkpoint,
            examples=prompts,
            sink=sink,
            samples_per_prompt=params.samples_per_prompt,
            keep_per_prompt=params.keep_per_prompt,
            completion_format=params.format(),
            special_token=params.special_token,
            pass_rate_window=params.window(),
            judge_path=_judge_path(params),
            max_new_tokens=params.max_new_tokens,
            temperature=params.temperature,
            seed=params.seed,
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
            record, prompts[record.group], special_token=params.special_token,
            run=stage.run_id, stage=stage.pk, checkpoint=checkpoint,
        )
        for record in kept
    ]
    version = retrying(_freeze)(stage, params, dataset,
                                language=prompts[0].get("language") or "en")
    return {**summary, "dataset": str(version), "examples": version.num_examples}


def _prompts(stage: Stage, params: RejectionParams) -> list[Example]:
    """The train split of the stage's prompts (all of them when it has none), limited."""
    examples = stage_examples(stage, StageInput.Role.TRAIN, "train")
    if not examples:
        examples = stage_examples(stage, StageInput.Role.TRAIN, None)
    if params.prompt_limit:
        examples = examples[: params.prompt_limit]
    if not examples:
        raise ConfigError("rejection sampling needs prompts: its train dataset is empty")
    return examples


@retrying
def _judge_path(params: RejectionParams) -> str | None:
    if params.judge is None:
        return None
    try:
        return Checkpoint.objects.get(pk=params.judge).path
    except Checkpoint.DoesNotExist:
        raise ConfigError(f"judge: no checkpoint #{params.judge}") from None


def target_name(stage: Stage, params: RejectionParams) -> str:
    return params.target or f"run-{stage.run_id}-{stage.key or stage.position}"


@retrying
def _check_target(stage: Stage, params: RejectionParams) -> None:
    """Refuse, before sampling, a target that is not an SFT set in the output's format."""
    name, token = target_name(stage, params), params.special_token
    dataset = Dataset.objects.filter(name=name).first()
    if dataset and (dataset.kind != Dataset.Kind.SFT or dataset.special_token != token):
        raise ConfigError(
            f"target {name!r} is a {dataset.kind} dataset with token {dataset.special_token!r}; "
            f"rejection sampling writes SFT examples with {token!r}"
        )


@transaction.atomic
def _freeze(stage: Stage, params: RejectionParams, kept: list[dict], *,
            language: str) -> DatasetVersion:
    """A new version of the target dataset; a new dataset gets the output's token."""
    name = target_name(stage, params)
    curation_dataset_get_or_create(
        name=name, user=stage.run.created_by, special_token=params.special_token,
        language=language,
    )
    return dataset_version_create(
        name=name, records=kept, source=f"rejection sampling, stage {stage.pk}",
        kind=Dataset.Kind.SFT, produced_by=stage,
    )
