"""Property: no query string makes the trace browser, a sample, the run page or its chart
data answer with a 500 (the test client raises on a server error)."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

PARAMS = ["run", "stage", "step_min", "step_max", "reward_min", "reward_max", "correct",
          "format_ok", "reflection", "flagged", "verdict", "flag_label", "q", "sort", "after",
          "x0", "x1", "points", "smoothing", "compare", "key", "runs", "stages", "baseline",
          "format"]
VALUES = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "²", "٣", "9" * 5000, "-1", "reward",
                     "1.5:7", "nan:1", "\x00", "csv", "run", "yes"]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)
PAIRS = st.lists(st.tuples(st.one_of(st.sampled_from(PARAMS), st.text(max_size=6)), VALUES),
                 max_size=6)
# What a browser or a script may put after the "?": any bytes, as WSGI passes them.
RAW = st.binary(max_size=200).map(lambda raw: raw.decode("latin-1"))
QUERIES = st.one_of(PAIRS.map(urlencode), RAW)
# Each example is several requests: fewer examples than the pure parsers' properties.
SETTINGS = settings(max_examples=50, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture
def urls(client, charlie, make_run, make_samples):
    client.force_login(charlie)
    stage = make_run()
    make_samples(stage, steps=2, groups=1, per_group=2)
    sample = stage.samples.first()
    return {
        "browser": reverse("traces:list"),
        "sample": reverse("traces:sample", args=[sample.pk]),
        "evolution": reverse("traces:evolution", args=[stage.run_id]),
        "run": reverse("runs:detail", args=[stage.run_id]),
        "charts": reverse("runs:chart_data", args=[stage.run_id]),
        "compare": reverse("runs:compare"),
    }


def _get(client, url: str, query: str, headers: dict | None = None):
    response = client.get(url, QUERY_STRING=query, headers=headers)
    assert response.status_code < 500
    return response


@SETTINGS
@given(query=QUERIES)
@example(query="after=%C2%B2&sort=reward")
@example(query="after=1e999:1&sort=-reward&q=%00")
@example(query="run=" + "9" * 30 + "&stage=%C2%B2")
def test_no_query_string_breaks_the_trace_browser_or_a_sample(client, urls, query):
    assert _get(client, urls["browser"], query).status_code == 200
    _get(client, urls["browser"], query, {"HX-Request": "true"})  # the fragment alike
    assert _get(client, urls["sample"], query).status_code == 200
    _get(client, urls["evolution"], query)


@SETTINGS
@given(query=QUERIES)
@example(query="x0=inf&x1=1")
@example(query="compare=%C2%B2,%C2%B3&points=1e999&smoothing=nan")
@example(query="runs=%C2%B2&format=csv")
def test_no_query_string_breaks_the_run_page_or_its_chart_data(client, urls, query):
    assert _get(client, urls["charts"], query).status_code == 200
    assert _get(client, urls["run"], query).status_code == 200
    _get(client, urls["compare"], query)
