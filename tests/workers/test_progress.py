"""How long jobs report progress: step of total, rate and time left, in a log or in
place on a terminal; and ``manage.py tiny_base`` saying so while it builds."""

from __future__ import annotations

import io
import re

import pytest

from r1domain.progress import Meter, Progress, TerminalProgress, duration


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "seconds, text", [(0.4, "0s"), (42, "42s"), (185, "3m 05s"), (3720, "1h 02m")]
)
def test_durations_read_as_a_person_would_say_them(seconds, text):
    assert duration(seconds) == text


def test_progress_reads_as_step_of_total_rate_and_time_left():
    assert str(Progress(40, 200, 2.0)) == "step 40/200 (20%) · 2.0 steps/s · 1m 20s left"
    assert str(Progress(3, 10, 0.25, unit="problem")) == (
        "problem 3/10 (30%) · 4.0 s/problem · 28s left"
    )
    assert str(Progress(1, 500)) == "step 1/500 (0%) · measuring the rate"
    assert str(Progress(1_200, None, 300.0, unit="row")) == "row 1,200 · 300.0 rows/s"


def test_the_rate_is_measured_from_the_first_update_seen_not_from_the_job_start():
    clock = FakeClock()
    meter = Meter(clock=clock)
    assert meter.update(100, 300).rate is None  # e.g. a run resumed at step 100
    clock.now += 50
    progress = meter.update(200, 300)
    assert progress.rate == 2.0 and progress.seconds_left == 50


def test_a_log_gets_a_line_every_interval_and_the_last_one():
    clock, log = FakeClock(), io.StringIO()
    report = TerminalProgress(log, "training", interval=5, clock=clock)
    for step in range(1, 11):
        report(step, 10)
        clock.now += 1
    lines = log.getvalue().splitlines()
    assert lines == [
        "training: step 1/10 (10%) · measuring the rate",
        "training: step 6/10 (60%) · 1.0 steps/s · 4s left",
        "training: step 10/10 (100%) · 1.0 steps/s · 0s left",
    ]


def test_a_log_hears_about_a_stalled_job_once_a_minute():
    clock, log = FakeClock(), io.StringIO()
    report = TerminalProgress(log, "evaluate", unit="problem", interval=5, clock=clock)
    for _ in range(70):  # 70 seconds at problem 32 of 100
        report(32, 100)
        clock.now += 1
    line = "evaluate: problem 32/100 (32%) · measuring the rate"
    assert log.getvalue().splitlines() == [line, line]  # at 0s and at 60s


def test_a_terminal_gets_one_line_updated_in_place():
    clock, tty = FakeClock(), Terminal()
    report = TerminalProgress(tty, "training", clock=clock)
    for step in range(1, 4):
        report(step, 3)
        clock.now += 1
    report.close()
    text = tty.getvalue()
    assert text.count("\n") == 1 and text.count("\r") == 3
    assert text.endswith("training: step 3/3 (100%) · 1.0 steps/s · 0s left\n")


@pytest.mark.slow
def test_tiny_base_prints_its_training_progress(monkeypatch, tmp_path, db):
    from django.core.management import call_command

    from workers.stages import tiny_base

    micro = (
        tiny_base.ModelSpec(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=1,
            num_attention_heads=2,
            num_key_value_heads=1,
        ),
        tiny_base.TrainSpec(n_examples=256, batch_size=32),
    )
    monkeypatch.setitem(tiny_base.SIZES, "small", micro)
    out = io.StringIO()
    call_command("tiny_base", "--size", "small", "--out", str(tmp_path / "base"), stdout=out)
    text = out.getvalue()
    assert "training: step 1/8 (12%) · measuring the rate" in text
    assert re.search(r"training: step 8/8 \(100%\) · [\d.,]+ (steps/s|s/step) · 0s left", text)
    assert re.search(r"built the small tiny base at .* in (\d+m )?\d+s", text)
