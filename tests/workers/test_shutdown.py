"""A worker's shutdown (``workers.shutdown``): stages are told at once, and the process
exits when its grace is over whatever they do."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
from celery.exceptions import Reject

from workers import shutdown, tasks
from workers.shutdown import EXIT_CODE, Shutdown


def test_a_shutdown_is_felt_at_once_and_exits_the_process_when_its_grace_is_over():
    exits = []
    process = Shutdown(exit=exits.append)
    assert not process.leaving()
    process.begin(0.2)
    assert process.leaving() and 0 < process.seconds_left() <= 0.2
    assert exits == []
    deadline = time.monotonic() + 5
    while not exits and time.monotonic() < deadline:
        time.sleep(0.02)
    assert exits == [EXIT_CODE]


def test_a_second_signal_keeps_the_first_deadline():
    process = Shutdown(exit=lambda code: None)
    process.begin(30)
    process.begin(3600)
    assert process.seconds_left() <= 30


@pytest.mark.django_db
def test_a_stage_handed_back_by_its_code_is_queued_again_by_its_task(make_run, monkeypatch):
    from r1web.celery import app

    monkeypatch.setattr(app, "send_task", lambda *args, **kwargs: None)

    def execute(stage) -> None:
        raise shutdown.StageHandedBack("handed back at step 3")

    monkeypatch.setattr("workers.runner.execute", execute)
    stage = make_run(status="queued")
    tasks.run_stage(stage.pk)
    stage.refresh_from_db()
    assert (stage.status, stage.attempt) == ("queued", 1)


@pytest.mark.django_db
def test_a_worker_on_its_way_out_puts_a_stage_s_task_back_unclaimed(make_run, leaving):
    leaving.begin(60)
    stage = make_run(status="queued")
    with pytest.raises(Reject):
        tasks.run_stage(stage.pk)
    stage.refresh_from_db()
    assert (stage.status, stage.attempt) == ("queued", 0)


def test_sigterm_reaches_the_pool_processes_running_a_stage_and_no_other(leaving, monkeypatch):
    from celery.worker import state

    stage_process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    import_process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        monkeypatch.setattr(state, "active_requests", [
            SimpleNamespace(name=tasks.run_stage.name, worker_pid=stage_process.pid),
            SimpleNamespace(name=tasks.import_dataset.name, worker_pid=import_process.pid),
        ])
        tasks._hand_stages_back()
        assert leaving.leaving()
        assert stage_process.wait(timeout=10) == -signal.SIGTERM
        assert import_process.poll() is None
    finally:
        stage_process.kill()
        import_process.kill()
