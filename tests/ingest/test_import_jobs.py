"""Rollout imports at scale (issue 23, finding 2): a row limit, logs streamed (memory
flat), and large logs imported by a worker behind a progress page, as dataset uploads."""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone

from r1web.ingest.imports import rollout_import_run, rollout_imports_reap_stale
from r1web.ingest.logfiles import read_rollouts
from r1web.ingest.models import RolloutImport
from r1web.runs.models import Run
from r1web.traces.models import Sample

STOP_POLLING = 286


def repeated_parquet(path, rows: int, step: int = 1):
    """The finding's file: one prompt and one completion, dictionary-encoded, many rows."""
    completion = "<think>ok</think><answer>4</answer>"
    table = pa.table({
        "step": pa.array([step] * rows, pa.int64()),
        "prompt": pa.array(["What is 2 + 2?"] * rows).dictionary_encode(),
        "completion": pa.array([completion] * rows).dictionary_encode(),
        "accuracy_reward": pa.array([1.0] * rows),
    })
    pq.write_table(table, path, use_dictionary=True)
    return path


@pytest.fixture
def uploads(settings, tmp_path, db):
    """VAR_DIR in a folder of this test's own; returns where rollout uploads are kept."""
    settings.VAR_DIR = tmp_path
    settings.R1WEB_UPLOAD_TASK_ROWS = 10
    return tmp_path / "uploads" / "rollouts"


def leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def post(client, files: list[tuple[str, bytes]], **fields):
    form = {
        "files": [SimpleUploadedFile(name, data) for name, data in files],
        "format": "auto", "name": "big logs", "completion_format": "r1-zero", **fields,
    }
    return client.post(reverse("ingest:import"), form)


def verl_lines(n: int, bad_at: int | None = None) -> bytes:
    lines = [
        '{"input": "2 + 2?", "output": "<answer>4</answer>", "score": %s, "step": 1}'
        % ("1" if i != bad_at else '"high"')
        for i in range(1, n + 1)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_reading_a_million_row_parquet_keeps_memory_flat(tmp_path):
    # 10,000 rows here: 1.6 MiB at the peak, where holding every row of a file at once
    # took 8.3 MiB (and 2 GB for the finding's million).
    path = repeated_parquet(tmp_path / "c.parquet", 10_000)
    tracemalloc.start()
    try:
        rows = sum(1 for _ in read_rollouts([("c.parquet", path)], "trl", num_generations=8))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rows == 10_000
    assert peak < 4 * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_logs_over_the_task_threshold_become_a_job_and_its_page_shows_it_waiting(
    client, alice, uploads, tmp_path
):
    client.force_login(alice)
    data = repeated_parquet(tmp_path / "x.parquet", 50).read_bytes()
    response = post(client, [("completions_00001.parquet", data)])
    job = RolloutImport.objects.get()
    assert response.status_code == 302 and response.url == job.get_absolute_url()
    assert (job.status, job.fmt, job.file_names()) == ("queued", "trl",
                                                       ["completions_00001.parquet"])
    assert leftovers(uploads) == [f"import-{job.pk}-0.log"]
    assert not Run.objects.exists()
    page = client.get(job.get_absolute_url())
    assert page.status_code == 200 and "Waiting for a worker" in page.content.decode()


def test_a_worker_imports_every_row_and_removes_the_files(client, alice, uploads, tmp_path):
    client.force_login(alice)
    first = repeated_parquet(tmp_path / "1.parquet", 50).read_bytes()
    second = repeated_parquet(tmp_path / "2.parquet", 50, step=2).read_bytes()
    post(client, [("completions_00001.parquet", first), ("completions_00002.parquet", second)])
    job = rollout_import_run(import_pk=RolloutImport.objects.get().pk)
    assert job.status == "succeeded", job.error
    assert (job.rows_total, job.rows_written) == (100, 100)
    assert Sample.objects.filter(run=job.external.run).count() == 100
    assert job.external.run.created_by == alice and job.external.run.name == "big logs"
    assert leftovers(uploads) == []
    fragment = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert fragment.status_code == STOP_POLLING
    assert "Imported 100 completions" in fragment.content.decode()
    assert job.external.run.get_absolute_url() in fragment.content.decode()


def test_a_bad_row_in_a_large_import_leaves_nothing_written_and_no_file(
    client, alice, uploads
):
    client.force_login(alice)
    post(client, [("1.jsonl", verl_lines(40, bad_at=37))])
    job = rollout_import_run(import_pk=RolloutImport.objects.get().pk)
    assert job.status == "failed"
    assert "1.jsonl line 37: field 'score' must be a finite number" in job.error
    assert not Run.objects.exists() and not Sample.objects.exists()
    assert leftovers(uploads) == []
    fragment = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert "Nothing was imported" in fragment.content.decode()


def test_an_import_runs_once_even_if_its_task_is_delivered_twice(client, alice, uploads):
    client.force_login(alice)
    post(client, [("1.jsonl", verl_lines(20))])
    pk = RolloutImport.objects.get().pk
    assert rollout_import_run(import_pk=pk).status == "succeeded"
    assert rollout_import_run(import_pk=pk) is None
    assert Run.objects.count() == 1


def test_a_worker_that_died_mid_import_is_reaped_and_its_files_removed(
    client, alice, uploads, settings
):
    client.force_login(alice)
    post(client, [("1.jsonl", verl_lines(20))])
    long_ago = timezone.now() - timedelta(seconds=settings.R1WEB_STALE_AFTER_SECONDS + 1)
    RolloutImport.objects.update(status="writing", heartbeat_at=long_ago)
    assert rollout_imports_reap_stale() == 1
    job = RolloutImport.objects.get()
    assert job.status == "failed" and "stopped responding" in job.error
    assert leftovers(uploads) == []


# --- the row limit ------------------------------------------------------------------


@pytest.fixture
def row_limit(settings):
    settings.R1WEB_IMPORT_MAX_ROWS = 30
    return 30


def test_logs_past_the_row_limit_are_refused_in_the_browser_naming_the_setting(
    client, alice, uploads, row_limit, settings
):
    settings.R1WEB_UPLOAD_TASK_ROWS = 1000  # small enough to import in the request
    client.force_login(alice)
    response = post(client, [("1.jsonl", verl_lines(40))])
    assert response.status_code == 400
    assert "hold 40 completions" in response.content.decode()
    assert "R1WEB_IMPORT_MAX_ROWS" in response.content.decode()
    assert not Run.objects.exists() and not RolloutImport.objects.exists()


def test_logs_past_the_row_limit_fail_their_job_naming_the_setting(
    client, alice, uploads, row_limit, settings
):
    settings.R1WEB_UPLOAD_TASK_BYTES = 10  # a job by its size: its rows are counted there
    client.force_login(alice)
    post(client, [("1.jsonl", verl_lines(40))])
    job = rollout_import_run(import_pk=RolloutImport.objects.get().pk)
    assert job.status == "failed" and "R1WEB_IMPORT_MAX_ROWS" in job.error
    assert not Run.objects.exists() and leftovers(uploads) == []


def test_the_command_refuses_logs_past_the_row_limit(alice, tmp_path, row_limit):
    repeated_parquet(tmp_path / "completions_00001.parquet", 31)
    with pytest.raises(CommandError, match="hold 31 completions.*R1WEB_IMPORT_MAX_ROWS"):
        call_command("import_rollouts", str(tmp_path), "--user", "alice")
    assert not Run.objects.exists()
