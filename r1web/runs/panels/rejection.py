"""The rejection-sampling stage's panel: samples kept and dropped by reason (each reason
a link to those samples in the trace browser), the dataset version the kept ones became,
and the prompts' pass rates with the optional window.

Counts come from the stored samples, not from ``Stage.result``, so the panel fills in
while the stage runs and always agrees with the trace browser it links to.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Q

from r1domain import rejection
from r1domain.stage_params import RejectionParams
from r1web.runs.models import Checkpoint, Stage, stage_parameters
from r1web.runs.rejection_charts import pass_rate_figure
from r1web.traces.models import Sample


@dataclass(frozen=True)
class VerdictRow:
    verdict: str
    count: int

    def label(self) -> str:
        return rejection.VERDICTS.get(self.verdict, self.verdict)


def verdict_counts(stage: Stage) -> dict[str, int]:
    """Samples of the stage per verdict, in the order a sample is checked."""
    rows = Sample.objects.filter(stage=stage).values("verdict").annotate(n=Count("id"))
    return rejection.ordered_counts({row["verdict"]: row["n"] for row in rows})


def group_pass_rates(stage: Stage) -> list[float | None]:
    """Each prompt's share of correct samples; None for a prompt nothing could judge."""
    rows = Sample.objects.filter(stage=stage).values("group").annotate(
        total=Count("id"),
        right=Count("id", filter=Q(correct=True)),
        unjudged=Count("id", filter=Q(verdict=rejection.UNJUDGEABLE)),
    )
    return [
        None if row["unjudged"] == row["total"] else row["right"] / (row["total"] - row["unjudged"])
        for row in rows.order_by("group")
    ]


def _judge(params: RejectionParams) -> Checkpoint | None:
    return None if params.judge is None else Checkpoint.objects.filter(pk=params.judge).first()


def context(stage: Stage) -> dict:
    counts = verdict_counts(stage)
    kept = counts.pop(rejection.KEPT, 0)
    counts.pop("", None)  # samples no filter judged: none in a rejection stage
    params = stage_parameters(stage, RejectionParams)
    window = params.window()
    return {
        "rs_kept": kept,
        "rs_rejected": [VerdictRow(verdict, n) for verdict, n in counts.items()],
        "rs_rejected_total": sum(counts.values()),
        "rs_dataset": stage.output_dataset(),
        "rs_window": window,
        "rs_judge": _judge(params),
        "rs_keep": params.keep_per_prompt,
        "rs_samples_per_prompt": params.samples_per_prompt,
        "rs_figure": pass_rate_figure(
            rejection.pass_rate_histogram(group_pass_rates(stage)), window
        ),
    }
