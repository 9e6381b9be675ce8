"""The mix stage: merge dataset versions in fixed proportions into one SFT version
(DeepSeek-R1 step 5 trains on ~600k reasoning and ~200k non-reasoning examples).

Sources are the stage's ``train`` inputs in the order they were added (StageInput pk),
each pinned to a version when the stage was queued. Only each source's ``train`` split
is mixed (``MixParams.split`` changes that; ``""`` takes every split), so a source's
held-out examples never leak into training data. The output records name their source
version in their provenance, and the version is ``produced_by`` this stage, which is
what the lineage box shows.
"""

from __future__ import annotations

from collections import Counter

from r1domain.base import ConfigError
from r1domain.mixing import mix
from r1domain.stage_params import MixParams
from r1web.datasets.models import Dataset, DatasetVersion, Example
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Stage, StageInput
from workers.recording import retrying, write_retrying


@retrying
def mix_sources(stage: Stage) -> list[StageInput]:
    """The stage's train inputs, oldest first; each must be pinned to a version."""
    inputs = list(
        StageInput.objects.filter(stage=stage, role=StageInput.Role.TRAIN)
        .select_related("version__dataset")
        .order_by("pk")
    )
    if not inputs:
        raise ConfigError("a mix needs at least one train dataset")
    if any(source.version_id is None for source in inputs):
        raise ConfigError("a mix source has no dataset version yet (its stage made none)")
    return inputs


def mix_proportions(params: MixParams, inputs: list[StageInput]) -> list[float]:
    """The proportions as given, else the inputs' weights scaled to sum to 1."""
    if params.proportions is not None:
        return list(params.proportions)
    weights = [source.weight for source in inputs]
    if any(weight is None for weight in weights):
        raise ConfigError("a mix needs proportions or a weight on every source")
    if sum(weights) <= 0:
        raise ConfigError("mix weights must be positive")
    return [weight / sum(weights) for weight in weights]


@retrying
def _records(version: DatasetVersion, split: str) -> list[dict]:
    rows = Example.objects.filter(version=version).select_related("version__dataset")
    if split:
        rows = rows.filter(split=split)
    return [{**row.as_record(), "provenance": row.provenance} for row in rows.order_by("position")]


def _label(version: DatasetVersion, share: float) -> str:
    return f"{version} ({share * 100:.3g}%)"


def run_mix_stage(stage: Stage, params: MixParams) -> dict:
    inputs = mix_sources(stage)
    proportions = mix_proportions(params, inputs)
    split = params.split
    sources = [_records(source.version, split) for source in inputs]
    for source, records in zip(inputs, sources):
        if not records:
            where = f" in its {split!r} split" if split else ""
            raise ConfigError(f"{source.version} has no examples{where} to mix")
    mixed = mix(sources, proportions, total=params.total, seed=params.seed)
    for record in mixed:
        version = inputs[record["provenance"]["source"]].version
        record["provenance"].update(
            version=version.pk, dataset=version.dataset.name, number=version.number
        )
    labels = ", ".join(_label(s.version, p) for s, p in zip(inputs, proportions))
    output = write_retrying(
        dataset_version_create,
        name=params.target or f"run-{stage.run_id}-{stage.key or 'mix'}",
        records=mixed,
        source=f"mix of {labels}",
        kind=Dataset.Kind.SFT,
        produced_by=stage,
        created_by=stage.run.created_by,
    )
    counts = Counter(record["provenance"]["source"] for record in mixed)
    return {
        "examples": len(mixed),
        "sources": [
            {"version": str(source.version), "asked": asked,
             "got": round(counts[i] / len(mixed), 6), "count": counts[i]}
            for i, (source, asked) in enumerate(zip(inputs, proportions))
        ],
        "dataset": str(output),
        "dataset_pk": output.pk,
    }
