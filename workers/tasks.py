"""Celery tasks: thin. Take a primary key, claim the row, call the runner."""

from __future__ import annotations

import logging
import socket
import threading

from celery import shared_task
from celery.exceptions import Reject
from celery.signals import worker_init, worker_ready, worker_shutdown, worker_shutting_down

from workers import shutdown

log = logging.getLogger(__name__)


@shared_task(name="r1web.run_stage")
def run_stage(stage_pk: int) -> None:
    from django.conf import settings

    from r1web.runs.services import stage_claim, stage_hand_back
    from workers.recording import write_retrying
    from workers.runner import execute

    if shutdown.leaving():
        # Delivered to a worker on its way out: back to the broker, for the next one.
        raise Reject("the worker is leaving", requeue=True)
    stage = write_retrying(stage_claim, stage_pk=stage_pk, worker=socket.gethostname())
    if stage is None:
        # Another delivery of this task already has it, or it was cancelled meanwhile.
        log.info("stage %s not claimable; skipping", stage_pk)
        return
    try:
        with shutdown.sigterm_hands_back(settings.R1WEB_SHUTDOWN_SECONDS):
            execute(stage)
    except shutdown.StageHandedBack as stop:
        log.warning("stage %s: %s", stage_pk, stop)
        write_retrying(stage_hand_back, stage_pk=stage_pk, attempt=stage.attempt)


@shared_task(name="r1web.import_dataset")
def import_dataset(import_pk: int) -> None:
    """A large dataset upload (r1web.datasets.imports): plain code, no torch."""
    from r1web.datasets.imports import dataset_import_run

    dataset_import_run(import_pk=import_pk)


@shared_task(name="r1web.import_rollouts")
def import_rollouts(import_pk: int) -> None:
    """Large rollout logs (r1web.ingest.imports): plain code, no torch."""
    from r1web.ingest.imports import rollout_import_run

    rollout_import_run(import_pk=import_pk)


@shared_task(name="r1web.export_dataset")
def export_dataset(export_pk: int) -> None:
    """A large dataset version written to a file for download (r1web.datasets.exports)."""
    from r1web.datasets.exports import dataset_export_run

    dataset_export_run(export_pk=export_pk)


def beat_once(name: str, queues: list[str]) -> None:
    """Say that this worker is alive and what it consumes (``r1web.runs.presence``);
    a failed beat is logged, and the next one tries again."""
    from django.db import close_old_connections, connection

    from r1web.runs.presence import worker_seen

    try:
        close_old_connections()
        worker_seen(name=name, queues=queues)
    except Exception:
        log.exception("recording that worker %s is alive failed; retrying in the next pass", name)
    finally:
        connection.close()


def reap_stale_once() -> int:
    """One pass of the reaper: fail the running stages whose worker stopped beating.

    Runs in its own thread, so it has its own database connection: closed after every
    pass, never left to time out between passes. A failed pass is logged, never raised:
    the next one tries again.
    """
    from django.db import close_old_connections, connection

    from r1web.datasets.exports import dataset_exports_reap_stale
    from r1web.datasets.imports import dataset_imports_reap_stale
    from r1web.ingest.imports import rollout_imports_reap_stale
    from r1web.runs.services import stages_reap_stale

    try:
        close_old_connections()
        # Imports too: a dead worker's import is failed and its uploaded file removed.
        return (stages_reap_stale() + dataset_imports_reap_stale()
                + rollout_imports_reap_stale() + dataset_exports_reap_stale())
    except Exception:
        log.exception("reaping stale stages failed; retrying in the next pass")
        return 0
    finally:
        connection.close()


def _tend_forever(stop: threading.Event, interval: float, name: str, queues: list[str]) -> None:
    while True:
        beat_once(name, queues)
        reap_stale_once()
        if stop.wait(interval):
            return


@worker_init.connect
def _check_runners(**_kwargs) -> None:
    # A stage kind without a runner would fail every stage of it, one by one, hours into a
    # pipeline: refuse to start instead (SystemExit passes through Celery's signal guard).
    from workers.runner import check_runners

    try:
        check_runners()
    except RuntimeError as exc:
        log.critical("%s", exc)
        raise SystemExit(f"r1web worker: {exc}") from None


@worker_ready.connect
def _start_reaper(sender, **_kwargs) -> None:
    # Pages never write (no writes on GET), so the workers reap: at once for the stages
    # a crashed predecessor left running, then every heartbeat interval. Several workers
    # reaping at once is safe: failing a stage is a conditional update. The same thread
    # says the worker is alive, for the pages that tell why a stage waits.
    from django.conf import settings
    from django.db import connection

    from r1web.runs.services import stages_requeue_queued

    try:
        stages_requeue_queued()  # what a killed predecessor may have taken with it
    except Exception:
        log.exception("sending the queued stages' tasks again failed")
    finally:
        connection.close()
    queues = list(sender.app.amqp.queues.consume_from)
    _tender.start(settings.R1WEB_HEARTBEAT_SECONDS, sender.hostname, queues)


class _Tender:
    """The worker's thread that beats and reaps, stopped before the worker forgets
    itself, so no late beat brings it back."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.thread: threading.Thread | None = None

    def start(self, interval: float, name: str, queues: list[str]) -> None:
        self.thread = threading.Thread(target=_tend_forever, name="r1web-reaper", daemon=True,
                                       args=(self.stop, interval, name, queues))
        self.thread.start()

    def halt(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=10)


_tender = _Tender()


@worker_shutting_down.connect
def _hand_stages_back(**_kwargs) -> None:
    # SIGTERM (or Ctrl+C): the running stage stops at its next step boundary and goes
    # back to queued, instead of Celery's warm shutdown waiting for it to end
    # (workers.shutdown). Runs inside Celery's signal handler: no database here.
    from celery.worker import state
    from django.conf import settings

    shutdown.current.begin(settings.R1WEB_SHUTDOWN_SECONDS)
    stages = [r for r in list(state.active_requests) if r.name == run_stage.name]
    shutdown.tell_pool_processes(request.worker_pid for request in stages)


@worker_shutdown.connect
def _forget_worker(sender, **_kwargs) -> None:
    from django.db import connection

    from r1web.runs.presence import worker_gone

    _tender.halt()
    try:
        worker_gone(name=sender.hostname)
    except Exception:
        log.exception("removing worker %s from the workers alive failed", sender.hostname)
    finally:
        connection.close()
