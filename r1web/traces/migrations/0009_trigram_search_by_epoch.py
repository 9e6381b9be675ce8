"""The text search's trigram indexes also hold each sample's id epoch (``id / 65536``),
on PostgreSQL only.

Newest first, a rare word's page needs its newest matches, but a trigram index gives
every match of the run, and PostgreSQL rechecks each one in the table before it applies
an id bound: at ten million samples, the run's 3,986 samples holding "reconsider"
rechecked to show 51 (24 ms; bench/trace_browser.py). With the epoch in the index, the
selectors ask for one epoch at a time, newest first (``selectors._newest_by_epoch``), and
the index answers "this word in this run in these 65,536 ids": 64 rows read, 1.6 ms.
An epoch is one more entry per sample in each index (a trigram index already holds one
per distinct trigram). The selectors write the epoch exactly as the index does, compared
with a bigint (``selectors._bigint``). Rebuilding the two indexes takes minutes on a
table of millions (about three each at ten million samples).
"""

from django.db import migrations

COLUMNS = {"sample_completion_trgm": "completion", "sample_prompt_trgm": "prompt"}
TARGET = 300  # see 0007_trigram_statistics
EPOCH = 65536  # ids per epoch; selectors.EPOCH


def _rebuild(schema_editor, columns: str, text_position: int) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in COLUMNS.items():
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")
        schema_editor.execute(
            f"CREATE INDEX {name} ON traces_sample "
            f"USING gin ({columns}, upper({column}) gin_trgm_ops)"
        )
        schema_editor.execute(
            f"ALTER INDEX {name} ALTER COLUMN {text_position} SET STATISTICS {TARGET}"
        )


def forwards(apps, schema_editor):
    _rebuild(schema_editor, f"run_id, stage_id, (id / {EPOCH})", 4)


def backwards(apps, schema_editor):
    _rebuild(schema_editor, "run_id, stage_id", 3)


class Migration(migrations.Migration):
    dependencies = [("traces", "0008_trigram_search_by_run")]
    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
