"""One role check everywhere: every URL that accepts a write refuses a viewer through the
role decorator (403), and every page that only reads refuses a write method (405)."""

from __future__ import annotations

import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from r1web.accounts.access import role_required

# Django's own pages, with their own rules.
SKIPPED = {"admin", "login", "logout"}
SAMPLE_ARGS = {"int": "1", "slug": "x", "str": "jsonl", "path": "x"}
# POSTs that change no data, open to whoever may read: asking for a large version's file
# queues an export job (tests/datasets cover that a viewer gets the file).
READS_BY_POST = {"datasets:export-create"}


def _routes(patterns=None, prefix: str = "", namespace: str = ""):
    """(url name, sample URL) for every route of the project."""
    for entry in patterns if patterns is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if entry.namespace == "admin":
                continue
            yield from _routes(entry.url_patterns, route, entry.namespace or namespace)
        elif isinstance(entry, URLPattern) and entry.name not in SKIPPED:
            url = re.sub(r"<(\w+):\w+>", lambda m: SAMPLE_ARGS[m.group(1)], route)
            yield f"{namespace}:{entry.name}", "/" + url


ROUTES = sorted(_routes())


def test_the_walk_finds_the_write_endpoints():
    names = {name for name, _ in ROUTES}
    assert {"runs:launch", "curation:promote", "datasets:upload", "traces:flag"} <= names


@pytest.mark.parametrize("name, url", [r for r in ROUTES if r[0] not in READS_BY_POST])
def test_a_viewer_cannot_write_anywhere(client, charlie, name, url):
    client.force_login(charlie)
    response = client.post(url, {})
    # The ingestion API takes no session at all: without an API token it answers 401.
    refused = (403, 405, 401) if url.startswith("/api/") else (403, 405)
    assert response.status_code in refused, f"{name} answered {response.status_code}"


def test_a_refusal_names_the_role_needed(rf, charlie):
    @role_required("curator")
    def view(request):
        raise AssertionError("the view must not run")

    request = rf.post("/")
    request.user = charlie
    with pytest.raises(Exception, match="needs the curator role"):
        view(request)
