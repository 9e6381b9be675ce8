from __future__ import annotations
import pytest
from playwright.sync_api import expect
from r1web.runs.services import metrics_record
from tests.browser.test_csp import LISTEN
pytestmark = pytest.mark.browser

def test_strict(page, sign_in, bob, make_run, make_samples, settings):
    d = dict(settings.CONTENT_SECURITY_POLICY["DIRECTIVES"])
    d["style-src"] = ["'self'"]
    settings.CONTENT_SECURITY_POLICY = {"DIRECTIVES": d}
    page.add_init_script(LISTEN)
    stage = make_run(status="running")
    make_samples(stage, steps=3)
    for step in (1, 2, 3):
        metrics_record(stage_pk=stage.pk, step=step, values={"reward": step / 3, "kl": 0.1 * step})
    out = {}
    sign_in(bob).goto(f"/runs/{stage.run_id}/")
    expect(page.locator("#charts[data-drawn=true]")).to_have_count(1)
    page.hover("#chart-reward .nsewdrag")
    page.wait_for_timeout(500)
    out["run"] = page.evaluate("window.__csp")
    for url in [stage.get_absolute_url(), "/traces/"]:
        page.goto(url); page.wait_for_timeout(500)
        out[url] = page.evaluate("window.__csp")
    for k, v in out.items():
        print(k)
        for x in v: print("   ", x[:200])
    assert 0
