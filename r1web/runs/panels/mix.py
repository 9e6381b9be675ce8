"""The mix stage's panel: each source with the share asked for and the share it got,
linked to the source versions and to the mixed version."""

from __future__ import annotations

from dataclasses import dataclass

from r1domain.stage_params import MixParams
from r1web.datasets.models import DatasetVersion
from r1web.runs.models import Stage, StageInput, stage_parameters


@dataclass
class MixRow:
    source: StageInput
    asked: float | None
    got: float | None = None
    count: int | None = None

    @property
    def version(self) -> DatasetVersion | None:
        return self.source.version

    def asked_percent(self) -> str:
        return _percent(self.asked)

    def got_percent(self) -> str:
        return _percent(self.got)


def _percent(share: float | None) -> str:
    return "" if share is None else f"{share * 100:.1f}%"


def _asked(stage: Stage, inputs: list[StageInput]) -> list[float | None]:
    # The same rule as the runner: the proportions if given, else the weights scaled.
    shares = stage_parameters(stage, MixParams).proportions
    if shares is not None and len(shares) == len(inputs):
        return list(shares)
    weights = [source.weight for source in inputs]
    if inputs and None not in weights and sum(weights) > 0:
        return [weight / sum(weights) for weight in weights]
    return [None] * len(inputs)


def _output(stage: Stage) -> DatasetVersion | None:
    output = stage.output_dataset()
    if output is None and stage.result.get("dataset_pk"):
        # An identical earlier mix is reused as is, so it was produced by another stage.
        output = DatasetVersion.objects.filter(pk=stage.result["dataset_pk"]).first()
    return output


def context(stage: Stage) -> dict:
    inputs = list(
        stage.inputs.filter(role=StageInput.Role.TRAIN)
        .select_related("version__dataset", "from_stage")
        .order_by("pk")
    )
    rows = [MixRow(source, asked) for source, asked in zip(inputs, _asked(stage, inputs))]
    realised = stage.result.get("sources") or []
    if len(realised) == len(rows):
        for row, got in zip(rows, realised):
            row.got, row.count = got.get("got"), got.get("count")
    return {"mix_rows": rows, "mix_output": _output(stage),
            "mix_examples": stage.result.get("examples")}
