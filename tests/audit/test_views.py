"""The audit page: operators read who did what, newest first, each target linked."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from r1web.audit.models import AuditEvent
from r1web.audit.services import audit_record
from r1web.audit.views import EVENTS_PER_PAGE
from r1web.traces.models import Sample

URL = reverse("audit:list")
# Declared, not only reached through fixtures: pytest-django orders tests by it.
pytestmark = pytest.mark.django_db


def rows(response) -> list[tuple[str, str, str]]:
    return [(e.actor_name, e.action, e.target_label) for e in response.context["page"]]


def test_cancelling_and_resuming_from_the_run_page_are_listed_under_the_operator(
    operator, make_run
):
    stage = make_run(status="queued")
    operator.post(reverse("runs:cancel", args=[stage.run_id]))
    operator.post(reverse("runs:resume", args=[stage.run_id]))
    response = operator.get(URL)
    assert [(who, action) for who, action, _ in rows(response)] == [
        ("alice", "run.resume"), ("alice", "run.cancel")
    ]
    html = response.content.decode()
    assert "resumed" in html and "cancelled" in html
    assert f'href="{stage.run.get_absolute_url()}"' in html


def test_a_flag_set_on_the_sample_page_is_listed_with_a_link_to_the_sample(
    client, bob, alice, make_run, make_samples
):
    make_samples(make_run(), steps=1, groups=1, per_group=1)
    sample = Sample.objects.get()
    client.force_login(bob)
    client.post(reverse("traces:flag", args=[sample.pk]), {"label": "aha"})
    operator = Client()
    operator.force_login(alice)
    html = operator.get(URL).content.decode()
    assert "bob" in html and "flagged" in html and "label: aha" in html
    assert f'<a href="{sample.get_absolute_url()}">{sample}</a>' in html


@pytest.mark.parametrize("who", ["bob", "charlie"])
def test_only_operators_may_read_the_log(client, request, who):
    client.force_login(request.getfixturevalue(who))
    assert client.get(URL).status_code == 403


def test_operators_see_the_page_in_their_navigation(operator, bob):
    assert f'href="{URL}"' in operator.get(reverse("runs:list")).content.decode()
    curator = Client()
    curator.force_login(bob)
    assert f'href="{URL}"' not in curator.get(reverse("runs:list")).content.decode()


def test_the_log_is_paginated_newest_first(operator, alice, make_run):
    run = make_run().run
    for _ in range(EVENTS_PER_PAGE + 5):
        audit_record(actor=alice, action="run.cancel", target=run)
    newest = AuditEvent.objects.order_by("-id").values_list("id", flat=True)
    first = operator.get(URL).context["page"]
    assert [e.pk for e in first] == list(newest[:EVENTS_PER_PAGE])
    second = operator.get(URL, {"page": 2}).context["page"]
    assert [e.pk for e in second] == list(newest[EVENTS_PER_PAGE:])
    assert 'href="?page=2"' in operator.get(URL).content.decode()


def test_a_deleted_target_is_still_named_without_a_link(operator, alice, make_run):
    run = make_run(name="gone run").run
    audit_record(actor=alice, action="run.cancel", target=run)
    run.delete()
    html = operator.get(URL).content.decode()
    assert "gone run" in html and "(deleted)" in html
    assert 'href="/runs/' not in html


def test_the_page_reads_the_log_in_a_fixed_number_of_queries(
    operator, alice, make_run, django_assert_max_num_queries
):
    run = make_run().run
    for _ in range(20):
        audit_record(actor=alice, action="run.cancel", target=run)
    with django_assert_max_num_queries(8):  # 7 today; one per row would be 27
        assert operator.get(URL).status_code == 200
