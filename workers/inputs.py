"""What a stage's runner reads and where it writes: its model, its examples, its output
folder and the sink that records what it reports. Shared by every runner."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from r1web.datasets.models import Example
from r1web.runs.models import Stage, StageInput
from workers.recording import DatabaseSink, retrying


@retrying
def model_path(stage: Stage) -> str:
    """The stage's model, pinned when it was queued (``services.stage_queue``)."""
    if stage.input_checkpoint_id:
        return stage.input_checkpoint.path
    source = stage.input_from
    if source is None or source.output_checkpoint is None:
        raise RuntimeError(f"stage {stage.name} has no input model: its source stage made none")
    return source.output_checkpoint.path


@retrying
def stage_examples(stage: Stage, role: str, split: str | None) -> list[Example]:
    """The examples of the stage's ``role`` inputs, in version and file order."""
    versions = StageInput.objects.filter(stage=stage, role=role).values("version")
    rows = Example.objects.filter(version__in=versions).select_related("version__dataset")
    rows = rows.order_by("version", "position")
    if split:
        rows = rows.filter(split=split)
    return list(rows)


def output_dir(stage: Stage) -> Path:
    return Path(settings.RUNS_DIR) / f"run-{stage.run_id}" / f"stage-{stage.position}-{stage.kind}"


def stage_sink(stage: Stage, examples: list[Example]) -> DatabaseSink:
    """A sink that records the stage's samples with a link to the example each came from."""
    return DatabaseSink(stage, example_ids={example.key: example.pk for example in examples})


def records(examples: list[Example]) -> list[dict]:
    return [example.as_record() for example in examples]
