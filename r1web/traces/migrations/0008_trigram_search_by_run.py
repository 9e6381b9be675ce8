"""The text search's trigram indexes lead with the run and the stage, on PostgreSQL only.

A rare word searched within one run ("reconsider", 0.2% of samples) was found through
the trigram index in every run, and each hit read from the table before the other
runs' were dropped: at ten million samples, five runs, that is five times the reads the
run needs (bench/trace_browser.py, "text search (rare)"). A GIN index over
``(run_id, stage_id, upper(col))`` (btree_gin for the ids) answers "this word in this
run" or "in this stage" from the index; a search over every run uses the trigram column
alone, as before (GIN serves any subset of its columns). The selectors compare ids as
bigint literals (``selectors._bigint``): btree_gin has no integer-to-bigint operator.
Statistics as in 0007, on the text column (now the third). Rebuilding the two indexes
takes minutes on a table of millions.
"""

from django.db import migrations

COLUMNS = {"sample_completion_trgm": "completion", "sample_prompt_trgm": "prompt"}
TARGET = 300  # see 0007_trigram_statistics


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    for name, column in COLUMNS.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(
            f"CREATE INDEX {name} ON traces_sample "
            f"USING gin (run_id, stage_id, upper({column}) gin_trgm_ops)"
        )
        schema_editor.execute(f"ALTER INDEX {name} ALTER COLUMN 3 SET STATISTICS {TARGET}")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in COLUMNS.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(
            f"CREATE INDEX {name} ON traces_sample USING gin (upper({column}) gin_trgm_ops)"
        )
        schema_editor.execute(f"ALTER INDEX {name} ALTER COLUMN 1 SET STATISTICS {TARGET}")


class Migration(migrations.Migration):
    dependencies = [("traces", "0007_trigram_statistics")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
