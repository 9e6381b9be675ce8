from __future__ import annotations

import pytest
from django.http import QueryDict

from r1web.traces.models import Flag, Sample
from r1web.traces.selectors import filter_samples, neighbours, samples_page


@pytest.fixture
def stage(make_run, make_samples):
    stage = make_run()
    make_samples(stage, steps=4, groups=3, per_group=4)  # 48 samples
    return stage


def q(text: str) -> QueryDict:
    return QueryDict(text)


def test_filters_combine(stage):
    samples = filter_samples(q("step_min=2&step_max=3&correct=yes&reflection=yes"))
    assert samples.count() == 6  # index 0 only: 2 steps x 3 groups
    assert all(s.correct and s.reflection_count and 2 <= s.step <= 3 for s in samples)


def test_reward_range_and_format(stage):
    assert filter_samples(q("reward_min=1.5")).count() == 24
    assert filter_samples(q("reward_max=1.5&format_ok=no")).count() == 0


def test_text_search_looks_in_prompt_and_completion(stage):
    assert filter_samples(q("q=RECHECK")).count() == 48
    assert filter_samples(q("q=(step 3)")).count() == 12
    assert filter_samples(q("q=compare 2.")).count() == 12


def test_flag_filters(stage, bob):
    sample = Sample.objects.first()
    Flag.objects.create(sample=sample, run=sample.run, step=sample.step, label="custom",
                        custom_label="Mixed Language", created_by=bob)
    assert list(filter_samples(q("flagged=any"))) == [sample]
    assert list(filter_samples(q("flagged=custom&flag_label=mixed language"))) == [sample]
    assert not filter_samples(q("flagged=aha")).exists()


def test_invalid_parameters_are_ignored(stage):
    assert filter_samples(q("step_min=abc&sort=sideways&correct=maybe")).count() == 48


@pytest.mark.parametrize("sort", ["newest", "step", "-step", "reward", "-reward", "length", "-length"])
def test_keyset_pages_walk_every_sample_once_in_order(stage, sort):
    params = q(f"sort={sort}")
    expected = list(filter_samples(params).values_list("pk", flat=True))
    seen, cursor = [], None
    while True:
        page_params = params.copy()
        if cursor:
            page_params["after"] = cursor
        page = samples_page(page_params, size=7)
        seen += [s.pk for s in page.samples]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == expected


def test_neighbours_follow_the_current_order(stage):
    params = q("sort=-reward")
    ordered = list(filter_samples(params))
    previous, following = neighbours(params, ordered[5])
    assert (previous.pk, following.pk) == (ordered[4].pk, ordered[6].pk)
    assert neighbours(params, ordered[0])[0] is None
