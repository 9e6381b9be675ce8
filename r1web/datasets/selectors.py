"""Reads for dataset pages: versions, examples, diffs and lineage."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from django.db.models import Count, OuterRef, Prefetch, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from r1web.datasets.content import CONTENT_FIELDS
from r1web.datasets.models import Dataset, DatasetVersion, Example, provenance_id
from r1web.runs.models import Checkpoint, Run, Stage, StageInput


def datasets_with_counts() -> list[Dataset]:
    """Datasets by name, each with ``num_versions`` and ``latest`` (its newest version, or
    None): two queries however many datasets there are."""
    newest = DatasetVersion.objects.filter(dataset=OuterRef("pk")).order_by("-number")
    datasets = list(
        Dataset.objects.annotate(num_versions=Count("versions"),
                                 latest_pk=Subquery(newest.values("pk")[:1]))
        .order_by("name")
    )
    latest = DatasetVersion.objects.in_bulk([d.latest_pk for d in datasets if d.latest_pk])
    for dataset in datasets:
        dataset.latest = latest.get(dataset.latest_pk)
        if dataset.latest is not None:
            dataset.latest.dataset = dataset
    return datasets


def dataset_versions(dataset: Dataset) -> QuerySet[DatasetVersion]:
    # The parent's dataset too: the lineage box names the newest version's parent.
    versions = dataset.versions.select_related("produced_by__run", "parent__dataset", "created_by")
    return versions.order_by("-number")


def version_get(name: str, number: int) -> DatasetVersion:
    return get_object_or_404(
        DatasetVersion.objects.select_related("dataset", "produced_by__run", "parent__dataset"),
        dataset__name=name,
        number=number,
    )


def version_examples(version: DatasetVersion, split: str = "") -> QuerySet[Example]:
    rows = version.examples.order_by("position")
    return rows.filter(split=split) if split else rows


def version_records(version: DatasetVersion) -> list[dict]:
    """The version's examples as plain dicts, with provenance, in position order."""
    rows = version.examples.order_by("position").values("key", *CONTENT_FIELDS, "provenance")
    return list(rows)


@dataclass
class VersionDiff:
    old: DatasetVersion
    new: DatasetVersion
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: int = 0


def version_diff(old: DatasetVersion, new: DatasetVersion) -> VersionDiff:
    """Examples added, removed and changed (same key, other content) from old to new."""
    before, after = _contents(old), _contents(new)
    diff = VersionDiff(old=old, new=new)
    diff.added = [key for key in after if key not in before]
    diff.removed = [key for key in before if key not in after]
    for key in after.keys() & before.keys():
        if after[key] != before[key]:
            diff.changed.append(key)
        else:
            diff.unchanged += 1
    diff.changed.sort()
    return diff


def _contents(version: DatasetVersion) -> dict[str, tuple]:
    rows = version.examples.order_by("position").values_list("key", *CONTENT_FIELDS)
    return {row[0]: row[1:] for row in rows}


@dataclass
class Lineage:
    """What a version, stage or run came from and what came out of it.

    The context contract of ``templates/_lineage.html``.
    """

    subject: str
    input_model: Checkpoint | None = None
    inputs: list[tuple[str, DatasetVersion]] = field(default_factory=list)
    producer: Stage | None = None
    sources: list[Stage] = field(default_factory=list)  # stages whose samples were curated
    parent: DatasetVersion | None = None
    consumers: list[tuple[str, Stage]] = field(default_factory=list)
    outputs: list[DatasetVersion] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)


def lineage_for_version(version: DatasetVersion) -> Lineage:
    uses = (
        StageInput.objects.filter(version=version)
        .select_related("stage__run", "stage__output_checkpoint")
        .order_by("stage__run_id", "stage__position")
    )
    consumers = [(use.role, use.stage) for use in uses]
    checkpoints = [stage.output_checkpoint for _, stage in consumers if stage.output_checkpoint_id]
    return Lineage(
        subject=str(version),
        inputs=_producer_inputs(version),
        producer=version.produced_by,
        sources=_curated_from(version),
        parent=version.parent,
        consumers=consumers,
        checkpoints=checkpoints,
    )


def _producer_inputs(version: DatasetVersion) -> list[tuple[str, DatasetVersion]]:
    """The data the producing stage read: every source of a mix, the prompts of a
    rejection-sampling stage."""
    if version.produced_by_id is None:
        return []
    uses = StageInput.objects.filter(stage_id=version.produced_by_id, version__isnull=False)
    uses = uses.select_related("version__dataset").order_by("pk")
    return [(use.role, use.version) for use in uses]


def _curated_from(version: DatasetVersion) -> list[Stage]:
    stage_ids = set()
    for provenance in version.examples.values_list("provenance", flat=True).iterator(
        chunk_size=2000
    ):
        stage_id = provenance_id(provenance, "stage_id")  # a file may hold any value there
        if stage_id is not None:
            stage_ids.add(stage_id)
    return list(
        Stage.objects.filter(pk__in=stage_ids).select_related("run").order_by("run_id", "position")
    )


def lineage_for_stage(stage: Stage) -> Lineage:
    uses = StageInput.objects.filter(stage=stage).select_related("version__dataset")
    return _stage_lineage(stage, uses, stage.outputs.select_related("dataset"))


def _stage_lineage(stage: Stage, uses, outputs) -> Lineage:
    input_model = stage.input_checkpoint
    if input_model is None and stage.input_from_id:
        input_model = stage.input_from.output_checkpoint
    return Lineage(
        subject=str(stage),
        input_model=input_model,
        inputs=[(use.role, use.version) for use in uses],
        outputs=list(outputs),
        checkpoints=[stage.output_checkpoint] if stage.output_checkpoint_id else [],
    )


def lineage_for_run(
    run: Run, stages: Sequence[Stage] | None = None
) -> list[tuple[Stage, Lineage]]:
    """Each stage's lineage in a fixed number of queries (none with ``stages``: the run's
    stages from ``runs.selectors.stages_of``, with their inputs and outputs prefetched)."""
    if stages is None:
        stages = run.stages.select_related(
            "input_checkpoint", "input_from__output_checkpoint", "output_checkpoint"
        ).prefetch_related(
            Prefetch("inputs", StageInput.objects.select_related("version__dataset")),
            Prefetch("outputs", DatasetVersion.objects.select_related("dataset")),
        ).order_by("position")
    return [
        # In the versions' own order (dataset name, newest first), whatever the prefetch's.
        (stage, _stage_lineage(stage, stage.inputs.all(),
                               sorted(stage.outputs.all(), key=_version_order)))
        for stage in stages
    ]


def _version_order(version: DatasetVersion) -> tuple[str, int]:
    return version.dataset.name, -version.number
