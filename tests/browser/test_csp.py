"""The Content Security Policy in real Chromium: every page works under it with nothing
refused, and a script that slipped into a page anyway would not run."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from r1web.runs.services import metrics_record

pytestmark = pytest.mark.browser

# Collects every refusal the browser reports, before any script of the page runs.
LISTEN = """
window.__refused = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__refused.push(e.effectiveDirective + " " + (e.blockedURI || ""));
});
"""


@pytest.fixture
def stage(make_run, make_samples):
    stage = make_run(status="succeeded")  # no polling left running after the test
    make_samples(stage, steps=3)
    for step in (1, 2, 3):
        metrics_record(stage_pk=stage.pk, step=step, values={"reward": step / 3, "kl": 0.1 * step})
    return stage


def test_the_pages_work_under_the_policy_with_nothing_refused(page, sign_in, bob, stage):
    page.add_init_script(LISTEN)
    sign_in(bob)
    response = page.goto(f"/runs/{stage.run_id}/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("#charts[data-drawn=true]")).to_have_count(1)
    # Plotly's hover layer needs the style rules it injects: a refused one breaks this.
    page.hover("#chart-reward .nsewdrag", position={"x": 20, "y": 20})
    refused = {"run": page.evaluate("window.__refused")}
    for url in (stage.get_absolute_url(), "/traces/", "/traces/?correct=yes"):
        page.goto(url)
        page.wait_for_load_state("networkidle")
        refused[url] = page.evaluate("window.__refused")
    assert refused == {"run": [], **{url: [] for url in list(refused)[1:]}}


def test_an_inline_script_that_slipped_into_a_page_does_not_run(page, sign_in, charlie, stage):
    sign_in(charlie).goto("/traces/")
    page.evaluate(
        """() => {
          const s = document.createElement("script");
          s.textContent = "window.pwned = 1";
          document.head.appendChild(s);
        }"""
    )
    assert page.evaluate("window.pwned") is None
