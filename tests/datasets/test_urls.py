"""No dataset name can shadow a fixed page: a dataset's pages (and its curation queue)
live under a prefix that fixed paths never use."""

from __future__ import annotations

import pytest
from django.urls import reverse

from r1web.curation.services import curation_dataset_get_or_create
from r1web.datasets.services import dataset_version_create

# Every fixed path segment of /datasets/ and /curation/, and a few more likely ones.
NAMES = ["upload", "generate", "new", "promote", "items", "examples", "d", "queues", "diff"]


@pytest.mark.parametrize("name", NAMES)
def test_a_dataset_named_like_a_fixed_page_has_every_page_reachable(curator, bob, name):
    records = [{"prompt": "1+1?", "answer": "2", "split": "train"},
               {"prompt": "2+2?", "answer": "4", "split": "test"}]
    first = dataset_version_create(name=name, records=records, source="test")
    second = dataset_version_create(name=name, records=records[:1], source="test")
    example = first.examples.first()
    pages = [
        first.dataset.get_absolute_url(),
        first.get_absolute_url(),
        second.get_absolute_url(),
        reverse("datasets:diff", args=[name]) + f"?old={first.number}&new={second.number}",
        reverse("datasets:download", args=[name, first.number, "jsonl"]),
        example.get_absolute_url(),
        reverse("curation:queue", args=[name]),
    ]
    for url in pages:
        response = curator.get(url)
        assert response.status_code == 200, url
    assert f"{name} v{first.number}" in curator.get(first.get_absolute_url()).content.decode()
    detail = curator.get(first.dataset.get_absolute_url()).content.decode()
    assert second.get_absolute_url() in detail


def test_the_fixed_pages_still_work_beside_datasets_named_like_them(curator, bob):
    for name in NAMES:
        curation_dataset_get_or_create(name=name, user=bob)
    assert curator.get(reverse("datasets:list")).status_code == 200
    upload = curator.get(reverse("datasets:upload"))
    assert upload.status_code == 200 and 'type="file"' in upload.content.decode()
    assert curator.get(reverse("curation:index")).status_code == 200
    # POST-only fixed pages answer as themselves, not as a queue of that name.
    assert curator.get(reverse("curation:promote")).status_code == 405
    assert curator.get(reverse("curation:generate")).status_code == 405


def test_queue_actions_reach_a_queue_named_like_a_fixed_page(curator, bob):
    curation_dataset_get_or_create(name="generate", user=bob)
    response = curator.post(reverse("curation:next", args=["generate"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("curation:queue", args=["generate"])
