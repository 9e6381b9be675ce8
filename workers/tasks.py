"""Celery tasks: thin. Take a primary key, claim the row, call the runner."""

from __future__ import annotations

import logging
import socket
import threading

from celery import shared_task
from celery.signals import worker_init, worker_ready

log = logging.getLogger(__name__)


@shared_task(name="r1web.run_stage")
def run_stage(stage_pk: int) -> None:
    from r1web.runs.services import stage_claim
    from workers.recording import write_retrying
    from workers.runner import execute

    stage = write_retrying(stage_claim, stage_pk=stage_pk, worker=socket.gethostname())
    if stage is None:
        # Another delivery of this task already has it, or it was cancelled meanwhile.
        log.info("stage %s not claimable; skipping", stage_pk)
        return
    execute(stage)


@shared_task(name="r1web.import_dataset")
def import_dataset(import_pk: int) -> None:
    """A large dataset upload (r1web.datasets.imports): plain code, no torch."""
    from r1web.datasets.imports import dataset_import_run

    dataset_import_run(import_pk=import_pk)


@shared_task(name="r1web.export_dataset")
def export_dataset(export_pk: int) -> None:
    """A large dataset version written to a file for download (r1web.datasets.exports)."""
    from r1web.datasets.exports import dataset_export_run

    dataset_export_run(export_pk=export_pk)


def reap_stale_once() -> int:
    """One pass of the reaper: fail the running stages whose worker stopped beating.

    Runs in its own thread, so it has its own database connection: closed after every
    pass, never left to time out between passes. A failed pass is logged, never raised:
    the next one tries again.
    """
    from django.db import close_old_connections, connection

    from r1web.datasets.exports import dataset_exports_reap_stale
    from r1web.datasets.imports import dataset_imports_reap_stale
    from r1web.runs.services import stages_reap_stale

    try:
        close_old_connections()
        # Imports too: a dead worker's import is failed and its uploaded file removed.
        return stages_reap_stale() + dataset_imports_reap_stale() + dataset_exports_reap_stale()
    except Exception:
        log.exception("reaping stale stages failed; retrying in the next pass")
        return 0
    finally:
        connection.close()


def _reap_forever(stop: threading.Event, interval: float) -> None:
    reap_stale_once()
    while not stop.wait(interval):
        reap_stale_once()


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
def _start_reaper(**_kwargs) -> None:
    # Pages never write (no writes on GET), so the workers reap: at once for the stages
    # a crashed predecessor left running, then every heartbeat interval. Several workers
    # reaping at once is safe: failing a stage is a conditional update.
    from django.conf import settings
    from django.db import connection

    from r1web.runs.services import stages_requeue_queued

    try:
        stages_requeue_queued()  # what a killed predecessor may have taken with it
    except Exception:
        log.exception("sending the queued stages' tasks again failed")
    finally:
        connection.close()
    threading.Thread(
        target=_reap_forever,
        args=(threading.Event(), settings.R1WEB_HEARTBEAT_SECONDS),
        name="r1web-reaper",
        daemon=True,
    ).start()
