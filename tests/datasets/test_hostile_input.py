"""Malformed query strings and launch forms on the dataset pages: a clear refusal or a
sane page, never a 500, and nothing written."""

from __future__ import annotations

import pytest
from django.urls import reverse

from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Run


@pytest.fixture
def version(db):
    records = [{"prompt": "1+1?", "answer": "2", "completion": "2", "split": "train"}]
    return dataset_version_create(name="cold", records=records, source="test", kind="sft")


@pytest.mark.parametrize("query, status", [
    ("split=%00", 404), ("split=" + "s" * 50, 404), ("split=nosuch", 200),
    ("page=%C2%B2", 200), ("page=" + "9" * 5000, 200), ("page=-1", 200),
])
def test_hostile_version_page_parameters_give_a_page_or_a_404(
    client, charlie, version, query, status
):
    client.force_login(charlie)
    assert client.get(version.get_absolute_url() + "?" + query).status_code == status


@pytest.mark.parametrize("query", [
    "old=1&new=" + "9" * 30, "old=%C2%B2&new=1", "old=1e999&new=1", "old=%00&new=1", "",
])
def test_a_hostile_diff_request_goes_back_to_the_dataset(client, charlie, version, query):
    client.force_login(charlie)
    response = client.get(reverse("datasets:diff", args=["cold"]) + "?" + query)
    assert response.status_code == 302
    assert response["Location"] == version.dataset.get_absolute_url()


@pytest.mark.parametrize("config", [
    '{"learning_rate": NaN}', '{"max_steps": ' + "9" * 5000 + "}",
    "{" + '"a":[' * 900 + "1" + "]" * 900 + "}", '{"eval_steps": 5}\x00', "[1, 2]",
    "x" * 30_000,
])
def test_a_hostile_sft_config_is_a_form_error_and_nothing_is_written(
    client, alice, version, config
):
    client.force_login(alice)
    response = client.post(reverse("datasets:sft", args=["cold", version.number]), {
        "max_steps": "5", "learning_rate": "0.001", "trl_config": config,
    })
    assert response.status_code == 400
    assert 'class="errorlist' in response.content.decode()
    assert not Run.objects.exists()


@pytest.mark.parametrize("field, value", [
    ("learning_rate", "nan"), ("learning_rate", "1e999"), ("max_steps", "9" * 5000),
    ("model", "²"), ("model", "9" * 30), ("name", "n" * 500),
])
def test_a_hostile_sft_value_is_a_form_error(client, alice, version, field, value):
    client.force_login(alice)
    data = {"max_steps": "5", "learning_rate": "0.001", field: value}
    response = client.post(reverse("datasets:sft", args=["cold", version.number]), data)
    assert response.status_code == 400
    assert not Run.objects.exists()
