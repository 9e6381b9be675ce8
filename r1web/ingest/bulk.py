"""Many samples and metric points at once, idempotently.

Samples: on PostgreSQL the rows are streamed with COPY into a temporary table, then
moved into ``traces_sample`` with ``ON CONFLICT DO NOTHING``, so a position already
stored (stage, step, group, index) is skipped whatever the batch holds; elsewhere
``bulk_create(ignore_conflicts=True)`` does the same. Rows are built by the function
r1web's own sink uses (``r1web.traces.services``), and their columns are read off the
model, so a column added to ``Sample`` is carried here too.

Metric points: one upsert for the whole batch (the last value of a key at a step wins),
then one refresh of the chart summaries over the steps it touched.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from r1web.runs import rollups
from r1web.runs.models import MetricPoint, Stage
from r1web.traces.models import Sample
from r1web.traces.services import BULK, _sample
from workers.domain.base import SampleRecord

COPY_FROM_ROWS = 64  # below this, a plain INSERT costs less than the temporary table


@transaction.atomic
def samples_insert(*, stage: Stage, records: list[SampleRecord]) -> int | None:
    """Store ``records``, skipping positions already stored. Returns how many rows were
    new where the database can say (PostgreSQL), else None."""
    rows = [_sample(stage, record, {}) for record in records]
    if not rows:
        return 0
    if connection.vendor == "postgresql" and len(rows) >= COPY_FROM_ROWS:
        return _copy_samples(rows)
    Sample.objects.bulk_create(rows, batch_size=BULK, ignore_conflicts=True)
    return None


def _copy_samples(rows: list[Sample]) -> int:
    fields = [f for f in Sample._meta.concrete_fields if not f.primary_key]
    quote = connection.ops.quote_name
    columns = ", ".join(quote(f.column) for f in fields)
    table = quote(Sample._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE ingest_samples ON COMMIT DROP AS "
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY ingest_samples ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    [f.get_db_prep_save(getattr(row, f.attname), connection) for f in fields]
                )
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ingest_samples "
            "ON CONFLICT DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute("DROP TABLE ingest_samples")
    return inserted


@transaction.atomic
def metrics_upsert(*, stage_pk: int, points: Iterable[tuple[int, dict[str, float]]]) -> int:
    """Store ``(step, {key: value})`` points (values already finite) and refresh the
    chart summaries of the steps they fall in. Returns the number of points."""
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
    keys = sorted({key for key, _ in latest})
    rollups.refresh(stage_pk=stage_pk, keys=keys, first_step=min(steps), last_step=max(steps))
    return len(rows)


def progress_update(*, stage_pk: int, step: int, total: int) -> None:
    """Move the stage's progress forward (a replayed old batch never moves it back)."""
    fields = {"step": Greatest(F("step"), Value(step))}
    if total:
        fields["total_steps"] = total
    Stage.objects.filter(pk=stage_pk).update(**fields)
