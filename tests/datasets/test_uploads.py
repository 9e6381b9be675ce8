"""Uploads at scale (issue 7, point 3): size and row limits, streaming parse, large files
imported by a worker behind a progress page, and upload files removed however it ends."""

from __future__ import annotations

import inspect
import json
import os
import time
import tracemalloc
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from r1web.datasets.files import iter_examples
from r1web.datasets.imports import (
    dataset_import_run,
    dataset_imports_reap_stale,
    runs_as_task,
    uploads_sweep,
)
from r1web.datasets.models import Dataset, DatasetImport, DatasetVersion, Example
from r1web.datasets.services import DatasetError, dataset_import_file

STOP_POLLING = 286


def gsm8k_lines(n: int, bad_at: int | None = None) -> bytes:
    lines = []
    for i in range(1, n + 1):
        row = {"question": f"What is {i} + 1?", "answer": f"{i} + 1\n#### {i + 1}"}
        if i == bad_at:
            row = {"question": "no final answer here", "answer": "forgot the marker"}
        lines.append(json.dumps(row))
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def uploads(settings, tmp_path, db):
    """VAR_DIR in a folder of this test's own; returns its uploads folder."""
    settings.VAR_DIR = tmp_path
    return tmp_path / "uploads"


def leftovers(uploads) -> list[str]:
    return sorted(p.name for p in uploads.iterdir()) if uploads.exists() else []


def post(client, data: bytes, name: str = "up.jsonl", **fields):
    upload = SimpleUploadedFile(name, data)
    form = {"file": upload, "name": "up", "format": "auto", "split": "train", **fields}
    return client.post(reverse("datasets:upload"), form)


def nothing_written() -> bool:
    return not (Dataset.objects.exists() or DatasetVersion.objects.exists()
                or Example.objects.exists())


# --- limits ---------------------------------------------------------------------------


@pytest.mark.parametrize("size", [5_000, 200_000])  # past the limit / past the body's too
def test_an_over_size_upload_is_refused_with_a_message_and_leaves_no_file(
    client, bob, settings, uploads, size
):
    settings.R1WEB_UPLOAD_MAX_BYTES = 4_000
    client.force_login(bob)
    response = post(client, b'{"prompt": "p", "answer": "1"}\n' * (size // 31))
    assert response.status_code == 413
    page = response.content.decode()
    assert "larger than the upload limit of 3.91 KiB" in page
    assert "nothing was imported" in page
    assert nothing_written() and not DatasetImport.objects.exists()
    assert leftovers(uploads) == []


def test_the_upload_form_names_its_size_limit(client, bob, settings, uploads):
    settings.R1WEB_UPLOAD_MAX_BYTES = 512 * 2**20
    client.force_login(bob)
    assert "at most 512 MiB" in client.get(reverse("datasets:upload")).content.decode()


def test_a_file_over_the_row_limit_is_refused_and_nothing_is_written(
    client, bob, settings, uploads
):
    settings.R1WEB_UPLOAD_MAX_ROWS = 5
    client.force_login(bob)
    response = post(client, gsm8k_lines(6))
    assert response.status_code == 400
    assert "more than 5 examples" in response.content.decode()
    assert nothing_written()
    assert leftovers(uploads) == []


def test_a_viewer_posting_a_file_is_refused_before_it_is_stored(client, charlie, uploads):
    client.force_login(charlie)
    assert post(client, gsm8k_lines(3)).status_code == 403
    assert leftovers(uploads) == []


def test_the_upload_still_checks_csrf_after_its_handler_is_set(bob, uploads):
    # The view is csrf_exempt only so its upload handler goes in before the body is read;
    # the check itself runs right after.
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert post(client, gsm8k_lines(3)).status_code == 403
    assert nothing_written() and leftovers(uploads) == []
    client.get(reverse("datasets:upload"))
    token = client.cookies["csrftoken"].value
    assert post(client, gsm8k_lines(3), csrfmiddlewaretoken=token).status_code == 302
    assert DatasetVersion.objects.get().num_examples == 3


# --- small uploads: at once ---------------------------------------------------------


def test_a_small_upload_is_imported_at_once_and_its_file_removed(client, bob, uploads):
    client.force_login(bob)
    response = post(client, gsm8k_lines(3))
    version = DatasetVersion.objects.get(dataset__name="up")
    assert response.status_code == 302 and response.url == version.get_absolute_url()
    assert version.num_examples == 3
    assert not DatasetImport.objects.exists()
    assert leftovers(uploads) == []


def test_a_bad_small_upload_names_its_line_and_leaves_no_file(client, bob, uploads):
    client.force_login(bob)
    response = post(client, gsm8k_lines(4, bad_at=3))
    assert response.status_code == 400
    assert "up.jsonl line 3" in response.content.decode()
    assert nothing_written()
    assert leftovers(uploads) == []


# --- large uploads: a job -------------------------------------------------------------


@pytest.fixture
def task_threshold(settings):
    settings.R1WEB_UPLOAD_TASK_ROWS = 10


def test_a_large_upload_becomes_a_job_and_its_page_shows_it_waiting(
    client, bob, uploads, task_threshold
):
    client.force_login(bob)
    response = post(client, gsm8k_lines(50))
    job = DatasetImport.objects.get()
    assert response.status_code == 302 and response.url == job.get_absolute_url()
    assert (job.status, job.file_name, job.name) == ("queued", "up.jsonl", "up")
    # Kept under VAR_DIR (not /tmp) for the worker, and nothing written yet.
    assert leftovers(uploads) == [f"import-{job.pk}.jsonl"]
    assert nothing_written()
    page = client.get(job.get_absolute_url())
    assert page.status_code == 200
    assert "Waiting for a worker" in page.content.decode()


def test_a_large_import_writes_every_row_and_removes_its_file(
    client, bob, uploads, task_threshold
):
    client.force_login(bob)
    post(client, gsm8k_lines(50))
    job = dataset_import_run(import_pk=DatasetImport.objects.get().pk)
    assert job.status == "succeeded"
    assert (job.rows_total, job.rows_written, job.version.num_examples) == (50, 50, 50)
    assert list(job.version.examples.values_list("key", flat=True)[:2]) == [
        "up.jsonl:1", "up.jsonl:2"]
    assert leftovers(uploads) == []
    fragment = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert fragment.status_code == STOP_POLLING
    assert "Imported 50 examples" in fragment.content.decode()
    assert job.version.get_absolute_url() in fragment.content.decode()


def test_a_malformed_line_in_a_large_import_leaves_nothing_written_and_no_file(
    client, bob, uploads, task_threshold
):
    client.force_login(bob)
    post(client, gsm8k_lines(40, bad_at=37))
    job = dataset_import_run(import_pk=DatasetImport.objects.get().pk)
    assert job.status == "failed"
    assert "up.jsonl line 37: answer has no '#### <final answer>'" in job.error
    assert nothing_written()
    assert leftovers(uploads) == []
    fragment = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    assert fragment.status_code == STOP_POLLING
    body = fragment.content.decode()
    assert "Nothing was imported" in body and "line 37" in body


def test_an_import_runs_once_even_if_its_task_is_delivered_twice(
    client, bob, uploads, task_threshold
):
    client.force_login(bob)
    post(client, gsm8k_lines(20))
    pk = DatasetImport.objects.get().pk
    assert dataset_import_run(import_pk=pk).status == "succeeded"
    assert dataset_import_run(import_pk=pk) is None
    assert DatasetVersion.objects.count() == 1


def test_an_import_the_broker_never_took_is_failed_and_its_file_removed(
    client, bob, uploads, task_threshold, monkeypatch, django_capture_on_commit_callbacks
):
    from r1web.celery import app

    def refuse(*args, **kwargs):
        raise ConnectionError("broker down")

    monkeypatch.setattr(app, "send_task", refuse)
    client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=True):
        post(client, gsm8k_lines(20))
    job = DatasetImport.objects.get()
    assert job.status == "failed" and "could not be queued" in job.error
    # Its file goes with the next sweep rather than waiting for a worker that never comes.
    os.utime(job.path, (time.time() - 7 * 3600,) * 2)
    uploads_sweep()
    assert leftovers(uploads) == []


def test_large_files_by_size_or_rows_run_as_tasks(settings, tmp_path):
    settings.R1WEB_UPLOAD_TASK_BYTES, settings.R1WEB_UPLOAD_TASK_ROWS = 2_000, 20
    small, many, big = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "c.jsonl"
    small.write_bytes(gsm8k_lines(5))
    many.write_bytes(b"{}\n" * 21)
    big.write_bytes(b"x" * 2_001)
    assert not runs_as_task(small, fmt="auto", file_name="a.jsonl")
    assert runs_as_task(many, fmt="auto", file_name="b.jsonl")
    assert runs_as_task(big, fmt="auto", file_name="c.jsonl")


# --- the progress page ----------------------------------------------------------------


def make_job(uploads, **fields) -> DatasetImport:
    uploads.mkdir(parents=True, exist_ok=True)
    path = uploads / f"import-{DatasetImport.objects.count() + 1}.jsonl"
    path.write_bytes(gsm8k_lines(3))
    defaults = {"name": "big", "file_name": "big.jsonl", "path": str(path),
                "total_bytes": 4 * 2**20}
    return DatasetImport.objects.create(**{**defaults, **fields})


def test_the_progress_fragment_shows_rows_done_of_total_and_keeps_polling(
    client, charlie, uploads
):
    client.force_login(charlie)
    job = make_job(uploads, status="checking", rows_checked=1200, bytes_checked=2**20)
    response = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="import-progress"')
    assert 'hx-trigger="every 2s"' in body and "<html" not in body
    assert "1200 rows so far, 1.0\xa0MB of 4.0\xa0MB" in body
    assert "HX-Request" in response["Vary"]
    DatasetImport.objects.filter(pk=job.pk).update(
        status="writing", rows_total=5000, rows_written=2000
    )
    body = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert "Writing examples: 2000 of 5000 rows" in body
    assert 'aria-valuenow="70"' in body  # checked (half), then 40% of the writing half


def test_the_progress_page_loads_whole_without_htmx(client, charlie, uploads):
    client.force_login(charlie)
    job = make_job(uploads, status="failed", error="big.jsonl line 9: invalid JSON")
    response = client.get(job.get_absolute_url())
    assert response.status_code == 200  # a plain page load never gets the stop status
    body = response.content.decode()
    assert "<html" in body and "big.jsonl line 9: invalid JSON" in body
    assert "hx-trigger" not in body


# --- crashes and orphans --------------------------------------------------------------


def test_an_import_whose_worker_died_is_failed_and_its_file_removed(uploads, settings):
    settings.R1WEB_STALE_AFTER_SECONDS = 60
    long_ago = timezone.now() - timedelta(minutes=5)
    dead = make_job(uploads, status="writing", heartbeat_at=long_ago)
    alive = make_job(uploads, status="checking", heartbeat_at=timezone.now())
    assert dataset_imports_reap_stale() == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.status == "failed" and "worker stopped responding" in dead.error
    assert alive.status == "checking"
    assert leftovers(uploads) == [os.path.basename(alive.path)]


def test_only_old_upload_files_that_no_live_import_owns_are_swept(uploads):
    owned_old = make_job(uploads, status="queued").path
    finished_old = make_job(uploads, status="failed").path
    orphan_old, orphan_new = uploads / "incoming-a.part", uploads / "incoming-b.part"
    orphan_old.write_bytes(b"x")
    orphan_new.write_bytes(b"x")
    hours_ago = time.time() - 7 * 3600
    for path in (owned_old, finished_old, orphan_old):
        os.utime(path, (hours_ago, hours_ago))
    assert uploads_sweep() == 2
    assert leftovers(uploads) == sorted(
        [os.path.basename(owned_old), "incoming-b.part"]
    )


# --- streaming ------------------------------------------------------------------------


def test_the_parser_is_a_generator_that_reads_no_further_than_asked(tmp_path):
    path = tmp_path / "late.jsonl"
    path.write_bytes(gsm8k_lines(3000, bad_at=3000))
    examples = iter_examples(path)
    assert inspect.isgenerator(examples)
    # The first example comes before the bad last line is ever read.
    assert next(examples)["key"] == "late.jsonl:1"


def test_parquet_is_read_one_record_batch_at_a_time(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{"prompt": f"p{i}", "answer": str(i)} for i in range(5000)]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "t.parquet", row_group_size=1000)
    examples = iter_examples(tmp_path / "t.parquet")
    assert next(examples)["prompt"] == "p0"
    assert sum(1 for _ in examples) == 4999


def test_checking_a_large_file_holds_one_row_not_the_file(tmp_path):
    # A 1.4 MB file here; bench/upload.py measures the 1,000,000-line file of the finding.
    from r1web.datasets.services import _summarize, _with_defaults

    path = tmp_path / "big.jsonl"
    path.write_bytes(gsm8k_lines(20_000))
    tracemalloc.start()
    try:
        summary = _summarize(_with_defaults(r) for r in iter_examples(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert summary.rows == 20_000
    assert peak < path.stat().st_size / 8, f"peak {peak} for a {path.stat().st_size}-byte file"


# --- hostile content ------------------------------------------------------------------


@pytest.mark.parametrize(
    "line, reason",
    [
        (b'{"prompt": "p", "answer": NaN}', "NaN is not a JSON number"),
        (b'{"prompt": "p", "answer": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"prompt": ' + b"[" * 100_000 + b"]" * 100_000 + b', "answer": "1"}',
         "nested too deeply"),
        (b'{"prompt": "p", "answer": "1", "task": ["a"]}', "'task' must be text, not a list"),
        (b'{"prompt": "p", "answer": "1", "split": "' + b"s" * 21 + b'"}',
         "'split' is longer than 20 characters"),
        (b'{"prompt": "p", "answer": "1", "task": "' + b"t" * 51 + b'"}',
         "'task' is longer than 50 characters"),
        (b'{"prompt": "p", "completion": "c", "provenance": "{not json"}',
         "'provenance' is not a JSON object"),
        (b'{"prompt": "p", "completion": "c", "provenance": [1, 2]}',
         "'provenance' must be an object"),
        # Issue 23: a lone surrogate got in, and failed the write (a 500).
        (rb'{"prompt": "p\ud800", "answer": "1"}', "prompt: text that is not valid Unicode"),
        (rb'{"prompt": "p", "answer": "1", "\udfff": 2}', "not valid Unicode"),
    ],
)
def test_a_hostile_line_is_a_clear_error_and_writes_nothing(db, tmp_path, line, reason):
    path = tmp_path / "h.jsonl"
    path.write_bytes(b'{"prompt": "ok", "answer": "1"}\n' + line + b"\n")
    with pytest.raises(DatasetError, match="h.jsonl line 2") as error:
        dataset_import_file(path=path, name="h")
    assert reason in str(error.value)
    assert nothing_written()


def test_a_line_longer_than_the_cap_is_refused_without_reading_it_whole(tmp_path):
    from r1domain.datafiles import DatasetFileError, iter_lines

    path = tmp_path / "long.jsonl"
    path.write_bytes(b'{"prompt": "ok", "answer": "1"}\n' + b"x" * 5000 + b"\n")
    with path.open("rb") as stream, pytest.raises(DatasetFileError, match="line 2: longer"):
        list(iter_lines(stream, "long.jsonl", max_line_bytes=1000))
