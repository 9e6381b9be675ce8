"""The Content Security Policy in real Chromium: the pages work under it, and nothing
they do is refused by it (a refused script would be a broken page)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from r1web.runs.services import metrics_record

pytestmark = pytest.mark.browser

# Collects every refusal the browser reports, before any script of the page runs.
LISTEN = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.effectiveDirective + " " + (e.blockedURI || "") + " " + (e.sample || ""));
});
"""


@pytest.fixture
def watched(page):
    page.add_init_script(LISTEN)
    return page


def refusals(page) -> list[str]:
    return page.evaluate("window.__csp")


def test_the_run_page_draws_its_charts_with_nothing_refused(watched, sign_in, charlie, make_run, make_samples):
    stage = make_run(status="succeeded")
    make_samples(stage, steps=3)
    for step in (1, 2, 3):
        metrics_record(stage_pk=stage.pk, step=step, values={"reward": step / 3, "kl": 0.1 * step})
    sign_in(charlie).goto(f"/runs/{stage.run_id}/")
    expect(watched.locator("#charts[data-drawn=true]")).to_have_count(1)
    watched.hover("#chart-reward .nsewdrag")  # hover labels and the mode bar draw late
    watched.goto(f"/runs/{stage.run_id}/stages/{stage.pk}/" if False else stage.get_absolute_url())
    watched.goto("/traces/")
    assert refusals(watched) == []
