"""A run's figures and aha step, computed once per change of the data behind them.

Everyone watching a live run polls its charts every few seconds (``charts.js``), and
between two writes of the worker they all get the same figures: building them from the
chart summaries took most of a run page and all of a chart poll (``bench/load.py``).

The cache key holds a stamp of everything ``selectors.run_figures`` reads, in two
queries: the runs (in the order asked, with their names) and their stages, each stage's
newest chart summary (every metric or sample write replaces the summaries of the blocks
it touched, ``rollups.refresh``, so the newest id moves; the one write that only
deletes them, a resume, changes the stage's attempt), and the count and newest id of
the runs' flags. A write is therefore seen by the next request, from any process; an
old entry is never read again and expires. Each web process keeps its own cache
(Django's default, in memory) unless ``CACHES`` names a shared one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from django.core.cache import cache
from django.db.models import Count, Max, OuterRef, Subquery

from r1web.runs import charts, selectors
from r1web.runs.models import MetricRollup, Run, Stage
from r1web.traces.models import Flag

SECONDS = 600  # an entry outlives a few minutes of polling; a changed stamp replaces it


def run_figures(
    runs: Sequence[Run],
    x_range: tuple[int, int] | None,
    points: int,
    smoothing: float = 0.0,
    stage_key: str = "",
    stages: Sequence[Stage] | None = None,
) -> dict:
    """``selectors.run_figures``, from the cache while nothing it reads has changed."""
    key = _key(runs, "figures", x_range, points, smoothing, stage_key)
    return _cached(key, lambda: selectors.run_figures(runs, x_range, points, smoothing,
                                                      stage_key, stages))


def run_figures_json(
    runs: Sequence[Run],
    x_range: tuple[int, int] | None,
    points: int,
    smoothing: float = 0.0,
    stage_key: str = "",
) -> str:
    """``run_figures`` as JSON text, itself kept: encoding a run's figures (about 200 kB)
    cost a chart poll as much again as reading them from the cache."""
    # One stamp for both entries.
    key = _key(runs, "figures", x_range, points, smoothing, stage_key)

    def encoded() -> str:
        figures = _cached(key, lambda: selectors.run_figures(runs, x_range, points,
                                                             smoothing, stage_key))
        return charts.figure_json(figures)

    return _cached(key + ":json", encoded)


def run_aha(run: Run, stages: Sequence[Stage] | None = None):
    """``selectors.run_aha``, from the cache while nothing it reads has changed: it reads
    every step's sample counts, 50,000 points (about 100 ms) for a run of 25,000 steps,
    to show one step at the top of the run's page."""
    return _cached(_key([run], "aha"), lambda: selectors.run_aha(run, stages))


def _cached(key: str, build):
    value = cache.get(key)
    if value is None:
        value = build()
        cache.set(key, value, SECONDS)
    return value


def _key(runs: Sequence[Run], what: str, *asked) -> str:
    """The cache key of ``what`` for ``runs`` as asked: it changes with their data."""
    text = repr((data_stamp(runs), asked))
    return f"run-{what}:" + hashlib.sha256(text.encode()).hexdigest()


def data_stamp(runs: Sequence[Run]) -> tuple:
    """What changes whenever the runs' figures would: see the module's docstring."""
    run_ids = sorted(run.pk for run in runs)
    # A stage's newest summary is one descent of the (stage, id) index, never a count of
    # a long series' summaries. A resume, which deletes summaries, changes the attempt.
    newest = MetricRollup.objects.filter(stage_id=OuterRef("pk")).order_by("-id").values("id")
    stages = list(
        Stage.objects.filter(run_id__in=run_ids)
        .order_by("pk")
        .annotate(newest=Subquery(newest[:1]))
        .values_list("pk", "status", "attempt", "kind", "key", "newest")
    )
    flags = Flag.objects.filter(run_id__in=run_ids).aggregate(n=Count("id"), newest=Max("id"))
    # In the order asked (the first run is the page's, drawn first); created_at tells a
    # run from an earlier one that had its id in a database made again.
    asked = [(run.pk, run.name, run.created_at.isoformat()) for run in runs]
    return (asked, stages, flags["n"], flags["newest"])
