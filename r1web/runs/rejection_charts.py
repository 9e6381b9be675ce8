"""The rejection-sampling stage's chart: prompts by pass rate, as a Plotly figure dict.

A pure function of the histogram (``r1domain.rejection.pass_rate_histogram``), so
it is tested with plain lists.
"""

from __future__ import annotations

from collections.abc import Sequence

INSIDE, OUTSIDE = "#2ca02c", "#b0b0b0"  # bars of pass rates the window keeps, and the rest


def pass_rate_figure(counts: Sequence[int], window: tuple[float, float] | None = None) -> dict:
    """One bar per pass-rate bin (bins evenly spaced from 0 to 1); with a window, the
    kept range is shaded and the bars outside it greyed."""
    last = max(1, len(counts) - 1)
    xs = [i / last for i in range(len(counts))]
    bar = {
        "type": "bar",
        "x": xs,
        "y": list(counts),
        "width": 0.8 / last,
        "name": "prompts",
        "hovertemplate": "pass rate ≈ %{x:.1f}: %{y} prompts<extra></extra>",
    }
    layout = {
        "title": {"text": "Prompts by pass rate"},
        "xaxis": {"title": {"text": "pass rate (share of a prompt's samples judged correct)"},
                  "range": [-0.6 / last, 1 + 0.6 / last], "dtick": 0.1},
        "yaxis": {"title": {"text": "prompts"}, "rangemode": "tozero"},
        "margin": {"l": 50, "r": 30, "t": 40, "b": 50},
        "height": 300,
        "showlegend": False,
    }
    if window is not None:
        lo, hi = window
        bar["marker"] = {"color": [INSIDE if lo < x < hi else OUTSIDE for x in xs]}
        layout["shapes"] = [{
            "type": "rect", "xref": "x", "yref": "paper", "x0": lo, "x1": hi, "y0": 0, "y1": 1,
            "fillcolor": "rgba(44, 160, 44, 0.12)", "line": {"width": 0}, "layer": "below",
        }]
        layout["annotations"] = [{
            "x": (lo + hi) / 2, "y": 1, "xref": "x", "yref": "paper", "yanchor": "bottom",
            "text": f"kept: {lo:g} < pass rate < {hi:g}", "showarrow": False,
        }]
    return {"data": [bar], "layout": layout}
