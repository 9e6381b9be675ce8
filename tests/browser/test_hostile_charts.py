"""Charts under hostile data in real Chromium (issue 23): a run named with a link is
plain text in the comparison's legend, and an infinite value stored by an earlier
version leaves a gap instead of stopping every chart from drawing."""

from __future__ import annotations

import math

import pytest
from playwright.sync_api import expect

from r1web.runs import rollups
from r1web.runs.models import MetricPoint

pytestmark = pytest.mark.browser
LINK = '<a href="https://evil.example/">win</a>'


def test_a_linked_run_name_is_plain_text_and_infinity_a_gap_in_the_comparison(
    page, sign_in, charlie, make_run
):
    page.set_default_navigation_timeout(30_000)  # plotly.js on a busy two-core machine
    stages = [make_run(name=name, status="succeeded") for name in (LINK, "plain")]
    for stage in stages:
        MetricPoint.objects.bulk_create([
            MetricPoint(stage=stage, step=1, key="reward", value=1.0),
            MetricPoint(stage=stage, step=2, key="reward", value=math.inf),
            MetricPoint(stage=stage, step=3, key="reward", value=2.0),
        ])
        rollups.refresh(stage_pk=stage.pk, keys=["reward"], first_step=1, last_step=3)
    ids = ",".join(str(stage.run_id) for stage in stages)
    sign_in(charlie).goto(f"/runs/compare/?runs={ids}")
    expect(page.locator("#charts[data-drawn=true]")).to_have_count(1)
    legend = page.locator("#chart-reward .legend")
    expect(legend).to_contain_text(LINK)  # the markup, shown as text
    expect(page.locator("#chart-reward a")).to_have_count(0)
    expect(page.locator("#chart-reward .scatterlayer .trace")).not_to_have_count(0)
