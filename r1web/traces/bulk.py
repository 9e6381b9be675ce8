"""Many samples stored at once, idempotently, as cheaply as the database allows.

Every writer of samples comes here: a worker's sink (``services.samples_record``), the
ingestion API and log imports (``r1web.ingest.bulk``). A position already stored
(stage, step, group, index, probe) is skipped, so a retried batch never stores a
completion twice.

On PostgreSQL a batch is streamed with COPY straight into ``traces_sample``. Only when
that meets a stored position (a retried or replayed batch) is it rolled back and sent
again through a temporary table and ``INSERT ... ON CONFLICT DO NOTHING``. That second
path writes every row twice, and it was what every batch paid before (``bench/ingest.py``).
Rows are plain values in column order, not model instances: building a ``Sample`` and
preparing each field through the ORM cost more than the COPY itself. Elsewhere
``bulk_create(ignore_conflicts=True)`` does the same job.
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
from django.db import connection, transaction
from django.utils import timezone

from r1web.safe_text import db_json, db_text
from r1web.traces.models import Sample

BULK = 1000
COPY_FROM_ROWS = 64  # below this, a plain INSERT costs less than starting a COPY


def sample_values(stage, record, example_ids: dict[str, int]) -> dict[str, Any]:
    """A ``SampleRecord`` of ``stage`` as the sample's field values (by attname), made
    safe for the database (no NUL bytes)."""
    phrases = list(record.reflection_phrases)
    return {
        "run_id": stage.run_id,
        "stage_id": stage.pk,
        "step": record.step,
        "group": record.group,
        "index": record.index,
        "example_id": example_ids.get(record.example_key),
        "example_key": db_text(record.example_key[:200]),
        "prompt": db_text(record.prompt),
        "completion": db_text(record.completion),
        "think": db_text(record.think),
        "answer": db_text(record.answer),
        "reference": db_text(record.reference),
        "rewards": {db_text(k): float(v) for k, v in record.rewards.items()},
        "reward": float(record.reward),
        "advantage": float(record.advantage),
        "length_tokens": int(record.length_tokens),
        "correct": bool(record.correct),
        "format_ok": bool(record.format_ok),
        "reflection_phrases": db_json(phrases),
        "reflection_count": min(len(phrases), 32767),
        "verdict": record.verdict[:40],
        "judge": db_json(dict(record.judge)),
        "probe": bool(record.probe),
    }


@transaction.atomic(savepoint=False)  # its COPY keeps a savepoint
def samples_store(rows: list[dict[str, Any]]) -> int | None:
    """Store ``rows`` (``sample_values``), skipping positions already stored. Returns how
    many were new where the database can say (PostgreSQL), else None."""
    if not rows:
        return 0
    if connection.vendor == "postgresql" and len(rows) >= COPY_FROM_ROWS:
        return _copy(rows)
    Sample.objects.bulk_create([Sample(**row) for row in rows], batch_size=BULK,
                               ignore_conflicts=True)
    return None


def _fields():
    return [f for f in Sample._meta.concrete_fields if not f.primary_key]


def _copy(rows: list[dict[str, Any]]) -> int:
    fields = _fields()
    defaults = {f.attname: f.get_default() for f in fields}  # created_at: one "now" a batch
    defaults["created_at"] = timezone.now()
    json_fields = {f.attname for f in fields if f.get_internal_type() == "JSONField"}
    values = [_copy_row(row, defaults, json_fields) for row in rows]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    table = connection.ops.quote_name(Sample._meta.db_table)
    try:
        with transaction.atomic():  # a savepoint: only this COPY is undone if it clashes
            _copy_into(table, columns, values)
        return len(values)
    except psycopg.errors.UniqueViolation:
        pass  # some positions are stored already: keep those, add the rest
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE ingest_samples ON COMMIT DROP AS "
            f"SELECT {columns} FROM {table} WITH NO DATA"
        )
        _copy_into("ingest_samples", columns, values)
        cursor.execute(
            f"INSERT INTO {table} ({columns}) SELECT {columns} FROM ingest_samples "
            "ON CONFLICT DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute("DROP TABLE ingest_samples")
    return inserted


def _copy_row(row: dict[str, Any], defaults: dict[str, Any], json_fields: set[str]) -> list:
    """One row's values in column order; COPY takes JSON as its text."""
    values = []
    for name, default in defaults.items():
        value = row.get(name, default)
        values.append(json.dumps(value) if name in json_fields else value)
    return values


def _copy_into(table: str, columns: str, values: list[list]) -> None:
    with connection.cursor() as cursor, cursor.cursor.copy(
        f"COPY {table} ({columns}) FROM STDIN"
    ) as copy:
        for row in values:
            copy.write_row(row)
