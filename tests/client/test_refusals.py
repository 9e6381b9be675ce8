"""The client against a real r1web (gunicorn) that refuses a batch and then goes away
(issue 23): every other batch is stored, the refused one is reported, and an outage
loses nothing."""

from __future__ import annotations

import os
import time

import pytest
from r1web_client.sender import Sender, Transport

from r1web.runs.models import Run
from r1web.traces.models import Sample
from tests.integration.conftest import wait_for

pytestmark = pytest.mark.slow
# 8 s keeps the suite short; R1WEB_OUTAGE_SECONDS=30 is the acceptance check.
OUTAGE = float(os.environ.get("R1WEB_OUTAGE_SECONDS", "8"))


def samples(step: int, **fields) -> list[dict]:
    return [{"step": step, "group": 0, "index": i, "prompt": "2 + 2?",
             "completion": "<answer>4</answer>", "reward": 1.0, **fields} for i in range(4)]


def stored_steps() -> dict[int, int]:
    steps: dict[int, int] = {}
    for step in Sample.objects.values_list("step", flat=True):
        steps[step] = steps.get(step, 0) + 1
    return steps


def test_a_refused_batch_is_reported_the_rest_stored_and_an_outage_loses_nothing(
    r1web_server, operator_token, tmp_path
):
    transport = Transport(r1web_server.url, operator_token, timeout=5)
    sender = Sender(transport, tmp_path / "spool.jsonl", flush_seconds=0.2, retry_pause=0.1,
                    probe_seconds=1.0)
    sender.open_run("live-1", {"name": "refused and outage"})
    for answered, step in enumerate((1, 2, 3), start=2):
        # Step 2 holds a reward past the API's bound: a 400. One batch a step: each is
        # answered before the next is put (else the sender merges them).
        sender.records(samples=samples(step, **({"reward": 1e200} if step == 2 else {})))
        wait_for(lambda n=answered: sender.stats["sent"] + sender.stats["rejected"] >= n, 30,
                 f"an answer to step {step}", interval=0.1)
    assert stored_steps() == {1: 4, 3: 4}

    r1web_server.kill()
    down_until = time.monotonic() + OUTAGE
    for step in range(4, 9):  # training goes on while r1web is away
        sender.records(samples=samples(step))
        time.sleep(OUTAGE / 6)
    time.sleep(max(0.0, down_until - time.monotonic()))
    assert (tmp_path / "spool.jsonl").exists()
    r1web_server.start()
    sender.finish()

    assert not sender.close(timeout=60)  # one batch was refused: not everything arrived
    [refused] = sender.refused
    assert refused.status == 400 and refused.samples == 4
    assert "samples[0].reward: must be a finite number" in refused.reason
    assert stored_steps() == {step: 4 for step in (1, 3, 4, 5, 6, 7, 8)}
    assert Run.objects.get().status == "succeeded"
    assert not (tmp_path / "spool.jsonl").exists()
