"""The run and stage pages say why a stage waits (no worker on its queue, a worker busy
with another run, older runs ahead) and show a stage whose worker stopped beating as
lost, with Resume: computed on read, from the database alone (issue 24)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from r1web.runs.models import Stage
from r1web.runs.presence import worker_seen
from r1web.runs.services import checkpoint_record

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}


def stages_fragment(client, stage: Stage) -> str:
    url = reverse("runs:detail", args=[stage.run_id])
    return client.get(url, headers=HTMX).content.decode()


def stage_fragment(client, stage: Stage) -> str:
    return client.get(stage.get_absolute_url(), headers=HTMX).content.decode()


@pytest.fixture
def lost(make_run, settings):
    """A GRPO stage whose worker stopped beating two minutes ago, at step 6 of 20."""
    settings.R1WEB_STALE_AFTER_SECONDS = 90
    now = timezone.now()
    return make_run(status="running", worker="gpu-host", step=6, total_steps=20,
                    started_at=now - timedelta(minutes=5),
                    heartbeat_at=now - timedelta(minutes=2))


def test_a_queued_run_with_no_worker_on_its_queue_says_so_on_both_pages(viewer, make_run):
    stage = make_run(status="queued", queue="cpu")
    worker_seen(name="celery@gpu-host", queues=["gpu"])  # alive, but not on cpu
    said = ("GRPO is queued: no worker is listening on queue cpu: start one "
            "(celery -A r1web worker -Q cpu)")
    assert said in stages_fragment(viewer, stage)
    assert said in stage_fragment(viewer, stage)


def test_a_worker_that_stopped_beating_no_longer_counts_as_listening(
    viewer, make_run, settings, monkeypatch
):
    settings.R1WEB_STALE_AFTER_SECONDS = 90
    stage = make_run(status="queued", queue="cpu")
    worker_seen(name="celery@cpu-host", queues=["cpu"])
    assert "worker celery@cpu-host listens on queue cpu" in stages_fragment(viewer, stage)
    later = timezone.now() + timedelta(seconds=91)  # SIGKILLed: no beat since
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert "no worker is listening on queue cpu" in stages_fragment(viewer, stage)


def test_a_queued_stage_names_the_run_that_keeps_the_worker_busy(viewer, make_run):
    now = timezone.now()
    busy = make_run(name="the long one", status="running", queue="cpu", step=40,
                    total_steps=200, started_at=now - timedelta(seconds=20), heartbeat_at=now)
    stage = make_run(name="mine", status="queued", queue="cpu")
    page = stages_fragment(viewer, stage)
    assert f"busy with run #{busy.run_id} &#x27;the long one&#x27; (GRPO, step 40/200" in page
    assert "GRPO starts after it" in page


def test_a_stage_silent_past_the_limit_is_lost_with_resume_and_no_time_left(operator, lost):
    checkpoint_record(stage_pk=lost.pk, step=4, path="/runs/checkpoint-4")
    run_page = stages_fragment(operator, lost)
    assert '<td class="status-lost">lost</td>' in run_page
    assert ("GRPO lost its worker gpu-host: no heartbeat for 2m 00s, over the 1m 30s limit. "
            "Resume continues from its checkpoint at step 4.") in run_page
    assert f'action="{reverse("runs:resume", args=[lost.run_id])}"' in run_page
    stage_page = stage_fragment(operator, lost)
    assert '<strong class="status-lost">lost</strong>' in stage_page
    assert "step 6 / 20" in stage_page and "left" not in stage_page
    assert "Resume" in stage_page
    lost.refresh_from_db()
    assert lost.status == "running"  # said on read: pages never write


def test_a_viewer_reads_that_a_stage_is_lost_but_is_offered_no_resume(viewer, lost):
    page = stages_fragment(viewer, lost)
    assert "lost its worker" in page
    assert reverse("runs:resume", args=[lost.run_id]) not in page


def test_resume_on_a_lost_stage_queues_it_again(operator, lost, monkeypatch):
    from r1web.celery import app

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)
    response = operator.post(reverse("runs:resume", args=[lost.run_id]))
    assert response.status_code == 302
    lost.refresh_from_db()
    assert lost.status == "queued"


def test_a_stage_that_still_beats_is_not_lost(viewer, make_run):
    stage = make_run(status="running", step=3, total_steps=10,
                     started_at=timezone.now() - timedelta(seconds=30),
                     heartbeat_at=timezone.now())
    assert "lost" not in stages_fragment(viewer, stage)
    assert "left" in stage_fragment(viewer, stage)


def test_the_pages_never_ask_the_broker_and_stay_fast(viewer, make_run, monkeypatch):
    from r1web.celery import app

    def broadcast(*args, **kwargs):
        raise AssertionError("a page asked the workers through the broker")

    monkeypatch.setattr(app.control, "inspect", broadcast)
    stage = make_run(status="queued", queue="cpu")
    stages_fragment(viewer, stage)  # warm
    started = time.perf_counter()
    for _ in range(5):
        assert "no worker is listening" in stages_fragment(viewer, stage)
    # One poll of a queued run: milliseconds (a broker ping waits out a 1 s timeout).
    assert (time.perf_counter() - started) / 5 < 0.5
