"""Promoting needs a filter that narrows the samples; malformed curation posts give a clear
error, never a 500, and write nothing."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from r1web.curation.models import CurationEdit, CurationItem
from r1web.curation.services import curation_claim_next
from r1web.traces.models import Sample


@pytest.fixture
def samples(make_run, make_samples):
    stage = make_run()
    make_samples(stage, steps=2, groups=1, per_group=4)
    return stage


def _messages(response) -> str:
    return " ".join(str(m) for m in get_messages(response.wsgi_request))


@pytest.mark.parametrize("filter_query", [
    "", "sort=-reward", "after=5", "q=", "flag_label=wrong", "unknown=1", "&&&", "run=",
])
def test_a_promotion_whose_filter_selects_every_sample_is_refused(
    curator, samples, filter_query
):
    response = curator.post(reverse("curation:promote"), {"filter_query": filter_query})
    assert response.status_code == 302
    assert "matches every sample" in _messages(response)
    assert not CurationItem.objects.exists()


@pytest.mark.parametrize("filter_query", [
    "run=abc", "run=abc&correct=yes", "step_min=-1&correct=yes", "reward_min=nan&correct=yes",
    "run=" + "9" * 30, "q=%00&correct=yes", "correct=maybe",
])
def test_a_promotion_with_an_invalid_filter_is_refused_not_widened(
    curator, samples, filter_query
):
    # The browser ignores a bad value; a promotion must not drop it and take the rest.
    response = curator.post(reverse("curation:promote"), {"filter_query": filter_query})
    assert response.status_code == 302
    assert "invalid values" in _messages(response)
    assert not CurationItem.objects.exists()


def test_a_narrowing_filter_still_promotes_what_it_matches(curator, samples):
    response = curator.post(
        reverse("curation:promote"), {"filter_query": f"stage={samples.pk}&sort=-reward"}
    )
    assert response.status_code == 302
    assert CurationItem.objects.count() == Sample.objects.count() == 8


@pytest.mark.parametrize("data", [
    {"filter_query": "correct=yes\r\nLocation: http://evil"},
    {"filter_query": "x" * 5000},
    {"sample": "9" * 30},
    {"sample": "²"},
    {"filter_query": "correct=yes", "dataset": "not a slug!"},
    {"filter_query": "correct=yes", "dataset": "\x00"},
])
def test_a_malformed_promotion_is_a_clear_refusal(curator, samples, data):
    response = curator.post(reverse("curation:promote"), data)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("traces:list"))
    assert _messages(response)
    assert not CurationItem.objects.exists()


def test_a_too_wide_filter_redirects_to_the_same_filter_re_encoded(
    curator, samples, monkeypatch
):
    monkeypatch.setattr("r1web.curation.views.MAX_PROMOTE", 1)
    response = curator.post(
        reverse("curation:promote"), {"filter_query": "correct=yes&note=a\r\nSet-Cookie: x"}
    )
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith(reverse("traces:list")) and "correct=yes" in location
    assert "\n" not in location
    assert not CurationItem.objects.exists()


@pytest.mark.parametrize("view, data", [
    ("curation:save", {"reasoning": "think\x00", "summary": "ok"}),
    ("curation:accept", {"reasoning": "think", "summary": "ok\x00"}),
    ("curation:save", {"reasoning": "r" * 300_000, "summary": "ok"}),
    ("curation:reject", {"reason": "bad\x00"}),
    ("curation:reject", {"reason": "r" * 2000}),
])
def test_malformed_curation_text_is_refused_with_a_400_and_nothing_changes(
    curator, queue, bob, view, data
):
    item = curation_claim_next(dataset=queue, user=bob)
    before = (item.reasoning, item.summary, item.status)
    response = curator.post(reverse(view, args=[item.pk]), data)
    assert response.status_code == 400
    item.refresh_from_db()
    assert (item.reasoning, item.summary, item.status) == before
    assert not CurationEdit.objects.exists()


def test_a_missing_edit_field_is_a_400_not_a_crash(curator, queue, bob):
    item = curation_claim_next(dataset=queue, user=bob)
    response = curator.post(reverse("curation:accept", args=[item.pk]), {"summary": "\x00"})
    assert response.status_code == 400


def test_rejecting_with_a_blank_reason_is_still_the_services_refusal(curator, queue, bob):
    item = curation_claim_next(dataset=queue, user=bob)
    response = curator.post(reverse("curation:reject", args=[item.pk]), {"reason": " "})
    assert response.status_code == 409
    assert "say why" in _messages(response)
