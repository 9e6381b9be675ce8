from __future__ import annotations

import pytest
from django.urls import reverse

from r1web.curation.models import CurationEdit, CurationItem, ItemStatus
from r1web.curation.services import curation_claim_next
from r1web.datasets.models import DatasetVersion
from r1web.traces.models import Sample


@pytest.fixture
def bob_client(client, bob):
    client.force_login(bob)
    return client


def test_a_curator_promotes_every_sample_matching_a_filter(bob_client, make_run, make_samples):
    stage = make_run()
    make_samples(stage, steps=2, groups=1, per_group=4)
    response = bob_client.post(
        reverse("curation:promote"), {"filter_query": f"run={stage.run_id}&correct=yes"}
    )
    assert response.status_code == 302
    items = CurationItem.objects.filter(dataset__name="cold-start")
    assert items.count() == Sample.objects.filter(correct=True).count() == 4


def test_a_curator_promotes_one_sample(bob_client, make_run, make_samples):
    make_samples(make_run(), steps=1, groups=1, per_group=2)
    sample = Sample.objects.first()
    bob_client.post(
        reverse("curation:promote"), {"sample": sample.pk, "filter_query": "", "dataset": "mine"}
    )
    assert list(CurationItem.objects.values_list("sample_id", "dataset__name")) == [
        (sample.pk, "mine")
    ]


def test_a_viewer_cannot_promote(client, charlie, make_run, make_samples):
    make_samples(make_run(), steps=1, groups=1, per_group=2)
    client.force_login(charlie)
    response = client.post(reverse("curation:promote"), {"filter_query": ""})
    assert response.status_code == 403
    assert not CurationItem.objects.exists()


def test_the_queue_shows_one_candidate_with_its_provenance_and_progress(bob_client, queue):
    bob_client.post(reverse("curation:next", args=[queue.name]))
    page = bob_client.get(reverse("curation:queue", args=[queue.name])).content.decode()
    assert "Item 1 of 4" in page
    assert "zero" in page  # the run's name
    assert page.count('class="candidate"') == 1


def test_model_output_is_escaped_in_the_queue(bob_client, make_run, make_samples, bob):
    from r1web.curation.services import candidates_promote, curation_dataset_get_or_create

    make_samples(
        make_run(),
        steps=1,
        groups=1,
        per_group=1,
        completion="<think><script>alert(1)</script></think><answer>7</answer>",
        think="<script>alert(1)</script>",
    )
    dataset = curation_dataset_get_or_create(name="xss", user=bob)
    candidates_promote(samples=Sample.objects.all(), dataset=dataset, user=bob)
    bob_client.post(reverse("curation:next", args=["xss"]))
    page = bob_client.get(reverse("curation:queue", args=["xss"])).content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_accepting_moves_to_the_next_candidate(bob_client, queue, bob):
    item = curation_claim_next(dataset=queue, user=bob)
    response = bob_client.post(
        reverse("curation:accept", args=[item.pk]), {"reasoning": "edited", "summary": "7"}
    )
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.reasoning) == (ItemStatus.ACCEPTED, "edited")
    page = bob_client.get(reverse("curation:queue", args=[queue.name])).content.decode()
    assert "Item 2 of 4" in page


def test_an_htmx_accept_returns_only_the_item_fragment(bob_client, queue, bob):
    item = curation_claim_next(dataset=queue, user=bob)
    response = bob_client.post(
        reverse("curation:accept", args=[item.pk]),
        {"reasoning": "r", "summary": "7"},
        HTTP_HX_REQUEST="true",
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="queue-item">')
    assert "<html" not in body
    assert "Item 2 of 4" in body


def test_saving_an_item_someone_else_holds_is_refused(client, queue, bob, alice):
    item = curation_claim_next(dataset=queue, user=bob)
    client.force_login(alice)
    response = client.post(
        reverse("curation:save", args=[item.pk]), {"reasoning": "hijack", "summary": "x"}
    )
    assert response.status_code == 409
    item.refresh_from_db()
    assert item.reasoning != "hijack"
    assert not CurationEdit.objects.exists()


def test_rejecting_without_a_reason_is_refused(bob_client, queue, bob):
    item = curation_claim_next(dataset=queue, user=bob)
    response = bob_client.post(reverse("curation:reject", args=[item.pk]), {"reason": ""})
    assert response.status_code == 409
    item.refresh_from_db()
    assert item.status == ItemStatus.PENDING


def test_freezing_from_the_queue_creates_a_version_and_shows_it(bob_client, queue, bob):
    item = curation_claim_next(dataset=queue, user=bob)
    bob_client.post(reverse("curation:accept", args=[item.pk]), {"reasoning": "r", "summary": "7"})
    response = bob_client.post(reverse("curation:freeze", args=[queue.name]), follow=True)
    version = DatasetVersion.objects.get(dataset=queue)
    assert response.redirect_chain[-1][0] == version.get_absolute_url()
    assert version.content_hash in response.content.decode()


def test_the_item_page_shows_its_history(bob_client, queue, bob):
    item = curation_claim_next(dataset=queue, user=bob)
    bob_client.post(
        reverse("curation:save", args=[item.pk]), {"reasoning": "take one", "summary": "7"}
    )
    page = bob_client.get(reverse("curation:item", args=[item.pk])).content.decode()
    assert "bob edited" in page
    assert "take one" in page
