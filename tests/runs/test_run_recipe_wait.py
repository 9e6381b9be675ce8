"""``run_recipe --wait``: the running stage's progress (step of total, rate, time left),
and why a queued stage does not start: a busy worker, older runs ahead, or no worker.

The command's clock and sleep are driven by the test: each poll, the "worker" (the
test) moves the stages on, so a minute of waiting takes no time.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from r1web.runs.management.commands import run_recipe
from r1web.runs.models import Run, Stage, Status
from r1web.runs.waiting import queue_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def model(tmp_path, settings):
    settings.MODELS_DIR = tmp_path
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    return str(tmp_path)


@pytest.fixture
def world(monkeypatch):
    """The command's clock; ``events[t]`` happen when it reaches t, ``tick`` every poll."""

    class World:
        def __init__(self) -> None:
            self.now = 0.0
            self.events: dict[float, Callable[[], None]] = {}
            self.tick: Callable[[], None] = lambda: None

        def sleep(self, seconds: float) -> None:
            self.now += seconds
            self.tick()
            for at in sorted(self.events):
                if at <= self.now:
                    self.events.pop(at)()

    world = World()
    monkeypatch.setattr(run_recipe, "clock", lambda: world.now)
    monkeypatch.setattr(run_recipe, "sleep", world.sleep)
    return world


def busy_elsewhere(make_run) -> Stage:
    """An older run whose GRPO stage holds the cpu worker, 40 of 200 steps in 20s."""
    now = timezone.now()
    return make_run(
        name="someone else's run",
        queue="cpu",
        step=40,
        total_steps=200,
        started_at=now - timedelta(seconds=20),
        heartbeat_at=now,
    )


def ours() -> Run:
    return Run.objects.order_by("-pk").first()


def set_stage(position: int, **fields) -> None:
    Stage.objects.filter(run=ours(), position=position).update(**fields)


def finish(status: str = Status.SUCCEEDED) -> None:
    ours().stages.update(status=status)
    Run.objects.filter(pk=ours().pk).update(status=status)


def wait(model, *args, err: io.StringIO | None = None) -> tuple[str, str]:
    out, err = io.StringIO(), err or io.StringIO()
    call_command(
        "run_recipe", "r1-zero", "--model", model, "--wait", "--json", *args, stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def test_wait_says_the_worker_is_busy_with_another_run_then_shows_progress(model, world, make_run):
    other = busy_elsewhere(make_run)

    def start() -> None:  # the other run ends; our evaluation runs 10 problems a poll
        Stage.objects.filter(pk=other.pk).update(status=Status.SUCCEEDED)
        set_stage(
            0,
            status=Status.RUNNING,
            worker="w1",
            step=0,
            total_steps=200,
            started_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        world.tick = lambda: set_stage(0, step=F("step") + 10)

    world.events = {60: start, 80: finish}
    out, err = wait(model, "--queue", "cpu")

    assert (
        f"evaluate base queued for 16s: the worker on queue cpu is busy with run "
        f'#{other.run_id} "someone else\'s run" (GRPO, step 40/200 (20%) · '
        "2.0 steps/s · 1m 20s left); evaluate base starts after it"
    ) in err
    assert "stage 1/3 evaluate base: running on w1" in err
    assert "evaluate base: problem 60/200 (30%) · 5.0 problems/s · 28s left" in err
    # The GRPO stage waits for the same worker, busy with this run's evaluation.
    assert (
        "GRPO queued for 1m 16s: the worker on queue cpu is busy with this run's "
        "evaluate base; GRPO starts after it"
    ) in err
    assert json.loads(out)["status"] == "succeeded"  # stdout stays one JSON object


def test_wait_tells_a_missing_worker_from_a_busy_one(model, world, settings):
    settings.R1WEB_QUEUES = [*settings.R1WEB_QUEUES, "nobody-listens"]
    world.events = {40: lambda: finish(Status.CANCELLED)}
    err = io.StringIO()
    with pytest.raises(SystemExit):  # a run that did not succeed exits non-zero
        wait(model, "--queue", "nobody-listens", err=err)
    # Nothing runs on the queue, and a real ping of the workers got no answer from it.
    assert (
        "evaluate base queued for 16s: no worker is listening on queue nobody-listens: "
        "start one (celery -A r1web worker -Q nobody-listens) or pass --start-worker"
    ) in err.getvalue()


def test_a_queued_stage_behind_older_runs_says_how_many_wait_ahead_and_whose(model, make_run):
    first = make_run(name="older", status=Status.QUEUED, queue="cpu")
    second = make_run(name="older too", status=Status.QUEUED, queue="cpu")
    call_command("run_recipe", "r1-zero", "--model", model, "--queue", "cpu", stdout=io.StringIO())
    stage = ours().stages.get(position=0)
    state = queue_state(stage, ping=lambda queue: ["celery@worker-1"])
    assert state.explain() == (
        f"2 stage(s) of older runs (run #{first.run_id} 'older', run #{second.run_id} "
        "'older too') are queued ahead on cpu"
    )
    idle = queue_state(stage, ping=lambda queue: [])
    assert idle.explain().startswith("no worker is listening on queue cpu")


def test_the_stage_page_shows_the_progress_wait_prints(viewer, make_run):
    stage = busy_elsewhere(make_run)
    page = viewer.get(stage.get_absolute_url(), headers={"HX-Request": "true"}).content.decode()
    assert '<span id="stage-rate">step 40/200 (20%) · 2.0 steps/s · 1m 20s left</span>' in page
