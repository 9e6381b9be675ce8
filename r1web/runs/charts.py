"""Pure functions behind the run charts: downsampling, figures and the "aha" finder.

Nothing here touches the database, so all of it is tested with plain lists.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

Point = tuple[float, float]

DEFAULT_POINTS = 600
MAX_POINTS = 5000


def downsample(points: Sequence[Point], buckets: int) -> list[Point]:
    """Keep, per bucket of equal x width, the lowest, the highest and the last point.

    ``points`` must be sorted by x. Spikes survive (a plain stride would drop them) and
    the last value of the series is always shown as is. At most ``3 * buckets`` points
    come back, in x order.
    """
    if buckets < 1:
        raise ValueError("buckets must be at least 1")
    if len(points) <= 3 * buckets:
        return list(points)
    lo, hi = points[0][0], points[-1][0]
    width = (hi - lo) / buckets or 1.0
    kept: list[Point] = []
    current: list[int] = []  # indexes into points: min, max, last of the open bucket
    bucket = None
    for i, (x, y) in enumerate(points):
        b = min(int((x - lo) / width), buckets - 1)
        if b != bucket:
            kept.extend(_bucket_points(points, current))
            bucket, current = b, [i, i, i]
            continue
        if y < points[current[0]][1]:
            current[0] = i
        if y > points[current[1]][1]:
            current[1] = i
        current[2] = i
    kept.extend(_bucket_points(points, current))
    return kept


def _bucket_points(points: Sequence[Point], indexes: list[int]) -> list[Point]:
    return [points[i] for i in sorted(set(indexes))]


def bucket_rows_to_points(rows: Iterable[tuple[float, float, float, float, float]]) -> list[Point]:
    """Points from rows already bucketed by the database: (x_mid, min, max, last_x, last).

    The database gives each bucket's min and max without their exact x, so they are drawn
    at the bucket's middle (never after its last point): less than a bucket's width off,
    which at the requested resolution is under a pixel.
    """
    points: list[Point] = []
    for x_mid, low, high, last_x, last in rows:
        x = min(x_mid, last_x)
        points.append((x, low))
        if high != low:
            points.append((x, high))
        if last_x != x or last not in (low, high):
            points.append((last_x, last))
    return points


def clamp_points(raw: str | None, default: int = DEFAULT_POINTS) -> int:
    """The ``?points=`` parameter, clamped to something a browser can draw."""
    try:
        value = int(raw or default)
    except ValueError:
        return default
    return max(10, min(MAX_POINTS, value))


# --- figures ------------------------------------------------------------------------

@dataclass(frozen=True)
class Chart:
    slug: str
    title: str
    y_title: str
    series: tuple[tuple[str, str], ...]  # (series key, legend label)
    y2: tuple[str, ...] = ()  # series drawn on a right-hand axis


CHARTS: tuple[Chart, ...] = (
    Chart("reward", "Reward", "reward", (("reward", "total reward"),)),
    Chart(
        "accuracy", "Accuracy and format", "rate",
        (("accuracy", "accuracy"), ("format_rate", "format ok")),
    ),
    Chart(
        "length",
        "Response length",
        "tokens",
        (("length_mean", "mean"), ("length_min", "min"), ("length_max", "max")),
    ),
    Chart(
        "reflection",
        "Reflection",
        "rate",
        (("reflection_rate", "reflection rate (detector)"), ("flags", "human reflection flags")),
        y2=("flags",),
    ),
    Chart("kl", "KL and entropy", "value", (("kl", "KL"), ("entropy", "entropy"))),
    Chart("loss", "Loss", "loss", (("loss", "loss"),)),
)


def reward_chart(reward_keys: Iterable[str]) -> Chart:
    """The reward chart with one line per reward function TRL logged."""
    extra = tuple((key, key.split("/")[1]) for key in sorted(reward_keys))
    return Chart("reward", "Reward", "reward", (("reward", "total reward"), *extra))


def figure(chart: Chart, runs: Sequence[tuple[str, dict[str, list[Point]]]]) -> dict:
    """A Plotly figure dict for one chart, one line per (run, series) that has points."""
    overlay = len(runs) > 1
    data = []
    for run_label, series in runs:
        for key, label in chart.series:
            points = series.get(key) or []
            if not points:
                continue
            trace = {
                "type": "scatter",
                "mode": "lines+markers" if len(points) < 40 else "lines",
                "name": f"{run_label}: {label}" if overlay else label,
                "x": [p[0] for p in points],
                "y": [p[1] for p in points],
            }
            if key in chart.y2:
                trace["yaxis"] = "y2"
            data.append(trace)
    layout = {
        "title": {"text": chart.title},
        "xaxis": {"title": {"text": "step"}},
        "yaxis": {"title": {"text": chart.y_title}},
        "margin": {"l": 50, "r": 50, "t": 40, "b": 40},
        "height": 300,
        "legend": {"orientation": "h"},
    }
    if chart.y2:
        layout["yaxis2"] = {"overlaying": "y", "side": "right", "title": {"text": "flags"}}
    return {"data": data, "layout": layout}


# --- smoothing ----------------------------------------------------------------------

# Plotly's default colours, set explicitly so a raw line and its smoothed line match.
COLORWAY = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")


def clamp_smoothing(raw: str | None) -> float:
    """The ``?smoothing=`` weight, 0 (off) to 0.99, as W&B's smoothing slider."""
    try:
        value = float(raw or 0)
    except ValueError:
        return 0.0
    return max(0.0, min(0.99, value)) if value == value else 0.0


def ema(values: Sequence[float | None], weight: float) -> list[float | None]:
    """Debiased exponential moving average (W&B's default smoothing): early points are
    not dragged towards zero, and gaps stay gaps."""
    smoothed: list[float | None] = []
    last = debias = 0.0
    for value in values:
        if value is None:
            smoothed.append(None)
            continue
        last = last * weight + (1 - weight) * value
        debias = debias * weight + (1 - weight)
        smoothed.append(last / debias)
    return smoothed


def smooth_figure(fig: dict, weight: float) -> dict:
    """Each line drawn smoothed over a faint copy of its raw points."""
    if weight <= 0:
        return fig
    data = []
    for i, trace in enumerate(fig["data"]):
        line = {**trace.get("line", {}), "color": COLORWAY[i % len(COLORWAY)]}
        group = {"legendgroup": trace.get("name", str(i)), "line": line}
        raw = {**trace, **group, "opacity": 0.25, "showlegend": False, "hoverinfo": "skip"}
        data += [raw, {**trace, **group, "y": ema(trace["y"], weight)}]
    return {**fig, "data": data}


# --- the "aha" finder ---------------------------------------------------------------

@dataclass(frozen=True)
class StepCount:
    step: int
    total: int  # samples at this step
    reflective: int  # of which the detector found reflection in


@dataclass(frozen=True)
class Aha:
    step: int
    base_rate: float
    rate: float  # smoothed rate at that step


def aha_step(
    steps: Sequence[StepCount],
    base: StepCount | None = None,
    *,
    window: int = 5,
    min_margin: float = 0.05,
) -> Aha | None:
    """The first step from which the reflection rate stays clearly above the base model's.

    ``base`` is the base model's count (its evaluation); without one, the first step
    stands in. A step is clearly above when its smoothed rate (pooled over the last
    ``window`` steps) exceeds the base rate by more than ``min_margin`` and by more than
    two standard errors of the difference; it must stay so until the last step.
    """
    steps = sorted((s for s in steps if s.total > 0), key=lambda s: s.step)
    if base is None or base.total == 0:
        if len(steps) < 2:
            return None
        base, steps = steps[0], steps[1:]
    p0 = base.reflective / base.total
    found: Aha | None = None
    for i, current in enumerate(steps):
        pooled = steps[max(0, i - window + 1) : i + 1]
        n = sum(s.total for s in pooled)
        p = sum(s.reflective for s in pooled) / n
        se = math.sqrt(p0 * (1 - p0) / base.total + p * (1 - p) / n)
        if p > p0 + max(min_margin, 2 * se):
            found = found or Aha(step=current.step, base_rate=p0, rate=p)
        else:
            found = None
    return found
