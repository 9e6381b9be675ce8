"""Exports and imports show their progress: a large version is written by a worker
behind a page (rows, rate, time left, then the download), and the commands print it."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from r1web.datasets.exports import dataset_export_run, dataset_exports_reap_stale
from r1web.datasets.models import DatasetExport
from r1web.datasets.services import dataset_version_create

STOP_POLLING = 286


def records(n: int) -> list[dict]:
    return [{"key": f"k{i}", "prompt": f"p{i}", "answer": str(i)} for i in range(n)]


@pytest.fixture
def large(db, settings, tmp_path):
    """A version over the within-a-request limit (lowered to 3 rows)."""
    settings.VAR_DIR = tmp_path
    settings.R1WEB_UPLOAD_TASK_ROWS = 3
    return dataset_version_create(name="big", records=records(5), source="t")


def test_a_small_version_downloads_at_once(viewer, db):
    version = dataset_version_create(name="small", records=records(2), source="t")
    page = viewer.get(version.get_absolute_url()).content.decode()
    assert reverse("datasets:download", args=["small", 1, "jsonl"]) in page
    assert "export-create" not in page and 'name="format"' not in page


def test_a_large_version_is_exported_by_a_worker_behind_a_progress_page(
    viewer, large, django_capture_on_commit_callbacks
):
    page = viewer.get(large.get_absolute_url()).content.decode()
    assert 'name="format" value="parquet"' in page  # a button per format, posting a job
    with django_capture_on_commit_callbacks() as queued:
        response = viewer.post(
            reverse("datasets:export-create", args=["big", 1]), {"format": "jsonl"}
        )
    job = DatasetExport.objects.get()
    assert response.url == job.get_absolute_url() and len(queued) == 1
    assert "Waiting for a worker" in viewer.get(response.url).content.decode()

    dataset_export_run(export_pk=job.pk)  # what the queued task does
    polled = viewer.get(job.get_absolute_url(), headers={"HX-Request": "true"})
    assert polled.status_code == STOP_POLLING
    assert "5 examples written" in polled.content.decode()
    download = viewer.get(reverse("datasets:export-download", args=[job.pk]))
    rows = [json.loads(line) for line in b"".join(download.streaming_content).splitlines()]
    assert [row["key"] for row in rows] == [f"k{i}" for i in range(5)]
    assert 'filename="big-v1.jsonl"' in download["Content-Disposition"]


def test_a_running_export_shows_rows_rate_and_time_left(viewer, large):
    started = timezone.now() - timedelta(seconds=10)
    job = DatasetExport.objects.create(
        version=large,
        fmt="jsonl",
        status=DatasetExport.Status.WRITING,
        rows_total=300,
        rows_written=100,
        started_at=started,
        heartbeat_at=started + timedelta(seconds=10),
    )
    page = viewer.get(job.get_absolute_url()).content.decode()
    assert "Writing examples: 100 of 300 · 10 rows/s · 20s left." in page
    assert 'aria-valuenow="33"' in page and 'hx-trigger="every 2s"' in page
    assert viewer.get(reverse("datasets:export-download", args=[job.pk])).status_code == 404


def test_an_export_whose_worker_died_fails_and_an_old_file_expires(viewer, large, settings):
    settings.R1WEB_STALE_AFTER_SECONDS = 5
    long_ago = timezone.now() - timedelta(days=2)
    dead = DatasetExport.objects.create(
        version=large,
        fmt="jsonl",
        rows_total=5,
        status=DatasetExport.Status.WRITING,
        started_at=long_ago,
        heartbeat_at=long_ago,
    )
    folder = Path(settings.VAR_DIR) / "exports" / "export-old"
    folder.mkdir(parents=True)
    (folder / "big-v1.jsonl").write_text("{}\n")
    old = DatasetExport.objects.create(
        version=large,
        fmt="jsonl",
        rows_total=5,
        status=DatasetExport.Status.SUCCEEDED,
        path=str(folder / "big-v1.jsonl"),
        finished_at=long_ago,
    )
    assert dataset_exports_reap_stale() == 1
    dead.refresh_from_db(), old.refresh_from_db()
    assert dead.status == "failed" and "stopped responding" in dead.error
    assert not folder.exists() and old.path == ""
    assert "removed after a day" in viewer.get(old.get_absolute_url()).content.decode()


def test_the_commands_print_import_and_export_progress(db, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in records(2500)))
    out = io.StringIO()
    call_command("import_dataset", str(source), "--name", "many", stdout=out)
    text = out.getvalue()
    assert "checking: row 2,500/2,500 (100%)" in text
    assert "writing: row 2,500/2,500 (100%)" in text

    out = io.StringIO()
    call_command(
        "export_dataset",
        "many",
        "--format",
        "parquet",
        "--out",
        str(tmp_path / "out.parquet"),
        stdout=out,
    )
    text = out.getvalue()
    assert "reading the 2,500 examples of many v1..." in text
    assert "writing: row 2,500/2,500 (100%)" in text
