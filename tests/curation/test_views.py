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


# --- bulk promotion asks first (issue 9, point 4) ---------------------------------------


def test_the_promotion_confirmation_shows_the_count_and_the_target_choice(
    bob_client, make_run, make_samples, bob
):
    from r1web.curation.services import curation_dataset_get_or_create

    stage = make_run()
    make_samples(stage, steps=2, groups=1, per_group=4)
    curation_dataset_get_or_create(name="long-cot", user=bob)
    page = bob_client.get(
        reverse("curation:promote_confirm"), {"run": stage.run_id, "correct": "yes", "after": "9"}
    ).content.decode()
    assert "<strong>4</strong> samples match this filter" in page
    assert "<li>Correct: yes</li>" in page
    assert '<option value="cold-start" selected>cold-start</option>' in page
    assert '<option value="long-cot">long-cot</option>' in page
    assert 'name="new_dataset"' in page
    assert ">Promote 4 samples</button>" in page
    assert not CurationItem.objects.exists()  # asking writes nothing


@pytest.mark.parametrize("query", ["", "sort=-reward", "run=&cols=prompt"])
def test_the_confirmation_of_an_empty_filter_refuses_and_offers_no_button(bob_client, query):
    page = bob_client.get(f"{reverse('curation:promote_confirm')}?{query}").content.decode()
    assert "matches every sample" in page and 'role="alert"' in page
    assert "<button" not in page.split('id="promote-confirm"')[1]


def test_a_viewer_cannot_even_ask_to_promote(client, charlie):
    client.force_login(charlie)
    assert client.get(reverse("curation:promote_confirm"), {"correct": "yes"}).status_code == 403


def test_a_promotion_queues_only_what_was_confirmed_into_the_chosen_dataset(
    bob_client, make_run, make_samples
):
    stage = make_run()
    make_samples(stage, steps=1, groups=1, per_group=4)
    upto = Sample.objects.order_by("-id").first().pk
    make_samples(stage, steps=2, groups=1, per_group=4)  # written after the confirmation
    response = bob_client.post(reverse("curation:promote"), {
        "filter_query": f"run={stage.run_id}", "upto": upto, "dataset": "cold-start",
        "new_dataset": "my-cot",
    })
    assert response["Location"] == reverse("curation:queue", args=["my-cot"])
    assert CurationItem.objects.filter(dataset__name="my-cot").count() == 4
    assert not CurationItem.objects.filter(sample_id__gt=upto).exists()


# --- every action answers where the person looks (issue 9, point 5) ---------------------


def test_an_htmx_save_confirms_itself_in_the_response_headers(bob_client, queue, bob):
    import json

    item = curation_claim_next(dataset=queue, user=bob)
    response = bob_client.post(
        reverse("curation:save", args=[item.pk]), {"reasoning": "better", "summary": "7"},
        HTTP_HX_REQUEST="true",
    )
    shown = json.loads(response["HX-Trigger"])["r1web:messages"]
    assert shown == [{"level": "success",
                      "text": f"saved candidate {item.pk}; it stays yours to accept or reject"}]
    # Shown once: the next full page does not repeat it.
    page = bob_client.get(reverse("curation:queue", args=[queue.name])).content.decode()
    assert "saved candidate" not in page


def test_a_refused_htmx_save_says_why_with_its_fragment(client, queue, bob, alice):
    import json

    item = curation_claim_next(dataset=queue, user=bob)
    client.force_login(alice)
    response = client.post(
        reverse("curation:save", args=[item.pk]), {"reasoning": "x", "summary": "y"},
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 409
    assert response.content.decode().lstrip().startswith('<div id="queue-item">')
    [message] = json.loads(response["HX-Trigger"])["r1web:messages"]
    assert message["level"] == "error" and "you do not hold candidate" in message["text"]


def test_a_viewer_is_told_they_cannot_curate_rather_than_that_the_queue_is_empty(
    client, charlie, queue
):
    client.force_login(charlie)
    page = client.get(reverse("curation:queue", args=[queue.name])).content.decode()
    assert "4 candidates wait here, but curating needs the curator role" in page
    assert "queue is empty" not in page
