from __future__ import annotations

import pytest

from r1web.runs import charts
from r1web.runs.charts import Aha, StepCount


def test_downsampling_leaves_a_short_series_alone():
    points = [(x, float(x)) for x in range(30)]
    assert charts.downsample(points, 10) == points


def test_downsampling_keeps_each_buckets_min_max_and_last():
    points = [(x, 0.0) for x in range(1000)]
    points[123] = (123, 50.0)  # a spike a stride would miss
    points[777] = (777, -9.0)
    kept = charts.downsample(points, 10)
    assert len(kept) <= 30
    assert (123, 50.0) in kept
    assert (777, -9.0) in kept
    assert kept[-1] == (999, 0.0)
    assert [x for x, _ in kept] == sorted(x for x, _ in kept)


def test_downsampling_refuses_zero_buckets():
    with pytest.raises(ValueError):
        charts.downsample([(0, 1.0)], 0)


def test_bucketed_rows_draw_min_and_max_at_the_bucket_middle_and_the_last_point_where_it_is():
    points = charts.bucket_rows_to_points([(5.0, -1.0, 3.0, 9, 2.0)])
    assert points == [(5.0, -1.0), (5.0, 3.0), (9, 2.0)]


def test_points_parameter_is_clamped():
    assert charts.clamp_points("999999") == charts.MAX_POINTS
    assert charts.clamp_points("nonsense") == charts.DEFAULT_POINTS
    assert charts.clamp_points("1") == 10


def test_a_figure_overlays_several_runs_and_skips_empty_series():
    chart = charts.CHARTS[1]
    fig = charts.figure(chart, [("run a", {"accuracy": [(1, 0.5)]}), ("run b", {"accuracy": [(1, 0.7)]})])
    assert [trace["name"] for trace in fig["data"]] == ["run a: accuracy", "run b: accuracy"]


def _chart(slug: str) -> charts.Chart:
    return next(c for c in charts.CHARTS if c.slug == slug)


def test_in_a_comparison_each_run_keeps_one_colour_in_every_chart():
    runs = [(name, {"accuracy": [(1, 0.5)], "format_rate": [(1, 0.9)], "loss": [(1, 2.0)]})
            for name in ("a", "b")]
    colours = {}
    for slug in ("accuracy", "loss"):
        for trace in charts.figure(_chart(slug), runs)["data"]:
            colours.setdefault(trace["name"].split(":")[0], set()).add(trace["line"]["color"])
    assert all(len(found) == 1 for found in colours.values())
    assert colours["a"] != colours["b"]
    accuracy = charts.figure(_chart("accuracy"), runs)["data"]
    assert accuracy[0]["line"]["dash"] != accuracy[1]["line"]["dash"]  # series of one run


def test_the_title_names_only_what_is_drawn():
    entropy_only = charts.figure(_chart("kl"), [("r", {"entropy": [(1, 0.7)]})])
    assert entropy_only["layout"]["title"]["text"] == "Entropy"
    both = charts.figure(_chart("kl"), [("r", {"entropy": [(1, 0.7)], "kl": [(1, 0.01)]})])
    assert both["layout"]["title"]["text"] == "KL and entropy"


def test_an_empty_chart_says_no_data_yet_instead_of_drawing_a_grid():
    layout = charts.figure(_chart("loss"), [("r", {})])["layout"]
    assert layout["annotations"][0]["text"] == "No data yet"
    assert layout["xaxis"]["visible"] is False and layout["yaxis"]["visible"] is False


def test_counts_get_whole_number_ticks_from_zero_and_are_never_smoothed():
    fig = charts.figure(_chart("reflection"), [("r", {"flags": [(1, 1), (2, 3)],
                                                      "reflection_rate": [(1, 0.1), (2, 0.2)]})])
    axis = fig["layout"]["yaxis2"]
    assert axis["dtick"] == 1 and axis["tickformat"] == "d" and axis["rangemode"] == "tozero"
    assert fig["layout"]["xaxis"]["dtick"] == 1  # steps 1 and 2: no tick at 1.5
    smoothed = charts.smooth_figure(fig, 0.6)
    flags = [t for t in smoothed["data"] if t["name"] == "human reflection flags"]
    assert len(flags) == 1 and flags[0]["y"] == [1, 3]


def test_a_single_line_still_gets_a_legend_and_hover_values():
    layout = charts.figure(_chart("loss"), [("r", {"loss": [(1, 2.0)]})])["layout"]
    assert layout["showlegend"] is True and layout["hovermode"] == "x unified"


def test_smoothing_is_on_by_default_and_zero_turns_it_off():
    assert charts.clamp_smoothing(None) == charts.DEFAULT_SMOOTHING > 0
    assert charts.clamp_smoothing("0") == 0.0
    assert charts.clamp_smoothing("nan") == charts.DEFAULT_SMOOTHING
    assert charts.clamp_smoothing("5") == 0.99


def test_human_flags_go_on_the_right_hand_axis():
    chart = next(c for c in charts.CHARTS if c.slug == "reflection")
    fig = charts.figure(chart, [("r", {"flags": [(3, 2)], "reflection_rate": [(3, 0.1)]})])
    assert {t["name"]: t.get("yaxis") for t in fig["data"]} == {
        "reflection rate (detector)": None, "human reflection flags": "y2",
    }


def _steps(rates: list[float], n: int = 100) -> list[StepCount]:
    return [StepCount(step, n, round(rate * n)) for step, rate in enumerate(rates, start=1)]


def test_the_aha_step_is_where_reflection_rises_clearly_above_the_base_and_stays():
    rates = [0.1] * 10 + [0.4] * 10
    found = charts.aha_step(_steps(rates), StepCount(0, 200, 20), window=1)
    assert found == Aha(step=11, base_rate=0.1, rate=0.4)


def test_a_rise_that_falls_back_is_no_aha_moment():
    rates = [0.1] * 5 + [0.5] * 5 + [0.1] * 5
    assert charts.aha_step(_steps(rates), StepCount(0, 200, 20), window=1) is None


def test_a_rise_within_noise_is_no_aha_moment():
    # 0.1 -> 0.13 is under the five-point margin.
    assert charts.aha_step(_steps([0.13] * 10), StepCount(0, 200, 20), window=1) is None


def test_without_a_base_evaluation_the_first_step_is_the_base():
    rates = [0.05] + [0.05] * 3 + [0.6] * 6
    found = charts.aha_step(_steps(rates), None, window=1)
    assert found is not None and found.step == 5 and found.base_rate == 0.05


def test_smoothing_delays_the_aha_step_until_the_window_is_clearly_above():
    rates = [0.1] * 10 + [0.5] * 10
    found = charts.aha_step(_steps(rates), StepCount(0, 200, 20), window=5)
    assert found is not None and 11 <= found.step <= 13


def test_smoothing_follows_the_trend_without_dragging_early_points_to_zero():
    from r1web.runs.charts import ema

    smoothed = ema([10.0, 10.0, None, 0.0], 0.5)
    assert smoothed[0] == 10.0 and smoothed[1] == 10.0  # debiased: no pull towards 0
    assert smoothed[2] is None  # a gap stays a gap
    assert 0.0 < smoothed[3] < 10.0


def test_a_smoothed_figure_draws_each_line_over_a_faint_raw_copy_of_the_same_colour():
    from r1web.runs.charts import CHARTS, figure, smooth_figure

    fig = figure(CHARTS[0], [("run", {"reward": [(1, 0.0), (2, 1.0), (3, 0.0)]})])
    smoothed = smooth_figure(fig, 0.6)
    raw, line = smoothed["data"]
    assert raw["y"] == [0.0, 1.0, 0.0] and raw["opacity"] < 1 and not raw["showlegend"]
    assert line["line"]["color"] == raw["line"]["color"]
    assert max(line["y"]) < 1.0
    assert smooth_figure(fig, 0.0) == fig
