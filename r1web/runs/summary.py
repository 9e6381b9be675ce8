"""The top of a run's page: its evaluations side by side with deltas, the story of its
training in numbers (reward, accuracy, length, reflection at start and end), how long
it took and its aha step. Reads summaries (``rollups``), never the samples."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from urllib.parse import urlencode

from django.db.models import Count, Sum
from django.utils import timezone

from r1web.runs import charts, compare, rollups
from r1web.runs.chart_cache import run_aha
from r1web.runs.models import MetricPoint, MetricRollup, Run, Stage, StageKind
from r1web.runs.selectors import LOGGED_KEYS, eval_columns, training_stage_ids
from r1web.traces.forms import TRAINING

# The training series the summary tells the run's story with: (series, label, printed as).
STORY = (
    ("reward", "reward", "reward"),
    ("accuracy", "accuracy", "accuracy"),
    ("length_mean", "mean length (tokens)", "mean_length"),
    ("reflection_rate", "reflection rate", "reflection_rate"),
)
STORY_WINDOW = 20  # at most this many logged steps are averaged at each end
AHA_WINDOW = 10  # steps either side of the aha step that "around it" shows


def story_window(points: int) -> int:
    """How many logged steps stand for "start" and "end": a tenth, 1 to STORY_WINDOW (one
    batch alone is noise)."""
    return max(1, min(STORY_WINDOW, points // 10))


def run_story(run: Run, stages: Sequence[Stage] | None = None) -> list[compare.StoryRow]:
    """Reward, accuracy, length and reflection at the start of training (the first
    training stage that logged each) and at its end (the last one): a few index reads
    (``stages``: the run's, from ``stages_of``, saves one)."""
    stage_ids = training_stage_ids(run, stages=stages)
    summaries = MetricRollup.objects.filter(stage_id__in=stage_ids, size=rollups.LEVELS[-1])
    counted = summaries.values("stage_id", "key").annotate(n=Sum("count"))
    if not counted:  # points stored without summaries (a bulk load): count them
        raw = MetricPoint.objects.filter(stage_id__in=stage_ids)
        counted = raw.values("stage_id", "key").annotate(n=Count("id"))
    logged = {(row["stage_id"], row["key"]): row["n"] for row in counted}
    story = []
    for name, label, metric in STORY:
        for key in LOGGED_KEYS[name]:
            holders = [pk for pk in stage_ids if (pk, key) in logged]
            if holders:
                break
        else:
            continue
        first, last = holders[0], holders[-1]
        window = story_window(min(logged[(first, key)], logged[(last, key)]))
        start = _mean_at_end(first, key, window, "step")
        end = _mean_at_end(last, key, window, "-step")
        story.append(compare.StoryRow(metric, label, start, end, window))
    return story


def _mean_at_end(stage_id: int, key: str, window: int, order: str) -> float:
    points = MetricPoint.objects.filter(stage_id=stage_id, key=key).order_by(order)
    values = list(points.values_list("value", flat=True)[:window])
    return sum(values) / len(values)


def run_summary(run: Run, stages: Sequence[Stage]) -> dict:
    """What the top of a run's page says: its evaluations with deltas, its training from
    start to end, its duration and its aha step (``stages`` from ``stages_of``)."""
    columns, rows = run_evaluations(stages)
    aha, examples = run_aha(run, stages)
    return {
        "eval_columns": columns,
        "eval_rows": rows,
        "story": run_story(run, stages),
        "story_window": STORY_WINDOW,
        "duration": run_duration(run),
        "aha": aha,
        "aha_examples": examples,
        "aha_around": aha_around(run, aha),
    }


def aha_around(run: Run, aha: charts.Aha | None) -> dict[str, str]:
    """Trace-browser queries for the training samples around the aha step, with and
    without reflection, oldest first: what changed, in the model's own words."""
    if aha is None:
        return {}
    window = {
        "run": run.pk, "samples": TRAINING, "sort": "step",
        "step_min": max(0, aha.step - AHA_WINDOW), "step_max": aha.step + AHA_WINDOW,
    }
    return {
        "reflective": urlencode({**window, "reflection": "yes"}),
        "plain": urlencode({**window, "reflection": "no"}),
        "steps": f"{window['step_min']}–{window['step_max']}",
    }


def run_evaluations(stages: Sequence[Stage]) -> tuple[list[compare.Column], list[compare.Row]]:
    """The run's evaluations side by side, deltas against the first (from ``stages_of``
    rows: no query)."""
    columns = eval_columns([stage for stage in stages if stage.kind == StageKind.EVAL])
    return columns, compare.comparison_rows(columns, "first")


def run_duration(run: Run) -> timedelta | None:
    """How long the run has taken (RUN_DURATION for one run already read)."""
    if run.started_at is None:
        return None
    return (run.finished_at or timezone.now()) - run.started_at
