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


@pytest.mark.parametrize("name, url", ROUTES)
def test_a_viewer_cannot_write_anywhere(client, charlie, name, url):
    client.force_login(charlie)
    response = client.post(url, {})
    assert response.status_code in (403, 405), f"{name} answered {response.status_code}"


def test_a_refusal_names_the_role_needed(rf, charlie):
    @role_required("curator")
    def view(request):
        raise AssertionError("the view must not run")

    request = rf.post("/")
    request.user = charlie
    with pytest.raises(Exception, match="needs the curator role"):
        view(request)
