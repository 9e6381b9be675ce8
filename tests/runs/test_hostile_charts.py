"""Charts under hostile data (issue 23): a non-finite number stored before r1web refused
them must not stop a page's charts from drawing (JSON.parse refuses Infinity), and a
run's name or a metric's never becomes markup in a Plotly figure."""

from __future__ import annotations

import json
import math

import pytest
from django.urls import reverse

from r1web.runs import charts, rollups
from r1web.runs.models import MetricPoint

LINK = '<a href="https://evil.example/">win</a>'


def strict_json(text: str):
    """JSON as a browser reads it: NaN and Infinity are errors."""

    def refuse(constant):
        raise ValueError(f"{constant} in chart JSON")

    return json.loads(text, parse_constant=refuse)


def embedded(page: str, element_id: str):
    start = page.index(f'id="{element_id}" type="application/json">') + len(element_id) + 30
    return strict_json(page[start:page.index("</script>", start)])


@pytest.fixture
def infinite_run(make_run):
    """A run holding what earlier versions let in: an infinite metric and a NaN."""
    stage = make_run(name="overflowed", status="succeeded")
    MetricPoint.objects.bulk_create([
        MetricPoint(stage=stage, step=1, key="reward", value=1.0),
        MetricPoint(stage=stage, step=2, key="reward", value=math.inf),
        MetricPoint(stage=stage, step=3, key="loss", value=-math.inf),
    ])
    rollups.refresh(stage_pk=stage.pk, keys=["reward", "loss"], first_step=1, last_step=3)
    return stage


def test_a_run_holding_infinity_still_gets_chart_json_a_browser_reads(
    client, charlie, infinite_run
):
    client.force_login(charlie)
    run = infinite_run.run
    page = client.get(run.get_absolute_url()).content.decode()
    figures = embedded(page, "run-figures")
    assert figures["reward"]["data"][0]["y"] == [1.0, None]  # a gap where it overflowed
    data = client.get(reverse("runs:chart_data", args=[run.pk]))
    assert strict_json(data.content)["figures"]["loss"]["data"][0]["y"] == [None]
    compare = client.get(reverse("runs:compare"), {"runs": run.pk}).content.decode()
    assert embedded(compare, "run-figures")["reward"]["data"]


def test_the_figure_encoder_writes_any_non_finite_number_as_null():
    text = charts.figure_json({"data": [{"y": [1.0, math.nan, -math.inf], "x": (math.inf,)}]})
    assert strict_json(text) == {"data": [{"y": [1.0, None, None], "x": [None]}]}


def test_a_run_name_holding_a_link_is_plain_text_in_the_compare_legend(
    client, charlie, make_run
):
    stages = [make_run(name=name, status="succeeded") for name in (LINK, "plain")]
    for stage in stages:
        MetricPoint.objects.create(stage=stage, step=1, key="reward", value=1.0)
    client.force_login(charlie)
    ids = ",".join(str(stage.run_id) for stage in stages)
    page = client.get(reverse("runs:compare"), {"runs": ids}).content.decode()
    names = [trace["name"] for trace in embedded(page, "run-figures")["reward"]["data"]]
    assert any("&lt;a href=\"https://evil.example/\"&gt;win&lt;/a&gt;" in n for n in names)
    assert not any("<a" in name for name in names)


def test_every_name_and_title_in_a_figure_is_escaped_for_plotly():
    chart = charts.reward_chart(["rewards/<b>bold<b>/mean"])
    series = {"rewards/<b>bold<b>/mean": [(1, 1.0)], "reward": [(1, 2.0)]}
    figure = charts.figure(chart, [("#1 <i>x</i> & y", series), ("#2", series)])
    texts = [trace["name"] for trace in figure["data"]] + [figure["layout"]["title"]["text"]]
    assert all("<" not in text for text in texts)
    assert "#1 &lt;i&gt;x&lt;/i&gt; &amp; y: &lt;b&gt;bold&lt;b&gt;" in texts
