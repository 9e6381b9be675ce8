"""Celery tasks: thin. Take a primary key, claim the row, call the runner."""

from __future__ import annotations

import logging
import socket

from celery import shared_task
from celery.signals import worker_ready

log = logging.getLogger(__name__)


@shared_task(name="r1web.run_stage")
def run_stage(stage_pk: int) -> None:
    from r1web.runs.services import stage_claim
    from workers.runner import execute

    stage = stage_claim(stage_pk=stage_pk, worker=f"{socket.gethostname()}")
    if stage is None:
        # Another delivery of this task already has it, or it was cancelled meanwhile.
        log.info("stage %s not claimable; skipping", stage_pk)
        return
    execute(stage)


@worker_ready.connect
def _reap_on_start(**_kwargs) -> None:
    # A worker that starts after a crash finds the stages its predecessor left running.
    from r1web.runs.services import stages_reap_stale

    stages_reap_stale()
