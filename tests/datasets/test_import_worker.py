"""A large upload imported by a real Celery worker process, watched through its page.

Uses the worker machinery of tests/integration (its own queue per test session; the
broker and database the settings name) without running anything from there.
"""

from __future__ import annotations

import json
import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.urls import reverse

from r1web.datasets.models import DatasetImport, DatasetVersion, Example
from tests.integration.conftest import QUEUE, Worker, database_url, wait_for

pytestmark = pytest.mark.slow
LINES = 50_000
STOP_POLLING = 286


@pytest.fixture
def start_worker(transactional_db, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # the upload is stored here; the job names it in full
    settings.R1WEB_IMPORT_QUEUE = QUEUE
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1",
           "R1WEB_HEARTBEAT_SECONDS": "1", "R1WEB_STALE_AFTER_SECONDS": "6"}
    workers: list[Worker] = []

    def start() -> Worker:
        workers.append(Worker(env).start())
        return workers[-1]

    yield start
    for worker in workers:
        worker.stop()


@pytest.fixture
def worker(start_worker):
    return start_worker()


def lines(n: int) -> bytes:
    rows = ({"question": f"What is {i} + 1?", "answer": f"{i} + 1\n#### {i + 1}"}
            for i in range(n))
    return "".join(json.dumps(row) + "\n" for row in rows).encode()


def upload(client, user) -> DatasetImport:
    client.force_login(user)
    data = {"file": SimpleUploadedFile("big.jsonl", lines(LINES)), "name": "big",
            "format": "auto", "split": "train"}
    response = client.post(reverse("datasets:upload"), data)
    job = DatasetImport.objects.get()
    assert response.status_code == 302 and response.url == job.get_absolute_url()
    return job


def uploads_left(tmp_path) -> list:
    return list((tmp_path / "uploads").iterdir())


def test_a_large_upload_is_imported_by_a_worker_while_its_page_shows_progress(
    client, bob, worker, tmp_path
):
    job = upload(client, bob)

    # Poll the fragment as the page's htmx does, only faster, until it says stop.
    seen: list[tuple[str, int, int]] = []  # status, rows checked, rows written
    texts: list[str] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        fragment = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
        job.refresh_from_db()
        seen.append((job.status, job.rows_checked, job.rows_written))
        texts.append(fragment.content.decode())
        if fragment.status_code == STOP_POLLING:
            break
        assert fragment.status_code == 200 and 'hx-trigger="every 2s"' in texts[-1]
        time.sleep(0.05)
    else:
        raise AssertionError(f"the import never finished: {seen[-5:]}; see {worker.log}")

    assert job.status == "succeeded", job.error
    assert f"Imported {LINES} examples" in fragment.content.decode()
    version = DatasetVersion.objects.get(dataset__name="big")
    assert version.num_examples == LINES == version.examples.count()
    assert version.examples.get(position=LINES - 1).answer == str(LINES)
    # The page showed the import part way (rows checked, or written where the database
    # lets a second connection report them mid-transaction) before it showed it done.
    assert [status for status, *_ in seen][-1] == "succeeded"
    assert any(
        (status == "checking" and 0 < checked < LINES)
        or (status == "writing" and 0 < written < LINES)
        for status, checked, written in seen
    ), seen
    assert any("rows so far" in text or f"of {LINES} rows" in text for text in texts)
    wait_for(lambda: not uploads_left(tmp_path), 10, "the upload's removal", interval=0.2)


def test_a_worker_killed_mid_import_leaves_nothing_written_and_the_next_one_cleans_up(
    client, bob, start_worker, tmp_path
):
    first = start_worker()
    job = upload(client, bob)

    def writing() -> bool:
        # SQLite shows no count until the transaction ends: there, any writing will do.
        job.refresh_from_db()
        return job.status == "writing" and (job.rows_written > 0 or connection.vendor == "sqlite")

    wait_for(writing, 120, "the import to start writing", interval=0.05)
    first.kill()  # SIGKILL in the middle of the examples' transaction
    assert uploads_left(tmp_path)  # nobody has cleaned up yet

    start_worker()  # its reaper finds the import silent past the stale limit

    def failed() -> bool:
        job.refresh_from_db()
        return job.status == "failed"

    wait_for(failed, 60, "the dead worker's import to be failed", interval=0.2)
    assert "worker stopped responding" in job.error
    assert not DatasetVersion.objects.exists() and not Example.objects.exists()
    assert uploads_left(tmp_path) == []
