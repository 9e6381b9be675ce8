"""The database sink and heartbeat of a running stage (``workers/recording.py``) ride out
a database that drops their connections: nothing is lost, the stage does not fail.

The sink writes from a thread of its own, so these tests commit (``transaction=True``).
The PostgreSQL ones cut connections for real with ``pg_terminate_backend``, which is
what a database restart does to every client.
"""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, OperationalError, connection
from django.test.utils import CaptureQueriesContext

from r1domain.base import SampleRecord, StageCancelled
from r1web.runs import rollups
from r1web.runs.models import MetricPoint, MetricRollup, Stage
from r1web.runs.services import metrics_record, stage_heartbeat
from r1web.traces.services import samples_record
from workers import recording, shutdown
from workers.inputs import stage_examples
from workers.recording import DatabaseSink, Heartbeat, write_retrying

pytestmark = pytest.mark.django_db(transaction=True)

postgres_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="cuts connections with pg_terminate_backend"
)


def records(step: int, groups: int = 2, per_group: int = 4) -> list[SampleRecord]:
    return [
        SampleRecord(step=step, group=group, index=index, prompt="largest of 3 7", completion="7",
                     think="", answer="7", reference="7", rewards={"accuracy": 1.0}, reward=1.0,
                     advantage=0.0, length_tokens=3, correct=True, format_ok=True)
        for group in range(groups) for index in range(per_group)
    ]


def positions(stage: Stage) -> list[tuple[int, int, int]]:
    return sorted(stage.samples.values_list("step", "group", "index"))


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("select pg_backend_pid()")
        return cursor.fetchone()[0]


def terminate_backends(*, keep: int) -> int:
    """Cut every connection to the test database but ``keep``'s, from a connection of
    its own (closed after), as a restart of the server would. Returns how many."""
    killed = []

    def kill() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "select count(pg_terminate_backend(pid)) from pg_stat_activity "
                    "where datname = current_database() and pid not in (pg_backend_pid(), %s)",
                    [keep],
                )
                killed.append(cursor.fetchone()[0])
        finally:
            connection.close()

    thread = threading.Thread(target=kill)
    thread.start()
    thread.join()
    return killed[0]


def wait_until(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def failing_once(func, error: Exception):
    calls = []

    def flaky(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise error
        return func(**kwargs)

    flaky.calls = calls
    return flaky


def test_a_sample_batch_whose_write_loses_the_database_once_is_stored_once(make_run, monkeypatch):
    stage = make_run()
    flaky = failing_once(recording.samples_record,
                         OperationalError("server closed the connection unexpectedly"))
    monkeypatch.setattr(recording, "samples_record", flaky)
    monkeypatch.setattr(recording, "MAX_BACKOFF_SECONDS", 0.1)

    with DatabaseSink(stage) as sink:  # close() would raise the failed write
        sink.samples(records(step=1))
        sink.samples(records(step=2))

    # Handed over within FLUSH_SECONDS, both batches are one write, tried twice.
    assert len(flaky.calls) == 2
    assert positions(stage) == [(s, g, i) for s in (1, 2) for g in range(2) for i in range(4)]


def test_a_write_that_breaks_a_constraint_is_not_retried_and_fails_the_stage(make_run,
                                                                             monkeypatch):
    stage = make_run()
    flaky = failing_once(recording.metrics_record_steps, IntegrityError("a bug, not an outage"))
    monkeypatch.setattr(recording, "metrics_record_steps", flaky)

    sink = DatabaseSink(stage)
    sink.metrics(1, {"loss": 0.5})
    with pytest.raises(RuntimeError, match="recording to the database failed"):
        sink.close()
    assert len(flaky.calls) == 1


def test_a_database_that_stays_away_fails_the_write_within_the_bound():
    def unreachable() -> None:
        raise OperationalError("connection refused")

    started = time.monotonic()
    with pytest.raises(OperationalError):
        write_retrying(unreachable, retry_for=0.6)
    assert 0.5 < time.monotonic() - started < 3


def test_a_worker_whose_stage_was_taken_over_by_another_attempt_stops(make_run):
    # Reaped as silent and resumed: the stage runs again, as attempt 2, elsewhere.
    stage = make_run(attempt=1)
    sink = DatabaseSink(stage)
    assert sink.should_stop() is False
    Stage.objects.filter(pk=stage.pk).update(attempt=2)
    sink._stop_checked_at = 0.0
    assert sink.should_stop() is True
    sink.close()


@postgres_only
def test_the_sink_survives_its_connection_being_cut_between_batches(make_run):
    stage = make_run()
    mine = backend_pid()
    sink = DatabaseSink(stage)
    sink.samples(records(step=1))
    assert wait_until(lambda: stage.samples.count() == 8)

    assert terminate_backends(keep=mine) >= 1  # the sink's writer thread among them
    sink.samples(records(step=2))
    sink.metrics(2, {"loss": 0.25})
    sink.close()

    assert stage.samples.count() == 16
    assert (2, "loss") in set(stage.metric_points.values_list("step", "key"))


@postgres_only
def test_a_cancel_check_that_loses_its_connection_keeps_training_and_asks_again(make_run):
    stage = make_run()
    sink = DatabaseSink(stage)
    terminate_backends(keep=0)  # this thread's connection too

    assert sink.should_stop() is False  # not a crash: training goes on
    Stage.objects.filter(pk=stage.pk).update(cancel_requested=True)  # a new connection
    sink._stop_checked_at = 0.0  # the next step asks again
    assert sink.should_stop() is True
    sink.close()


@postgres_only
def test_after_a_restart_the_sink_hands_back_a_connection_the_outcome_can_use(make_run):
    # The runner writes the final checkpoint and the stage's success right after
    # close(), from the training thread, whose connection the restart cut.
    stage = make_run()
    sink = DatabaseSink(stage)
    sink.samples(records(step=1))
    terminate_backends(keep=0)
    sink.close()

    Stage.objects.filter(pk=stage.pk).update(status="succeeded")
    assert stage.samples.count() == 8


@postgres_only
def test_the_heartbeat_keeps_beating_after_its_connection_is_cut(make_run, settings):
    settings.R1WEB_HEARTBEAT_SECONDS = 0.1
    stage = make_run()
    mine = backend_pid()

    def beat_at():
        return Stage.objects.values_list("heartbeat_at", flat=True).get(pk=stage.pk)

    with Heartbeat(stage.pk):
        assert wait_until(lambda: beat_at() is not None)
        assert terminate_backends(keep=mine) >= 1
        cut = beat_at()
        # Beats stop for good if the first failure ends the thread.
        assert wait_until(lambda: beat_at() > cut, timeout=5)


def test_a_stage_beats_while_a_fresh_worker_still_imports_its_code(make_run, settings,
                                                                  monkeypatch):
    # A fresh worker's first stage spends long seconds importing torch and TRL; with the
    # heartbeat started only after that, a busy machine had the stage reaped as dead.
    from workers import runner

    settings.R1WEB_HEARTBEAT_SECONDS = 0.05
    stage = make_run(kind="no-such-kind")  # fails at once once the imports are done

    def beat_at():
        return Stage.objects.values_list("heartbeat_at", flat=True).get(pk=stage.pk)

    beaten = []

    def slow_imports() -> None:
        before = beat_at()
        beaten.append(wait_until(lambda: beat_at() != before, timeout=3))

    monkeypatch.setattr(runner, "quiet_progress_bars", slow_imports)
    runner.execute(stage)
    assert beaten == [True]


def test_writes_gathered_together_keep_every_value_and_their_order_around_a_checkpoint(
    make_run, monkeypatch
):
    stage = make_run()
    written = []
    for name in ("_record_together", "checkpoint_record"):
        real = getattr(recording, name)

        def spy(*, _real=real, _name=name, **kwargs):
            written.append(_name)
            return _real(**kwargs)

        monkeypatch.setattr(recording, name, spy)

    with DatabaseSink(stage) as sink:
        for step in (1, 2):
            sink.samples(records(step=step))
            sink.metrics(step, {"loss": 1.0 / step, "reward": float(step)})
            sink.progress(step, 4)
        sink.checkpoint_saved(2, "/tmp/checkpoint-2")
        sink.samples(records(step=3))
        sink.metrics(3, {"loss": 0.25})
        sink.progress(3, 4)

    # Steps 1-2 land together before the checkpoint, step 3 after it.
    assert written == ["_record_together", "checkpoint_record", "_record_together"]
    assert positions(stage) == [(s, g, i) for s in (1, 2, 3) for g in range(2) for i in range(4)]
    points = dict(MetricPoint.objects.filter(stage=stage, key="loss").values_list("step", "value"))
    assert points == {1: 1.0, 2: 0.5, 3: 0.25}
    stage.refresh_from_db()
    assert stage.step == 3


def test_a_flush_of_samples_and_metrics_rewrites_each_chart_block_once(make_run):
    """The database shares the cores with training (``bench/grpo_overhead.py``): one
    flush's samples and metrics refresh their chart summaries together, each block of
    each level read and rewritten once, in one transaction with no savepoint to spare."""
    stage = make_run()
    items = [
        (samples_record, {"stage": stage, "records": records(step=2), "example_ids": {}}),
        (metrics_record, {"stage_pk": stage.pk, "step": 2, "values": {"loss": 0.5}}),
        (stage_heartbeat, {"stage_pk": stage.pk, "step": 2, "total": 4}),
    ]
    with CaptureQueriesContext(connection) as queries:
        for func, kwargs in recording.coalesce(items):
            func(**kwargs)
    statements = [query["sql"] for query in queries.captured_queries]
    rewrites = [sql for sql in statements if sql.startswith('DELETE FROM "runs_metricrollup"')]
    assert len(rewrites) == len(rollups.LEVELS)
    assert not [sql for sql in statements if sql.startswith("SAVEPOINT")]
    coarsest = MetricRollup.objects.filter(stage=stage, size=rollups.LEVELS[-1])
    last = dict(coarsest.values_list("key", "last"))
    assert (last["loss"], last["samples/reward"], last["samples/count"]) == (0.5, 1.0, 8)


@postgres_only
def test_a_stage_starting_while_the_database_restarts_reads_its_inputs_and_succeeds(
        make_run, monkeypatch):
    # bench/chaos.py: PostgreSQL restarted as a resumed stage read its examples. The read
    # failed, the failure could not be recorded either, and the stage was reaped as dead.
    from workers import runner

    stage = make_run()
    inputs = []

    def starts_on_a_cut_connection(stage: Stage, params) -> dict:
        terminate_backends(keep=0)  # this thread's connection among them
        inputs.append(stage_examples(stage, "train", "train"))
        return {"examples": len(inputs[0])}

    monkeypatch.setitem(runner.RUNNERS, "grpo", starts_on_a_cut_connection)
    runner.execute(stage)

    stage.refresh_from_db()
    assert (stage.status, stage.error, stage.result) == ("succeeded", "", {"examples": 0})


@postgres_only
def test_a_stage_outcome_whose_connection_was_cut_is_still_recorded(make_run, monkeypatch):
    from workers import runner

    stage = make_run()

    def fails_after_a_restart(stage: Stage, params) -> dict:
        terminate_backends(keep=0)
        raise RuntimeError("out of memory")

    monkeypatch.setitem(runner.RUNNERS, "grpo", fails_after_a_restart)
    runner.execute(stage)

    stage.refresh_from_db()
    assert (stage.status, stage.error) == ("failed", "RuntimeError: out of memory")


def test_a_success_told_twice_by_the_same_attempt_is_recorded_once(make_run):
    # A retried write whose first commit went through unseen.
    from r1web.runs.services import stage_succeed

    stage = make_run(attempt=2)
    stage_succeed(stage_pk=stage.pk, result={"steps": 3}, attempt=2)
    stage_succeed(stage_pk=stage.pk, result={"steps": 3}, attempt=2)

    stage.refresh_from_db()
    assert (stage.status, stage.result) == ("succeeded", {"steps": 3})


def test_a_leaving_worker_s_stage_is_handed_back_once_every_write_is_stored(make_run, leaving):
    stage = make_run(status="running")
    with pytest.raises(shutdown.StageHandedBack, match="at step 1"), DatabaseSink(stage) as sink:
        sink.samples(records(1))
        sink.progress(1, 100)
        leaving.begin(60)
        assert sink.should_stop()
        raise StageCancelled("GRPO stopped at step 1")  # how stage code stops
    assert len(positions(stage)) == 8


def test_a_stage_too_slow_to_end_before_the_worker_goes_is_handed_back(make_run, leaving):
    stage = make_run(status="running")
    with DatabaseSink(stage) as sink:
        sink.progress(1, 1000)
        time.sleep(0.05)
        sink.progress(2, 1000)  # 998 steps left at 20 steps/s at most: over 49 s
        leaving.begin(60)
        assert sink.should_stop()


def test_a_stage_that_ends_within_half_the_time_left_finishes_instead(make_run, leaving):
    stage = make_run(status="running")
    with DatabaseSink(stage) as sink:
        sink.progress(1, 10)
        sink.progress(9, 10)  # eight steps in an instant: the last one is as quick
        leaving.begin(60)
        assert not sink.should_stop()


def test_a_cancel_stays_a_cancel_while_the_worker_stays(make_run):
    stage = make_run(status="running")
    with pytest.raises(StageCancelled), DatabaseSink(stage):
        raise StageCancelled("cancelled")
