"""Malformed flags and query strings on the trace pages: a clear refusal or a sane page,
never a 500."""

from __future__ import annotations

import pytest
from django.urls import reverse

from r1web.traces.models import Flag, Sample

HTMX = {"HX-Request": "true"}


@pytest.fixture
def sample(make_run, make_samples):
    make_samples(make_run(), steps=1, groups=1, per_group=2)
    return Sample.objects.first()


@pytest.mark.parametrize("data", [
    {"label": "custom", "custom_label": "odd\x00"},
    {"label": "aha", "note": "see\x00"},
    {"label": "aha", "note": "n" * 6000},
    {"label": "custom", "custom_label": "l" * 200},
    {"label": "\x00"},
    {},
])
def test_a_malformed_flag_is_refused_with_a_400_and_not_stored(curator, sample, data):
    response = curator.post(reverse("traces:flag", args=[sample.pk]), data, headers=HTMX)
    assert response.status_code == 400
    assert 'class="form-error" role="alert"' in response.content.decode()
    assert not Flag.objects.exists()


def test_a_well_formed_flag_is_still_stored(curator, sample):
    response = curator.post(
        reverse("traces:flag", args=[sample.pk]), {"label": "aha", "note": "nice"}, headers=HTMX
    )
    assert response.status_code == 200
    assert Flag.objects.get().note == "nice"


@pytest.mark.parametrize("key", ["\x00", "k" * 5000, "synthetic:0\x00"])
def test_an_unfindable_evolution_key_shows_no_samples(client, charlie, sample, key):
    client.force_login(charlie)
    response = client.get(reverse("traces:evolution", args=[sample.run_id]), {"key": key})
    assert response.status_code == 200
    assert "No sample of this run has that example key" in response.content.decode()


@pytest.mark.parametrize("query", [
    "after=²", "after=nan:1", "after=inf:" + "9" * 30, "sort=reward&after=1e999:²",
    "sort=-step&after=" + "9" * 5000 + ":1", "run=" + "9" * 30, "stage=-1",
    "step_min=" + "9" * 30, "q=%00", "flag_label=%00&flagged=custom", "reward_min=inf",
])
def test_hostile_filters_on_the_browser_and_a_sample_give_a_page(client, charlie, sample, query):
    client.force_login(charlie)
    assert client.get(reverse("traces:list") + "?" + query).status_code == 200
    assert client.get(reverse("traces:sample", args=[sample.pk]) + "?" + query).status_code == 200
