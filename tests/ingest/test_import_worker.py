"""Large rollout logs imported by a real Celery worker process, watched through their
page (issue 23, finding 2: a million-row file took a web worker 210 s and 2 GB)."""

from __future__ import annotations

import os
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from r1web.ingest.models import RolloutImport
from r1web.traces.models import Sample
from tests.integration.conftest import QUEUE, Worker, database_url

pytestmark = pytest.mark.slow
ROWS = 5_000
STOP_POLLING = 286


@pytest.fixture
def worker(transactional_db, settings, tmp_path):
    settings.VAR_DIR = tmp_path  # the job names its stored files in full
    settings.R1WEB_IMPORT_QUEUE = QUEUE
    settings.R1WEB_UPLOAD_TASK_ROWS = 100
    env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1"}
    started = Worker(env).start()
    yield started
    started.stop()


def verl_dump(rows: int) -> bytes:
    return "".join(
        f'{{"input": "What is {i % 50} + 1?", "output": "<answer>{i % 50 + 1}</answer>", '
        f'"score": {i % 2}, "step": {i // 1000}}}\n'
        for i in range(rows)
    ).encode()


def test_large_logs_are_imported_by_a_worker_while_their_page_polls(client, alice, worker):
    client.force_login(alice)
    form = {"files": [SimpleUploadedFile("dump.jsonl", verl_dump(ROWS))], "format": "verl",
            "name": "from verl", "num_generations": "", "completion_format": "r1-zero"}
    response = client.post(reverse("ingest:import"), form)
    job = RolloutImport.objects.get()
    assert response.status_code == 302 and response.url == job.get_absolute_url()

    statuses = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        fragment = client.get(job.get_absolute_url(), HTTP_HX_REQUEST="true")
        job.refresh_from_db()
        statuses.append(job.status)
        if fragment.status_code == STOP_POLLING:
            break
        assert 'hx-trigger="every 2s"' in fragment.content.decode()
        time.sleep(0.1)
    else:
        raise AssertionError(f"the import never finished: {statuses[-3:]}; see {worker.log}")
    assert job.status == "succeeded", job.error
    assert Sample.objects.filter(run=job.external.run).count() == ROWS
    assert f"Imported {ROWS} completions" in fragment.content.decode()
    assert statuses[0] in ("queued", "checking", "writing")
