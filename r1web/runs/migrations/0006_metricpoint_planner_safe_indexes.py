"""Metric points and their summaries stay fast for a stage newer than the statistics
(bench/load.py; see traces 0006): the stage-only index of metric points goes (the unique
(stage, key, step) index leads with it and reads one key in step order), and both tables
are analyzed after every 10,000 changed rows instead of after 10% of the table.

Dropped by name, not by Django's AlterField, which would also drop and re-validate the
foreign key. On SQLite nothing changes.
"""

import django.db.models.deletion
from django.db import migrations, models

INDEX = "runs_metricpoint_stage_id_6c9f87e6"  # Django's name: the same on every install
TABLES = ("runs_metricpoint", "runs_metricrollup")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
    for table in TABLES:
        schema_editor.execute(
            f"ALTER TABLE {table} SET (autovacuum_analyze_scale_factor = 0.0, "
            "autovacuum_analyze_threshold = 10000)"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON runs_metricpoint (stage_id)")
    for table in TABLES:
        schema_editor.execute(
            f"ALTER TABLE {table} RESET (autovacuum_analyze_scale_factor, "
            "autovacuum_analyze_threshold)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("runs", "0005_external_recipe"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="metricpoint",
                    name="stage",
                    field=models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="metric_points",
                        to="runs.stage",
                    ),
                ),
            ],
            database_operations=[migrations.RunPython(forwards, backwards)],
        ),
    ]
