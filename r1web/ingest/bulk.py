"""Metric points and progress of external runs, many at once, idempotently.

(Their samples go through ``r1web.traces.services.samples_record``, as r1web's own
sink's do: COPY on PostgreSQL, a position already stored skipped, with the per-step
sample statistics that chart reward, accuracy, length and reflection.)

Metric points: one upsert for the whole batch (the last value of a key at a step wins).
A batch's samples and metrics refresh the chart summaries of the steps they touched
once, together (``rollups.Summaries``).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from r1web.runs import rollups
from r1web.runs.models import MetricPoint, Stage
from r1web.traces.bulk import BULK


@transaction.atomic
def metrics_upsert(*, stage_pk: int, points: Iterable[tuple[int, dict[str, float]]],
                   summaries: rollups.Summaries | None = None) -> int:
    """Store ``(step, {key: value})`` points (values already finite) and refresh the
    chart summaries of the steps they fall in (now, or with the caller's ``summaries``).
    Returns the number of points."""
    latest: dict[tuple[str, int], float] = {}
    for step, values in points:
        for key, value in values.items():
            latest[(key[:200], step)] = value
    if not latest:
        return 0
    rows = [
        MetricPoint(stage_id=stage_pk, step=step, key=key, value=value)
        for (key, step), value in latest.items()
    ]
    MetricPoint.objects.bulk_create(
        rows,
        batch_size=BULK,
        update_conflicts=True,
        unique_fields=["stage", "key", "step"],
        update_fields=["value"],
    )
    steps = [step for _, step in latest]
    with rollups.summaries_of(stage_pk, summaries) as touched:
        touched.wrote({key for key, _ in latest}, min(steps), max(steps))
    return len(rows)


def progress_update(*, stage_pk: int, step: int, total: int) -> None:
    """Move the stage's progress forward (a replayed old batch never moves it back)."""
    fields = {"step": Greatest(F("step"), Value(step))}
    if total:
        fields["total_steps"] = total
    Stage.objects.filter(pk=stage_pk).update(**fields)
