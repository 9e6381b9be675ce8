"""A worker sent SIGTERM (a deploy, a node drain) hands its GRPO stage back at the next
step boundary instead of waiting for it to end: it exits within its shutdown time, the
stage is queued again with a checkpoint at that step, and a second worker finishes it
with every completion stored once (issue 24)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from r1web.runs.models import StageKind
from r1web.runs.recipes import launch
from tests.integration.conftest import assert_every_completion_stored_once, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

GRPO = {"per_device_train_batch_size": 8, "num_generations": 4, "max_completion_length": 32,
        "save_steps": 1000}


def test_a_worker_sent_sigterm_mid_grpo_hands_the_stage_back_and_the_next_finishes_it(
    tiny_base, start_worker, queue
):
    run = launch("r1-zero", {"max_steps": 12, "eval_k": 1, "eval_limit": 2,
                             "grpo_config": GRPO}, queue=queue)
    grpo = run.stages.get(kind=StageKind.GRPO)
    first = start_worker()
    wait_for(lambda: grpo.samples.filter(step__gte=2).exists(), 300, "GRPO to reach step 2")

    os.killpg(first.process.pid, signal.SIGTERM)
    sent = time.monotonic()
    first.process.wait(timeout=60)
    assert time.monotonic() - sent < 60  # R1WEB_SHUTDOWN_SECONDS, by default

    grpo.refresh_from_db()
    assert (grpo.status, grpo.attempt) == ("queued", 1), grpo.error
    checkpoint = grpo.latest_checkpoint()
    assert checkpoint is not None and checkpoint.step == grpo.step >= 2
    assert checkpoint.step < 12  # save_steps is 1000: this one is the hand-back's

    start_worker()
    wait_for(lambda: run.refresh_from_db() or run.is_finished(), 400, "the run to end")
    grpo.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert grpo.attempt == 2
    assert_every_completion_stored_once(grpo)
