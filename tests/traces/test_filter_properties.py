"""Property: any query string on the trace browser's filters gives form errors or clean
filters the database can run, and filtering never raises."""

from __future__ import annotations

import math

import pytest
from django.http import QueryDict
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from r1web.traces.forms import MAX_ID, MAX_STEP, TraceFilterForm, narrowing
from r1web.traces.selectors import filter_samples, samples_page

FIELDS = [*TraceFilterForm.base_fields, "after"]
NUMBERISH = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(str),
    st.sampled_from(["nan", "inf", "-inf", "1e999", "²", "٣", "9" * 5000, "0x10", " 7 "]),
)
VALUES = st.one_of(st.text(max_size=50), NUMBERISH)
PARAMS = st.lists(st.tuples(st.one_of(st.sampled_from(FIELDS), st.text(max_size=8)), VALUES),
                  max_size=8)


def _query(pairs) -> QueryDict:
    query = QueryDict(mutable=True)
    for name, value in pairs:
        query.appendlist(name, value)
    return query


@settings(max_examples=100, deadline=None)
@given(PARAMS)
@example([("run", "9" * 30), ("q", "\x00")])
@example([("reward_min", "nan"), ("step_max", "1e999")])
def test_the_filter_form_gives_errors_or_clean_bounded_values(pairs):
    form = TraceFilterForm(_query(pairs))
    if not form.is_valid():
        assert form.errors
    data = form.cleaned_data
    for name in ("run", "stage"):
        assert data.get(name) is None or 1 <= data[name] <= MAX_ID
    for name in ("step_min", "step_max"):
        assert data.get(name) is None or 0 <= data[name] <= MAX_STEP
    for name in ("reward_min", "reward_max"):
        assert data.get(name) is None or math.isfinite(data[name])
    for name in ("q", "flag_label"):
        assert "\x00" not in (data.get(name) or "")
    assert "sort" not in narrowing(data)


@pytest.fixture
def stored(make_run, make_samples):
    stage = make_run()
    make_samples(stage, steps=2, groups=1, per_group=2)
    return stage


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pairs=PARAMS)
@example(pairs=[("sort", "reward"), ("after", "nan:1")])
@example(pairs=[("sort", "-step"), ("after", "9" * 5000 + ":²")])
@example(pairs=[("sort", "-reward"), ("after", "1e999:" + "9" * 30)])
@example(pairs=[("after", "9" * 30)])
def test_filtering_and_paging_run_for_any_parameters(stored, pairs):
    params = _query(pairs)
    total = filter_samples(params).count()
    page = samples_page(params, size=2)
    assert len(page.samples) <= min(total, 2)
