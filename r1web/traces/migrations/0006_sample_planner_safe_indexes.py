"""The sample table stays fast for a stage newer than its statistics (bench/load.py).

A live stage's rows are missing from the planner's statistics until the next ANALYZE,
which autovacuum runs only after 10% of the table changed: a whole run at ten million
samples. Estimating one row for it, the planner scanned the stage's single-column
foreign-key index to the end for every page, every chart and every recorded batch.
Those two indexes go (the (run, id) and (stage, id) indexes lead with the same column),
and the table is analyzed after every 10,000 new rows instead.

Dropped by name, not by Django's AlterField, which would also drop and re-validate both
foreign keys: a scan of every sample under lock. On SQLite nothing changes.
"""

import django.db.models.deletion
from django.db import migrations, models

# Django's names for the foreign keys' indexes (a hash of table and column: the same
# on every install).
INDEXES = {
    "traces_sample_run_id_476706ec": "run_id",
    "traces_sample_stage_id_80508cfa": "stage_id",
}


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
    schema_editor.execute(
        "ALTER TABLE traces_sample SET (autovacuum_analyze_scale_factor = 0.0, "
        "autovacuum_analyze_threshold = 10000)"
    )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON traces_sample ({column})")
    schema_editor.execute(
        "ALTER TABLE traces_sample RESET (autovacuum_analyze_scale_factor, "
        "autovacuum_analyze_threshold)"
    )


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0005_external_recipe"),
        ("traces", "0005_sample_probe"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="sample",
                    name="run",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="samples",
                        to="runs.run",
                    ),
                ),
                migrations.AlterField(
                    model_name="sample",
                    name="stage",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="samples",
                        to="runs.stage",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
