"""Every page that htmx also asks a fragment of follows one convention (r1web/htmx.py):
the fragment for htmx, the full page for a history restore or a plain visit, and
``Vary: HX-Request`` on both, so "back" never shows a bare fragment."""

from __future__ import annotations

import pytest
from django.urls import reverse

from r1web.htmx import stop_polling_when

HTMX = {"HX-Request": "true"}
RESTORE = {"HX-Request": "true", "HX-History-Restore-Request": "true"}


@pytest.fixture
def pages(client, charlie, make_run, make_samples):
    """The URL of every page with an htmx fragment, keyed by the fragment's element id."""
    from r1web.curation.services import curation_dataset_get_or_create
    from r1web.datasets.services import dataset_version_create

    client.force_login(charlie)
    stage = make_run(status="running")
    make_samples(stage, steps=1, groups=1, per_group=2)
    version = dataset_version_create(
        name="prompts", records=[{"prompt": "1+1?", "answer": "2"}], source="test"
    )
    queue = curation_dataset_get_or_create(name="cold-start", user=charlie)
    return {
        "run-table": reverse("runs:list"),
        "stages": reverse("runs:detail", args=[stage.run_id]),
        "stage-progress": reverse("runs:stage", args=[stage.pk]),
        "results": reverse("traces:list"),
        "queue-item": reverse("curation:queue", args=[queue.name]),
        "examples": version.get_absolute_url(),
    }


FRAGMENTS = ["run-table", "stages", "stage-progress", "results", "queue-item", "examples"]


def _varies_on_htmx(response) -> bool:
    return "hx-request" in response.get("Vary", "").lower()


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_htmx_gets_only_the_fragment_and_the_response_varies_on_it(client, pages, fragment):
    response = client.get(pages[fragment], headers=HTMX)
    body = response.content.decode()
    assert response.status_code == 200
    assert f'id="{fragment}"' in body
    assert "<html" not in body
    assert _varies_on_htmx(response)


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_a_history_restore_gets_the_whole_page(client, pages, fragment):
    # htmx's history cache missed: what it asks for replaces the whole document.
    response = client.get(pages[fragment], headers=RESTORE)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<html" in body and f'id="{fragment}"' in body
    assert _varies_on_htmx(response)


@pytest.mark.parametrize("fragment", FRAGMENTS)
def test_a_plain_visit_gets_the_whole_page_which_varies_on_htmx_too(client, pages, fragment):
    response = client.get(pages[fragment])
    assert "<html" in response.content.decode()
    assert _varies_on_htmx(response)


def test_a_boosted_link_gets_the_whole_page(client, pages):
    response = client.get(pages["results"], headers={**HTMX, "HX-Boosted": "true"})
    assert "<html" in response.content.decode()


def test_stopping_the_polling_keeps_the_vary_header(client, pages, make_run):
    make_run(name="done", status="succeeded")
    from r1web.runs.models import Run

    Run.objects.exclude(name="done").update(status="succeeded")
    response = client.get(pages["run-table"], headers=HTMX)
    assert response.status_code == 286
    assert _varies_on_htmx(response)


def test_stop_polling_changes_only_the_status():
    from django.http import HttpResponse

    response = HttpResponse("x", headers={"Vary": "HX-Request"})
    assert stop_polling_when(False, response).status_code == 200
    assert stop_polling_when(True, response) is response
    assert (response.status_code, response["Vary"]) == (286, "HX-Request")
