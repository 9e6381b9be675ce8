"""Block summaries of metric series, so charts over millions of steps stay fast.

Each level summarises blocks of ``size`` steps (min, max, last, count); a level is built
from the one below it (raw points for the first), so refreshing the block a new point
falls in reads at most 32 rows per level. Summaries never replace the raw points: the
CSV and zoomed-in charts read those.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from django.db import transaction
from django.db.models import (
    Avg,
    Case,
    Count,
    F,
    FloatField,
    Func,
    IntegerField,
    Max,
    Min,
    Value,
    When,
)
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual

from r1web.runs.models import MetricPoint, MetricRollup
from r1web.traces.models import Sample

LEVELS = (32, 1024, 32768)
FANOUT = 32
BULK = 2000

# (first step, low, high, last step, last value, count)
Summary = tuple[int, float, float, int, float, int]


def combine(parts: Iterable[Summary]) -> Summary | None:
    """One summary of several (raw points are summaries of one point)."""
    first = low = high = last_step = last = None
    count = 0
    for p_first, p_low, p_high, p_last_step, p_last, p_count in parts:
        first = p_first if first is None else min(first, p_first)
        low = p_low if low is None else min(low, p_low)
        high = p_high if high is None else max(high, p_high)
        if last_step is None or p_last_step >= last_step:
            last_step, last = p_last_step, p_last
        count += p_count
    if first is None:
        return None
    return (first, low, high, last_step, last, count)


def _lower_rows(stage_pk: int, keys: Sequence[str], level: int, lo: int, hi: int):
    """Summaries one level below ``level`` in steps lo..hi, per key."""
    if level == 0:
        points = MetricPoint.objects.filter(stage_id=stage_pk, key__in=keys, step__gte=lo, step__lte=hi)
        for key, step, value in points.values_list("key", "step", "value"):
            yield key, (step, value, value, step, value, 1)
        return
    size = LEVELS[level - 1]
    rows = MetricRollup.objects.filter(
        stage_id=stage_pk, key__in=keys, size=size, block__gte=lo // size, block__lte=hi // size
    )
    for key, block, low, high, last_step, last, count in rows.values_list(
        "key", "block", "low", "high", "last_step", "last", "count"
    ):
        yield key, (block * size, low, high, last_step, last, count)


class Summaries:
    """The blocks one transaction's writes to a stage touched, refreshed together.

    A worker's flush stores samples (and their ``samples/…`` points) and TRL's metrics
    in one transaction; refreshed per write, every block would be read, deleted and
    rewritten twice (nine statements each time). Writers note what they wrote here and
    the transaction refreshes it once, before it commits. A writer given none refreshes
    at once (``summaries_of``).
    """

    def __init__(self, stage_pk: int) -> None:
        self.stage_pk = stage_pk
        self.keys: set[str] = set()
        self.first_step: int | None = None
        self.last_step: int | None = None

    def wrote(self, keys: Iterable[str], first_step: int, last_step: int) -> None:
        self.keys.update(keys)
        self.first_step = first_step if self.first_step is None else min(self.first_step, first_step)
        self.last_step = last_step if self.last_step is None else max(self.last_step, last_step)

    def refresh(self) -> None:
        if self.keys:
            refresh(stage_pk=self.stage_pk, keys=sorted(self.keys), first_step=self.first_step,
                    last_step=self.last_step)
            self.keys.clear()
            self.first_step = self.last_step = None


@contextmanager
def summaries_of(stage_pk: int, summaries: Summaries | None) -> Iterator[Summaries]:
    """``summaries`` when a caller collects them, else ones refreshed when the block ends."""
    if summaries is not None:
        yield summaries
        return
    own = Summaries(stage_pk)
    yield own
    own.refresh()


@transaction.atomic(savepoint=False)  # inside its caller's transaction: nothing to undo apart
def refresh(*, stage_pk: int, keys: Sequence[str], first_step: int, last_step: int) -> None:
    """Recompute every block that holds a step in first_step..last_step, at every level.

    Call it after points in that range were written or deleted.
    """
    for level, size in enumerate(LEVELS):
        lo, hi = (first_step // size) * size, (last_step // size + 1) * size - 1
        blocks: dict[tuple[str, int], list[Summary]] = defaultdict(list)
        for key, summary in _lower_rows(stage_pk, keys, level, lo, hi):
            blocks[(key, summary[0] // size)].append(summary)
        _store(stage_pk, size, blocks, keys, lo // size, hi // size)


def _store(stage_pk, size, blocks, keys, first_block, last_block) -> None:
    rows = []
    for (key, block), parts in blocks.items():
        _, low, high, last_step, last, count = combine(parts)
        rows.append(MetricRollup(stage_id=stage_pk, key=key, size=size, block=block, low=low,
                                 high=high, last_step=last_step, last=last, count=count))
    # Replaced, not merged: a block whose points were deleted must not keep old extremes.
    MetricRollup.objects.filter(
        stage_id=stage_pk, key__in=keys, size=size, block__gte=first_block, block__lte=last_block
    ).delete()
    MetricRollup.objects.bulk_create(rows, batch_size=BULK)


def rebuild(*, stage_pk: int) -> None:
    """Every summary of a stage from its raw points (after a bulk load)."""
    keys = list(
        MetricPoint.objects.filter(stage_id=stage_pk).values_list("key", flat=True).distinct()
    )
    MetricRollup.objects.filter(stage_id=stage_pk).delete()
    for key in keys:
        steps = MetricPoint.objects.filter(stage_id=stage_pk, key=key).values_list("step", flat=True)
        last = steps.order_by("-step").first()
        if last is not None:
            refresh(stage_pk=stage_pk, keys=[key], first_step=0, last_step=last)


def discard_after(*, stage_pk: int, step: int) -> None:
    """Forget summaries of steps after ``step`` (the points were deleted for a retry)."""
    keys = list(
        MetricRollup.objects.filter(stage_id=stage_pk).values_list("key", flat=True).distinct()
    )
    for size in LEVELS:
        MetricRollup.objects.filter(stage_id=stage_pk, size=size, block__gt=step // size).delete()
    if keys:
        refresh(stage_pk=stage_pk, keys=keys, first_step=max(step, 0), last_step=max(step, 0))


# --- per-step statistics of samples -------------------------------------------------

# Derived from the samples, never logged by TRL: stored as metric points under this
# prefix so charts, the run summary and the aha finder read summaries, never samples.
SAMPLE_PREFIX = "samples/"
SAMPLE_COUNT = SAMPLE_PREFIX + "count"


def _rate(condition: When) -> Avg:
    return Avg(Case(condition, default=0.0, output_field=FloatField()))


SAMPLE_STATS = {
    "count": Count("id"),
    "reward": Avg("reward"),
    "accuracy": _rate(When(correct=True, then=1.0)),
    "format_rate": _rate(When(format_ok=True, then=1.0)),
    "reflection_rate": _rate(When(reflection_count__gt=0, then=1.0)),
    "length_mean": Avg("length_tokens"),
    "length_min": Min("length_tokens"),
    "length_max": Max("length_tokens"),
}
SAMPLE_KEYS = tuple(SAMPLE_PREFIX + name for name in SAMPLE_STATS)


@transaction.atomic(savepoint=False)
def sample_steps_refresh(*, stage_pk: int, steps: Iterable[int] | None = None,
                         summaries: Summaries | None = None) -> int:
    """Recompute the ``samples/…`` points of these steps (every step when None) from the
    stage's samples, and their block summaries (now, or with the caller's ``summaries``).
    Call it after samples were written.

    A step's samples may come in several batches: each refresh re-reads the whole step
    (an index range), so the points are right whatever the order. Returns the steps done.
    """
    samples = Sample.objects.filter(probe=False)  # probes fed no update
    if steps is None:
        samples = samples.filter(stage_id=stage_pk)
    else:
        steps = sorted(set(steps))
        if not steps:
            return 0
        # The stage and its steps as one (stage, step) range: only the indexes that start
        # with both can seek it. For a live stage, newer than the table's statistics, a
        # plain ``stage_id =`` let the planner pick any index starting with the stage and
        # read all of its samples for every recorded batch (bench/load.py).
        samples = samples.filter(
            GreaterThanOrEqual(_Row(F("stage_id"), F("step")), _Row(stage_pk, steps[0])),
            LessThanOrEqual(_Row(F("stage_id"), F("step")), _Row(stage_pk, steps[-1])),
            step__in=steps,
        )
    rows = list(samples.values("step").annotate(**SAMPLE_STATS).order_by("step"))
    points = [
        MetricPoint(stage_id=stage_pk, step=row["step"], key=SAMPLE_PREFIX + name,
                    value=float(row[name]))
        for row in rows for name in SAMPLE_STATS
    ]
    MetricPoint.objects.bulk_create(
        points, batch_size=BULK, update_conflicts=True, unique_fields=["stage", "key", "step"],
        update_fields=["value"],
    )
    if rows:
        with summaries_of(stage_pk, summaries) as touched:
            touched.wrote(SAMPLE_KEYS, rows[0]["step"], rows[-1]["step"])
    return len(rows)


class _Row(Func):
    """A row value, ``(a, b)``, compared as a whole (as ``traces.selectors._Row``)."""

    template = "(%(expressions)s)"
    output_field = IntegerField()

    def __init__(self, *expressions) -> None:
        super().__init__(*(e if hasattr(e, "resolve_expression") else Value(e)
                           for e in expressions))


def level_for(bucket_width: float) -> int | None:
    """The coarsest summary size that still fits in one chart bucket (None: raw points)."""
    fitting = [size for size in LEVELS if size <= bucket_width]
    return fitting[-1] if fitting else None
