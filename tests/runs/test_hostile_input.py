"""Malformed input to the run pages gives a clear form error or a sane page, never a 500,
and a refused launch writes nothing."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from r1web.runs.models import Run

DEEP = "{" + '"a":[' * 900 + "1" + "]" * 900 + "}"
CONFIGS = {
    "NaN": '{"learning_rate": NaN}',
    "Infinity": '{"learning_rate": -Infinity}',
    "1e999": '{"learning_rate": 1e999}',
    "NaN line": "learning_rate=NaN",
    "1e999 line": "learning_rate=1e999",
    "huge int": '{"max_steps": ' + "9" * 5000 + "}",
    "huge int line": "max_steps=" + "9" * 5000,
    "int too big for a float": '{"learning_rate": ' + "9" * 400 + "}",
    "deep JSON": DEEP,
    "deep line": "reward_weights=" + "[" * 900 + "1" + "]" * 900,
    "NUL": "learning_rate=1e-5\x00",
    "not an object": '{"a": 1} trailing',
    "wrong type": '{"per_device_train_batch_size": "eight"}',
    # Issue 23: a lone surrogate failed the page, and the error page with it.
    "lone surrogate key": '{"\\ud800": 1}',
    "lone surrogate value": '{"run_name": "a\\udc00"}',
    "lone surrogate line": 'run_name="\\ud800"',
}


@pytest.fixture
def tiny_model(tmp_path, settings):
    settings.MODELS_DIR = tmp_path
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "config.json").write_text("{}")
    return tmp_path / "base"


@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_a_hostile_trl_config_is_a_form_error_and_nothing_is_written(
    operator, tiny_model, config
):
    response = operator.post(reverse("runs:launch", args=["r1-zero"]), {
        "model": "base", "queue": "cpu", "grpo_config": config,
    })
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert not Run.objects.exists()


@pytest.mark.parametrize("field, value", [
    ("model", "²"), ("model", "9" * 40), ("model", "base\x00"), ("dataset", "maths@²"),
    ("dataset", "maths@" + "9" * 40), ("dataset", "x" * 600), ("max_steps", "1e999"),
    ("max_steps", "9" * 5000), ("name", "n" * 5000),
])
def test_a_hostile_launch_value_is_a_form_error(operator, tiny_model, field, value):
    values = {"model": "base", "queue": "cpu", field: value}
    response = operator.post(reverse("runs:launch", args=["r1-zero"]), values)
    assert response.status_code == 200
    assert 'class="errorlist' in response.content.decode()
    assert not Run.objects.exists()


QUERIES = [
    "x0=inf&x1=1", "x0=-inf&x1=nan", "x0=1e999&x1=-1e999", "x0=" + "9" * 5000 + "&x1=1",
    "compare=²,³", "compare=" + "9" * 40, "compare=1,,,-2,\x00",
    "points=1e999", "points=" + "9" * 5000, "smoothing=nan", "smoothing=-inf",
    "stage=\x00", "stage=" + "k" * 5000,
]


@pytest.mark.parametrize("query", QUERIES)
def test_hostile_chart_parameters_still_give_the_charts(client, charlie, make_run, query):
    client.force_login(charlie)
    stage = make_run()
    for name in ("runs:chart_data", "runs:detail"):
        response = client.get(reverse(name, args=[stage.run_id]) + "?" + query)
        assert response.status_code == 200, name
    data = json.loads(client.get(reverse("runs:chart_data", args=[stage.run_id]) + "?"
                                 + query).content)
    assert "figures" in data


@pytest.mark.parametrize("query", [
    "runs=²", "runs=" + "9" * 40, "stages=³&runs=1", "baseline=\x00", "format=csv&runs=²",
])
def test_hostile_comparison_parameters_give_a_page(client, charlie, make_run, query):
    client.force_login(charlie)
    make_run()
    assert client.get(reverse("runs:compare") + "?" + query).status_code == 200
