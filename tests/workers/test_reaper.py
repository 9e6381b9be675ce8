"""A stage whose worker died is failed by the workers' reaper, never by a page view:
no writes on GET."""

from __future__ import annotations

import threading
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.urls import reverse
from django.utils import timezone

from workers import tasks


@pytest.fixture
def stale(make_run, settings):
    settings.R1WEB_STALE_AFTER_SECONDS = 60
    return make_run(status="running", heartbeat_at=timezone.now() - timedelta(minutes=5))


def test_viewing_the_runs_list_and_the_run_page_leaves_a_stale_stage_running(
    client, charlie, stale
):
    client.force_login(charlie)
    for url in (reverse("runs:list"), reverse("runs:detail", args=[stale.run_id]),
                reverse("runs:stage", args=[stale.pk])):
        assert client.get(url).status_code == 200
        assert client.get(url, headers={"HX-Request": "true"}).status_code in (200, 286)
    stale.refresh_from_db()
    assert stale.status == "running"


def _in_a_thread(func):
    """Run ``func`` as the reaper runs: in a thread of its own, with its own connection."""
    result = []
    thread = threading.Thread(target=lambda: result.append(func()))
    thread.start()
    thread.join(timeout=30)
    return result[0]


@pytest.mark.django_db(transaction=True)
def test_the_worker_reaper_fails_a_stale_stage_and_leaves_it_resumable(stale, make_run):
    alive = make_run(name="alive", status="running", heartbeat_at=timezone.now())
    assert _in_a_thread(tasks.reap_stale_once) == 1
    stale.refresh_from_db()
    alive.refresh_from_db()
    assert (stale.status, stale.resumable) == ("failed", True)
    assert "stopped responding" in stale.error
    assert alive.status == "running"


def test_a_failing_reaper_pass_is_logged_not_raised(monkeypatch, caplog, db):
    def broken() -> int:
        raise RuntimeError("database went away")

    monkeypatch.setattr("r1web.runs.services.stages_reap_stale", broken)
    assert _in_a_thread(tasks.reap_stale_once) == 0
    assert "reaping stale stages failed" in caplog.text


def test_the_reaper_thread_beats_and_reaps_at_once_then_every_interval_until_stopped(
    monkeypatch,
):
    passes, beats = [], []
    stop = threading.Event()

    def count() -> int:
        passes.append(1)
        if len(passes) == 3:
            stop.set()
        return 0

    monkeypatch.setattr(tasks, "reap_stale_once", count)
    monkeypatch.setattr(tasks, "beat_once", lambda name, queues: beats.append((name, queues)))
    args = (stop, 0.01, "celery@w1", ["cpu"])
    thread = threading.Thread(target=tasks._tend_forever, args=args, daemon=True)
    thread.start()
    thread.join(timeout=5)
    assert not thread.is_alive() and len(passes) == 3
    assert beats == [("celery@w1", ["cpu"])] * 3


def test_a_worker_starting_starts_the_reaper_thread(monkeypatch):
    started = []
    monkeypatch.setattr(tasks.threading.Thread, "start", lambda thread: started.append(thread))
    monkeypatch.setattr("r1web.runs.services.stages_requeue_queued", lambda: 0)
    consumer = SimpleNamespace(hostname="celery@w1", app=SimpleNamespace(
        amqp=SimpleNamespace(queues=SimpleNamespace(consume_from={"cpu": None}))))
    tasks._start_reaper(sender=consumer)
    assert [thread.name for thread in started] == ["r1web-reaper"]
    assert started[0].daemon
