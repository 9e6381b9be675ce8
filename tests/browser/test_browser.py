"""What a person sees in Chromium: sign-in, charts, filters, flagging, hostile text."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from r1web.runs.services import metrics_record
from r1web.traces.models import Flag, Sample
from tests.conftest import PASSWORD

pytestmark = pytest.mark.browser

HOSTILE = (
    '<script>window.pwned = 1</script><img src=x onerror="window.pwned = 2">'
    '<a href="javascript:window.pwned = 3">click me</a> wait'
)


def test_a_person_signs_in_and_lands_on_the_runs(page, charlie):
    page.goto("/traces/")
    expect(page).to_have_url(re.compile(r"/login/"))
    page.fill("#id_username", "charlie")
    page.fill("#id_password", PASSWORD)
    page.click("form.login button[type=submit]")
    expect(page.locator("h1")).to_have_text("Traces")  # back where they were going
    expect(page.locator(".whoami")).to_contain_text("charlie · viewer")


def test_the_run_page_draws_its_charts(page, sign_in, charlie, make_run, make_samples):
    stage = make_run(status="succeeded")
    make_samples(stage, steps=3)
    for step in (1, 2, 3):
        metrics_record(stage_pk=stage.pk, step=step, values={"reward": step / 3, "kl": 0.1 * step})
    sign_in(charlie).goto(f"/runs/{stage.run_id}/")
    expect(page.locator("#charts[data-drawn=true]")).to_have_count(1)
    expect(page.locator("#chart-reward svg.main-svg").first).to_be_visible()
    # smoothed by default: the smoothed line over a faint copy of the raw one
    expect(page.locator("#chart-kl .scatterlayer .trace")).to_have_count(2)


def test_a_filter_narrows_the_trace_browser_and_gets_its_own_url(page, sign_in, charlie, make_run, make_samples):
    make_samples(make_run(), steps=2, groups=2, per_group=4)
    sign_in(charlie).goto("/traces/")
    rows = page.locator("tr.sample-row")
    expect(rows).to_have_count(16)
    page.select_option("#id_correct", "no")
    expect(rows).to_have_count(8)
    expect(page).to_have_url(re.compile(r"correct=no"))
    page.reload()  # the filtered view is a bookmarkable URL
    expect(rows).to_have_count(8)


def test_a_curator_flags_a_sample_from_the_keyboard(page, sign_in, bob, make_run, make_samples):
    make_samples(make_run(), steps=1, groups=1, per_group=2)
    sample = Sample.objects.order_by("pk").first()
    sign_in(bob).goto(f"/traces/samples/{sample.pk}/")
    page.keyboard.press("a")
    expect(page.locator("#flags")).to_contain_text("aha moment by bob")
    assert Flag.objects.get().label == "aha"
    page.get_by_role("button", name="Reflection (r)").click()
    expect(page.locator("#flags li")).to_have_count(2)


def test_hostile_markup_in_a_completion_is_shown_as_text_and_runs_nothing(
    page, sign_in, charlie, make_run, make_samples
):
    make_samples(make_run(), steps=1, groups=1, per_group=1,
                 completion=HOSTILE, think=HOSTILE, answer=HOSTILE, prompt=HOSTILE)
    sample = Sample.objects.get()
    sign_in(charlie)
    for url in (f"/traces/samples/{sample.pk}/", "/traces/", f"/traces/groups/{sample.stage_id}/1/0/"):
        page.goto(url)
        page.wait_for_load_state("load")
        assert page.evaluate("window.pwned") is None, url
        assert page.locator("img[src=x]").count() == 0, url
        assert page.locator("a[href^='javascript:']").count() == 0, url
    page.goto(f"/traces/samples/{sample.pk}/")
    expect(page.locator("#prompt")).to_have_text(HOSTILE)
    expect(page.locator("#think mark.reflection")).to_have_text("wait")
    page.click("#completion summary")
    expect(page.locator("#completion pre")).to_contain_text('<script>window.pwned = 1</script>')
    assert page.evaluate("window.pwned") is None
