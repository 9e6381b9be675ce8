"""Pure functions behind the run charts: downsampling, figures and the "aha" finder.

Nothing here touches the database, so all of it is tested with plain lists.

Two things every figure holds to, whatever the data: a number is finite (JSON has no
NaN or Infinity, and one of them in a page's figures stopped every chart of it from
drawing), and text is escaped for Plotly, which renders a subset of HTML (``<a href>``
included) in names, titles, hover labels and annotations. ``plotly_text`` escapes what
these functions put in a figure; ``FiniteJSONEncoder`` writes any non-finite number left
as null, a gap in its line.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder

Point = tuple[float, float]

DEFAULT_POINTS = 300
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
    top = buckets - 1
    kept: list[Point] = []
    bucket = None
    # The open bucket's lowest, highest and last point (index, and y for the first two):
    # kept in locals, as a run page sends a dozen series of thousands of points here.
    low_i = high_i = last_i = 0
    low_y = high_y = 0.0
    for i, (x, y) in enumerate(points):
        b = min(int((x - lo) / width), top)
        if b != bucket:
            if bucket is not None:
                kept.extend([points[j] for j in sorted({low_i, high_i, last_i})])
            bucket, low_i, high_i, last_i, low_y, high_y = b, i, i, i, y, y
            continue
        if y < low_y:
            low_i, low_y = i, y
        if y > high_y:
            high_i, high_y = i, y
        last_i = i
    kept.extend([points[j] for j in sorted({low_i, high_i, last_i})])
    return kept


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


# --- what a figure may hold -----------------------------------------------------------


def plotly_text(text: str) -> str:
    """``text`` as Plotly shows it literally: its own tags (``<a href>``, ``<b>``...) are
    the only markup it reads, and it reads entities back to characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def finite(value: Any) -> Any:
    """A JSON-shaped value with every non-finite float replaced by None."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [finite(item) for item in value]
    return value


class FiniteJSONEncoder(DjangoJSONEncoder):
    """JSON that a browser's ``JSON.parse`` always reads: a non-finite number, which
    should never reach a figure, is written as null rather than as ``Infinity``."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **{**kwargs, "allow_nan": False})

    def encode(self, o: Any) -> str:
        try:
            return super().encode(o)
        except ValueError:  # allow_nan=False met one: the rare case pays for the walk
            return super().encode(finite(o))


def figure_json(value: Any) -> str:
    return json.dumps(value, cls=FiniteJSONEncoder)


# --- figures ------------------------------------------------------------------------

@dataclass(frozen=True)
class Chart:
    slug: str
    title: str  # when the chart has no title_words, or nothing to draw yet
    y_title: str
    series: tuple[tuple[str, str], ...]  # (series key, legend label)
    y2: tuple[str, ...] = ()  # series drawn on a right-hand axis
    counts: tuple[str, ...] = ()  # series of whole numbers: integer ticks, never smoothed
    # (series key, its word in the title): the title names only what is drawn, so
    # "KL and entropy" reads "Entropy" when beta is 0 and TRL logs no KL.
    title_words: tuple[tuple[str, str], ...] = ()
    hover: str = ".3f"  # d3 format of the values on hover


CHARTS: tuple[Chart, ...] = (
    Chart("reward", "Reward", "reward", (("reward", "total reward"),)),
    Chart(
        "accuracy", "Accuracy and format", "rate",
        (("accuracy", "accuracy"), ("format_rate", "format ok")),
        title_words=(("accuracy", "accuracy"), ("format_rate", "format")),
    ),
    Chart(
        "length",
        "Response length",
        "tokens",
        (("length_mean", "mean"), ("length_min", "min"), ("length_max", "max")),
        hover=".1f",
    ),
    Chart(
        "reflection",
        "Reflection",
        "rate",
        (("reflection_rate", "reflection rate (detector)"), ("flags", "human reflection flags")),
        y2=("flags",),
        counts=("flags",),
    ),
    Chart(
        "kl", "KL and entropy", "value", (("kl", "KL"), ("entropy", "entropy")),
        title_words=(("kl", "KL"), ("entropy", "entropy")),
        hover=".4g",
    ),
    Chart("loss", "Loss", "loss", (("loss", "loss"),), hover=".4g"),
)

# Plotly's default colours, set explicitly: a raw line and its smoothed line match, and
# in a comparison every chart gives a run the same colour.
COLORWAY = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
            "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
# In a comparison the colour says which run; the dash says which series of it.
DASHES = ("solid", "dot", "dash", "longdash", "dashdot", "longdashdot")
NO_DATA = "No data yet"


def reward_chart(reward_keys: Iterable[str]) -> Chart:
    """The reward chart with one line per reward function TRL logged."""
    extra = tuple((key, key.split("/")[1]) for key in sorted(reward_keys))
    return Chart("reward", "Reward", "reward", (("reward", "total reward"), *extra))


def figure(chart: Chart, runs: Sequence[tuple[str, dict[str, list[Point]]]]) -> dict:
    """A Plotly figure dict for one chart, one line per (run, series) that has points.

    One run: a colour per series. Several: a colour per run, the same in every chart,
    and a dash per series. Nothing to draw: a "no data yet" note, not an empty grid.
    """
    overlay = len(runs) > 1
    data = []
    drawn = set()
    for run_index, (run_label, series) in enumerate(runs):
        for series_index, (key, label) in enumerate(chart.series):
            points = series.get(key) or []
            if not points:
                continue
            drawn.add(key)
            colour = COLORWAY[(run_index if overlay else series_index) % len(COLORWAY)]
            line = {"color": colour}
            if overlay:
                line["dash"] = DASHES[series_index % len(DASHES)]
            name = f"{run_label}: {label}" if overlay else label
            data.append(_trace(chart, key, plotly_text(name), points, line))
    return {"data": data, "layout": _layout(chart, data, drawn)}


def _trace(chart: Chart, key: str, name: str, points: list[Point], line: dict) -> dict:
    count = key in chart.counts
    trace = {
        "type": "scatter",
        "mode": "lines+markers" if len(points) < 40 else "lines",
        "name": name,
        "x": [_step(p[0]) for p in points],
        "y": [_value(p[1]) for p in points],
        "line": line,
        "hovertemplate": f"%{{y:{'d' if count else chart.hover}}}",
    }
    if count:
        trace["meta"] = "count"  # smooth_figure leaves whole numbers alone
    if key in chart.y2:
        trace["yaxis"] = "y2"
    return trace


def _step(x: float) -> float | None:
    """A step as JSON keeps it short: whole steps whole, bucket middles to 0.01."""
    if isinstance(x, int):
        return x
    return round(x, 2) if math.isfinite(x) else None


def _value(y: float | None) -> float | None:
    """Six significant digits: what a chart can show, in a third of the JSON. A value
    that is not finite is a gap."""
    return float(f"{y:.6g}") if y is not None and math.isfinite(y) else None


def _layout(chart: Chart, data: list[dict], drawn: set[str]) -> dict:
    layout = {
        "title": {"text": plotly_text(chart_title(chart, drawn))},
        "xaxis": {"title": {"text": "step", "standoff": 4}},
        "yaxis": {"title": {"text": plotly_text(chart.y_title)}},
        "margin": {"l": 55, "r": 55, "t": 40, "b": 30},
        "height": 320,
        "showlegend": True,  # even for one line: the legend says what it is
        # Below the axis title: Plotly grows the bottom margin to fit it.
        "legend": {"orientation": "h", "x": 0, "y": -0.4, "yanchor": "top"},
        "hovermode": "x unified",
    }
    if not data:
        layout["showlegend"] = False
        layout["xaxis"] = {"visible": False}
        layout["yaxis"] = {"visible": False}
        layout["annotations"] = [{
            "text": NO_DATA, "showarrow": False, "xref": "paper", "yref": "paper",
            "x": 0.5, "y": 0.5, "font": {"size": 15, "color": "#6b7280"},
        }]
        return layout
    _integer_ticks(layout["xaxis"], [x for trace in data for x in trace["x"]])
    if chart.y2:
        layout["yaxis2"] = {"overlaying": "y", "side": "right", "title": {"text": "flags"}}
    for axis_name, axis in (("y", layout["yaxis"]), ("y2", layout.get("yaxis2"))):
        counts = [y for t in data if t.get("meta") == "count" and t.get("yaxis", "y") == axis_name
                  for y in t["y"]]
        if axis is not None and counts:
            axis["rangemode"] = "tozero"
            _integer_ticks(axis, [0, *counts])
    return layout


def chart_title(chart: Chart, drawn: set[str]) -> str:
    """The chart's title, naming only the series it draws (where it has title words)."""
    words = [word for key, word in chart.title_words if key in drawn]
    if not words:
        return chart.title
    text = " and ".join(words)
    return text[0].upper() + text[1:]


def _integer_ticks(axis: dict, values: Sequence[float]) -> None:
    """Whole numbers get whole ticks: Plotly puts ticks at 0.5 on a short range (a step
    2.5, 1.143 flags). A span under 10 gets a tick per unit; a longer one gets Plotly's
    own ticks, whole numbers already, printed without decimals."""
    values = [value for value in values if value is not None]  # gaps
    if not values:
        return
    axis["tickformat"] = "d"
    if max(values) - min(values) < 10:
        axis["dtick"] = 1


# --- smoothing ----------------------------------------------------------------------

# W&B-style: on by default, since one batch's accuracy is mostly noise. 0 turns it off.
DEFAULT_SMOOTHING = 0.6


def clamp_smoothing(raw: str | None) -> float:
    """The ``?smoothing=`` weight, 0 (off) to 0.99, as W&B's smoothing slider; absent or
    unreadable, the default."""
    if raw is None or raw == "":
        return DEFAULT_SMOOTHING
    try:
        value = float(raw)
    except ValueError:
        return DEFAULT_SMOOTHING
    return max(0.0, min(0.99, value)) if math.isfinite(value) else DEFAULT_SMOOTHING


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
    """Each line drawn smoothed over a faint copy of its raw points, in the same colour
    (counts are drawn as they are)."""
    if weight <= 0:
        return fig
    data = []
    for i, trace in enumerate(fig["data"]):
        if trace.get("meta") == "count":
            data.append(trace)
            continue
        line = {"color": COLORWAY[i % len(COLORWAY)], **trace.get("line", {})}
        group = {"legendgroup": trace.get("name", str(i))}
        raw = {**trace, **group, "line": {**line, "width": 1}, "opacity": 0.25,
               "showlegend": False, "hoverinfo": "skip", "mode": "lines"}
        raw.pop("hovertemplate", None)
        smoothed = [_value(y) for y in ema(trace["y"], weight)]
        data += [raw, {**trace, **group, "line": line, "y": smoothed,
                       "mode": "lines"}]
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
    n = reflective = 0  # the window's counts, kept as it slides (whole numbers: exact)
    for i, current in enumerate(steps):
        n += current.total
        reflective += current.reflective
        if i >= window:
            n -= steps[i - window].total
            reflective -= steps[i - window].reflective
        p = reflective / n
        se = math.sqrt(p0 * (1 - p0) / base.total + p * (1 - p) / n)
        if p > p0 + max(min_margin, 2 * se):
            found = found or Aha(step=current.step, base_rate=p0, rate=p)
        else:
            found = None
    return found
