"""Finer statistics for the text search's trigram indexes, on PostgreSQL only.

With the default statistics target the planner estimates a rare word ("reconsider",
0.2% of samples) at a twentieth of its real count, so within one run it read every
sample containing the word, across all runs, before keeping the run's first page: half
a second at ten million samples (bench/trace_browser.py). With 300 histogram entries
per indexed expression it walks the run's newest samples instead (tens of ms), and the
trace browser's estimated totals come within a factor of two. The cost: ANALYZE reads
90,000 sampled rows instead of 30,000. Takes effect at the next ANALYZE.
"""

from django.db import migrations

INDEXES = ("sample_completion_trgm", "sample_prompt_trgm")  # see 0002_trigram_search
TARGET = 300


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(
            f"ALTER INDEX IF EXISTS {name} ALTER COLUMN 1 SET STATISTICS {TARGET}"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(
            f"ALTER INDEX IF EXISTS {name} ALTER COLUMN 1 SET STATISTICS -1"
        )


class Migration(migrations.Migration):
    dependencies = [("traces", "0006_sample_planner_safe_indexes")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
