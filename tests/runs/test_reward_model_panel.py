"""The reward-model stage's page shows how the model ranks held-out preference pairs."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from r1web.runs.models import StageKind
from r1web.runs.panels.reward_model import reward_model_figure
from r1web.runs.services import metrics_record

pytestmark = pytest.mark.django_db


def _figure(html: str) -> dict:
    tag = '<script id="reward-model-figure" type="application/json">'
    start = html.index(tag) + len(tag)
    return json.loads(html[start : html.index("</script>", start)])


def test_the_stage_page_charts_eval_accuracy_and_margin_and_shows_the_final_values(
    viewer, make_run
):
    stage = make_run(kind=StageKind.REWARD_MODEL, name="reward model", status="succeeded",
                     result={"eval_accuracy": 0.875, "eval_margin": 1.25, "pairs": 240})
    for step, accuracy, margin in [(15, 0.5, 0.1), (30, 0.75, 0.6), (45, 0.875, 1.25)]:
        metrics_record(stage_pk=stage.pk, step=step,
                       values={"eval_accuracy": accuracy, "eval_margin": margin, "loss": 0.3})
    html = viewer.get(reverse("runs:stage", args=[stage.pk])).content.decode()
    assert '<strong id="rm-accuracy">0.875</strong>' in html
    assert '<strong id="rm-margin">1.250</strong>' in html
    lines = {trace["name"]: trace for trace in _figure(html)["data"]}
    assert lines["accuracy (chosen scored higher)"]["y"] == [0.5, 0.75, 0.875]
    assert lines["margin (chosen − rejected)"]["x"] == [15, 30, 45]
    assert 'src="/static/r1web/figures.js"' in html


def test_a_reward_model_not_yet_evaluated_says_so(viewer, make_run):
    stage = make_run(kind=StageKind.REWARD_MODEL, name="reward model", status="running")
    html = viewer.get(reverse("runs:stage", args=[stage.pk])).content.decode()
    assert "No evaluation on held-out pairs yet" in html
    assert "reward-model-figure" not in html


def test_the_margin_is_drawn_on_its_own_axis():
    fig = reward_model_figure({"eval_accuracy": [(1, 0.5)], "eval_margin": [(1, 3.0)]})
    assert [trace.get("yaxis") for trace in fig["data"]] == [None, "y2"]
    assert fig["layout"]["yaxis2"]["title"]["text"] == "margin"
