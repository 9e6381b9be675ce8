"""Progress of a long job as people read it: done of total, rate, time left.

One wording for every terminal (``tiny_base``, ``run_recipe --wait``, dataset imports and
exports) and page, so they all read alike. Plain Python: no torch, no Django.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO

from r1domain.checkpoints import prune_checkpoints

Clock = Callable[[], float]


def duration(seconds: float) -> str:
    """``42s``, ``3m 05s``, ``1h 02m``: as precise as a person needs."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m"


@dataclass(frozen=True)
class Progress:
    """``done`` of ``total`` after ``seconds`` of measuring, at ``rate`` per second."""

    done: int
    total: int | None
    rate: float | None = None  # units per second; None until it can be measured
    unit: str = "step"

    @property
    def percent(self) -> int | None:
        if not self.total:
            return None
        return min(100, 100 * self.done // self.total)

    @property
    def seconds_left(self) -> float | None:
        if not self.total or not self.rate:
            return None
        return max(0.0, (self.total - self.done) / self.rate)

    def __str__(self) -> str:
        parts = [f"{self.unit} {self.done:,}" + (f"/{self.total:,}" if self.total else "")]
        if self.percent is not None:
            parts[0] += f" ({self.percent}%)"
        if self.rate:
            parts.append(_rate(self.rate, self.unit))
        if self.seconds_left is not None:
            parts.append(f"{duration(self.seconds_left)} left")
        elif self.total and self.done < self.total:
            parts.append("measuring the rate")
        return " · ".join(parts)


def measured(done: int, total: int | None, started_at, latest, unit: str = "step") -> Progress:
    """A job's progress with the rate from its start to its latest report (datetimes
    or seconds; the rate is unknown until both are set and some work is done)."""
    rate = None
    if done and started_at is not None and latest is not None:
        seconds = latest - started_at
        seconds = seconds if isinstance(seconds, float | int) else seconds.total_seconds()
        rate = done / seconds if seconds > 0 else None
    return Progress(done, total or None, rate, unit)


def _rate(rate: float, unit: str) -> str:
    if rate >= 1:
        return f"{rate:,.1f} {unit}s/s"
    return f"{1 / rate:.1f} s/{unit}"


class Meter:
    """Measures the rate from the updates it sees, not from the job's start (which may
    include loading a model): the first update is the baseline."""

    def __init__(self, unit: str = "step", clock: Clock = time.monotonic) -> None:
        self.unit, self.clock = unit, clock
        self._start: tuple[float, int] | None = None

    def update(self, done: int, total: int | None) -> Progress:
        now = self.clock()
        if self._start is None or done < self._start[1]:  # a restart measures afresh
            self._start = (now, done)
        started, first = self._start
        elapsed = now - started
        rate = (done - first) / elapsed if elapsed > 0 and done > first else None
        return Progress(done, total, rate, self.unit)


class TerminalProgress:
    """Writes a job's progress to a terminal or a log: on a terminal one line kept up to
    date in place, in a log a line every ``interval`` seconds while it moves (every
    ``QUIET`` seconds while it does not). The first and last updates are always written."""

    QUIET = 60.0

    def __init__(
        self,
        stream: TextIO,
        label: str,
        *,
        unit: str = "step",
        interval: float | None = None,
        clock: Clock = time.monotonic,
    ) -> None:
        self.stream, self.label = stream, label
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.interval = interval if interval is not None else (0.5 if self.tty else 5.0)
        self.meter = Meter(unit, clock)
        self.clock = clock
        self._written_at: float | None = None
        self._written_done: int | None = None
        self._open_line = False

    def __call__(self, done: int, total: int | None) -> None:
        progress = self.meter.update(done, total)
        now = self.clock()
        last = bool(total) and done >= total
        if self._written_at is not None and not last:
            wait = self.QUIET if done == self._written_done else self.interval
            if now - self._written_at < wait:
                return
        self._written_at, self._written_done = now, done
        self.write(f"{self.label}: {progress}", keep=not last)

    def write(self, text: str, *, keep: bool = False) -> None:
        """A line of text; on a terminal, ``keep`` leaves it open for the next update."""
        if self.tty:
            self.stream.write(f"\r\x1b[K{text}" + ("" if keep else "\n"))
            self._open_line = keep
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._open_line:
            self.stream.write("\n")
            self.stream.flush()
            self._open_line = False


def terminal(stream):
    """The stream under a Django command's ``self.stdout`` (whose ``write`` would end
    every in-place update with a newline)."""
    return getattr(stream, "_out", stream)


class TerminalSink:
    """A ``StageSink`` for stage code run from a command: progress to the terminal,
    everything else dropped."""

    def __init__(self, progress: TerminalProgress) -> None:
        self.progress_line = progress

    def samples(self, records) -> None:
        pass

    def metrics(self, step: int, values: dict[str, float]) -> None:
        pass

    def progress(self, step: int, total: int) -> None:
        self.progress_line(step, total)

    def checkpoint_saved(self, step: int, path: str, keep: int | None = None) -> None:
        if keep:
            prune_checkpoints(path, keep)

    def should_stop(self) -> bool:
        return False
