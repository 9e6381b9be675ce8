"""Trigram indexes for the trace browser's text search, on PostgreSQL only.

Django's ``icontains`` compiles to ``UPPER(col::text) LIKE UPPER(%s)``, so the indexes
are on ``UPPER(col)``: a rare word is then found through the index instead of by reading
every sample. SQLite (the embedded mode) keeps plain scans. Hand-written: keep it if the
migrations are regenerated.
"""

from django.db import migrations

INDEXES = {
    "sample_completion_trgm": "completion",
    "sample_prompt_trgm": "prompt",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, column in INDEXES.items():
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON traces_sample "
            f"USING gin (upper({column}) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("traces", "0001_initial")]
    operations = [migrations.RunPython(create, drop, elidable=False)]
