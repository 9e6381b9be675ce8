"""The pages a user meets when something is missing, refused or broken are r1web's own."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string
from django.urls import reverse


@pytest.mark.django_db
def test_a_missing_page_is_styled_and_leads_back(client, charlie):
    client.force_login(charlie)
    response = client.get("/no-such-page/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in page and "r1web.css" in page and reverse("runs:list") in page


@pytest.mark.django_db
def test_a_refused_write_gets_the_styled_403_page(client, charlie):
    client.force_login(charlie)
    response = client.post(reverse("runs:launch", args=["r1-zero"]), {"queue": "cpu"})
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()


def test_the_500_page_renders_without_a_request_or_database():
    page = render_to_string("500.html")
    assert "Something went wrong" in page and "r1web.css" in page


@pytest.mark.django_db
def test_the_favicon_is_served_without_signing_in(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
    assert client.get(response["Location"]).status_code == 200
