"""The comparison table of evaluations: one column per eval stage, one row per score.

Pure (no Django): ``selectors.eval_columns`` turns stages into ``Column``s; the page and
its CSV download both render ``comparison_rows``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# What an evaluation's result holds (workers/stages/evaluate.py summarise), in the
# order the table shows them.
EVAL_METRICS = ("pass@1", "maj@k", "k", "mean_length", "reflection_rate", "format_rate")
# k is a setting, not a score: a delta of it says nothing.
NO_DELTA = frozenset({"k"})
COUNTS = frozenset({"k"})  # printed as integers
BASELINES = ("first", "run")  # the first column, or each run's first evaluation


@dataclass(frozen=True)
class Column:
    run_id: int
    run_name: str
    stage_id: int
    label: str  # EvalParams.label: before, after, base, sft, distilled...
    url: str
    result: Mapping[str, object] = field(default_factory=dict)

    @property
    def heading(self) -> str:
        return f"#{self.run_id} {self.label}"


@dataclass(frozen=True)
class Cell:
    metric: str
    value: float | None
    delta: float | None = None

    @property
    def text(self) -> str:
        return format_value(self.metric, self.value)

    @property
    def delta_text(self) -> str:
        if self.delta is None:
            return ""
        return signed(self.metric, self.delta)


@dataclass(frozen=True)
class Row:
    metric: str
    cells: list[Cell]


def number(value: object) -> float | None:
    """A result value as a number; anything else (missing, text) is no value."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def format_value(metric: str, value: float | None) -> str:
    if value is None:
        return "–"
    if metric in COUNTS:
        return f"{value:.0f}"
    if metric == "mean_length":
        return f"{value:.1f}"
    return f"{value:.3f}"


def signed(metric: str, delta: float) -> str:
    """A delta with its sign: +0.254, −0.010, ±0.000."""
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    return sign + format_value(metric, abs(delta))


@dataclass(frozen=True)
class HeldOut:
    """A run's held-out pass@1 before and after: its first and last evaluation."""

    before: float | None = None
    after: float | None = None
    before_label: str = ""
    after_label: str = ""
    evaluations: int = 0

    @property
    def delta(self) -> float | None:
        if self.before is None or self.after is None:
            return None
        return self.after - self.before

    @property
    def before_text(self) -> str:
        return format_value(HELD_OUT_METRIC, self.before)

    @property
    def after_text(self) -> str:
        return format_value(HELD_OUT_METRIC, self.after)

    @property
    def delta_text(self) -> str:
        return "" if self.delta is None else signed(HELD_OUT_METRIC, self.delta)


HELD_OUT_METRIC = "pass@1"


def held_out(evaluations: Sequence[tuple[str, Mapping[str, object]]]) -> HeldOut:
    """From a run's evaluations in stage order, (label, result): the first one's pass@1
    and the last one's (none yet where it has not finished), not a training batch's."""
    if not evaluations:
        return HeldOut()
    (first_label, first), (last_label, last) = evaluations[0], evaluations[-1]
    several = len(evaluations) > 1
    return HeldOut(
        before=number(first.get(HELD_OUT_METRIC)),
        after=number(last.get(HELD_OUT_METRIC)) if several else None,
        before_label=first_label,
        after_label=last_label if several else "",
        evaluations=len(evaluations),
    )


@dataclass(frozen=True)
class StoryRow:
    """One line of a run's story: a training series at its start and at its end."""

    metric: str  # how it is printed: format_value's metric name
    label: str
    start: float
    end: float
    window: int  # logged steps averaged at each end

    @property
    def start_text(self) -> str:
        return format_value(self.metric, self.start)

    @property
    def end_text(self) -> str:
        return format_value(self.metric, self.end)

    @property
    def delta(self) -> float:
        return self.end - self.start

    @property
    def delta_text(self) -> str:
        return signed(self.metric, self.delta)


def clean_baseline(raw: str | None) -> str:
    return raw if raw in BASELINES else "first"


def baseline_indexes(columns: Sequence[Column], baseline: str = "first") -> list[int]:
    """For each column, the column its deltas are taken against."""
    if baseline != "run":
        return [0] * len(columns)
    first_of_run: dict[int, int] = {}
    return [first_of_run.setdefault(col.run_id, i) for i, col in enumerate(columns)]


def comparison_rows(columns: Sequence[Column], baseline: str = "first") -> list[Row]:
    """One row per metric; a column's cell carries its delta against its baseline column
    (none for the baseline itself, for k, or where either value is missing)."""
    bases = baseline_indexes(columns, baseline)
    rows = []
    for metric in EVAL_METRICS:
        values = [number(col.result.get(metric)) for col in columns]
        cells = []
        for index, value in enumerate(values):
            base = values[bases[index]] if columns else None
            delta = None
            if bases[index] != index and metric not in NO_DELTA and None not in (value, base):
                delta = value - base  # type: ignore[operator]
            cells.append(Cell(metric, value, delta))
        rows.append(Row(metric, cells))
    return rows


def csv_table(columns: Sequence[Column], rows: Sequence[Row]) -> list[list[str]]:
    """The same table as the page: a value and a delta column per evaluation."""
    header = ["metric"]
    for col in columns:
        header += [f"{col.heading} ({col.run_name})", f"{col.heading} delta"]
    lines = [header]
    for row in rows:
        line = [row.metric]
        for cell in row.cells:
            line += [_plain(cell.value), _plain(cell.delta)]
        lines.append(line)
    return lines


def _plain(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.6g}"
