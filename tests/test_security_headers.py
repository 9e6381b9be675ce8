"""The Content Security Policy every page carries, and the templates that make it
possible: no inline script anywhere, so script-src can stay 'self'."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.urls import reverse

TEMPLATES = Path(__file__).resolve().parents[1] / "templates"


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


@pytest.mark.parametrize("signed_in", [True, False])
def test_pages_carry_a_policy_that_allows_only_our_own_scripts(client, charlie, signed_in):
    if signed_in:
        client.force_login(charlie)
    response = client.get(reverse("runs:list") if signed_in else reverse("login"))
    assert response.status_code == 200
    csp = policy(response)
    assert csp["default-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]  # no 'unsafe-inline', no 'unsafe-eval', no CDN
    assert csp["img-src"] == ["'self'", "data:"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["object-src"] == ["'none'"]
    # Plotly injects <style> rules and style attributes as it draws (see settings).
    assert csp["style-src"] == ["'self'", "'unsafe-inline'"]


def test_an_error_page_carries_it_too(client, charlie):
    client.force_login(charlie)
    response = client.get("/runs/999999/")
    assert response.status_code == 404
    assert policy(response)["script-src"] == ["'self'"]


class ScriptFinder(HTMLParser):
    """Inline code in markup: a <script> with a body or without src, on*= handlers,
    javascript: URLs and htmx's hx-on (which htmx evaluates as code)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        names = dict(attrs)
        if tag == "script":
            self._in_script = True
            if not names.get("src"):
                self.found.append(f"<script> without src at line {self.getpos()[0]}")
        for name, value in attrs:
            if name.startswith(("on", "hx-on")):
                self.found.append(f"{name}= handler at line {self.getpos()[0]}")
            if value and re.match(r"\s*javascript:", value, re.IGNORECASE):
                self.found.append(f"javascript: URL at line {self.getpos()[0]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.found.append(f"inline script body at line {self.getpos()[0]}")


def inline_code(html: str) -> list[str]:
    finder = ScriptFinder()
    finder.feed(html)
    return finder.found


def test_the_finder_catches_each_kind_of_inline_code():
    assert inline_code('<script src="/static/a.js" defer></script>') == []
    for markup in ("<script>alert(1)</script>", '<img src=x onerror="alert(1)">',
                   '<a href="javascript:alert(1)">x</a>', '<div hx-on:click="alert(1)"></div>',
                   '<script type="application/json">{}</script>'):
        assert inline_code(markup), markup


def test_no_template_holds_an_inline_script_or_event_handler():
    files = sorted(TEMPLATES.rglob("*.html"))
    assert len(files) > 20
    found = {str(f.relative_to(TEMPLATES)): inline_code(f.read_text()) for f in files}
    assert {name: where for name, where in found.items() if where} == {}


def test_a_rendered_page_loads_htmx_and_every_script_from_static_files(client, charlie):
    client.force_login(charlie)
    html = client.get(reverse("traces:list")).content.decode()
    assert re.search(r'<script src="/static/django_htmx/htmx[^"]*\.js" defer>', html)
    # json_script blocks are data that the browser never runs; the rest must be files.
    data = r'<script id="[^"]*" type="application/json">.*?</script>'
    assert inline_code(re.sub(data, "", html, flags=re.DOTALL)) == []
