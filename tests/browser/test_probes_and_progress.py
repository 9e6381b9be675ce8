"""Issue 9 points 3 and 6 in real Chromium: a probe prompt followed through training with
the step slider and a word diff; an export's progress (rows, rate, time left) updating
in place until its download appears."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from r1domain.base import SampleRecord
from r1web.datasets.models import DatasetExport
from r1web.datasets.services import dataset_version_create
from r1web.traces.services import samples_record

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEY = "synthetic:largest:3-9-4-1"


def probe(step: int, completion: str) -> SampleRecord:
    return SampleRecord(
        step=step,
        group=0,
        index=0,
        prompt="What is the largest of 3 9 4 1?",
        completion=completion,
        think="",
        answer=completion.split()[-1],
        reference="9",
        rewards={},
        reward=0.0,
        advantage=0.0,
        length_tokens=6,
        correct=step >= 60,
        format_ok=True,
        example_key=KEY,
        probe=True,
    )


def test_a_viewer_follows_a_probe_prompt_with_the_slider_and_diffs_two_steps(
    page, sign_in, charlie, make_run, make_samples
):
    from playwright.sync_api import expect

    stage = make_run(status="succeeded")
    make_samples(stage, steps=2)
    samples_record(
        stage=stage,
        records=[
            probe(step, f"<b>step {step}</b> the largest is {9 if step >= 60 else 3}")
            for step in range(0, 101, 10)
        ],
    )
    sign_in(charlie)
    page.goto(stage.run.get_absolute_url())
    page.get_by_role("link", name="Probe prompts across steps").click()
    page.get_by_role("link", name="What is the largest of 3 9 4 1?").click()
    expect(page.locator("#evolution-summary")).to_contain_text("11 probe steps")
    expect(page.locator("#evolution-frame")).to_have_text("GRPO · step 100 (probe)")

    # Sliding back to step 30 swaps in that round's answer, and the URL follows.
    page.locator("#evolution-at").fill("3")
    expect(page.locator("#evolution-frame")).to_have_text("GRPO · step 30 (probe)")
    expect(page.locator("#evolution-detail .completion pre")).to_have_text(
        "<b>step 30</b> the largest is 3"
    )
    expect(page).to_have_url(re.compile(r"at=3"))

    # The diff between two chosen rounds marks what changed, word by word, escaped.
    page.locator("select[name=old]").select_option(label="GRPO · step 50 (probe)")
    page.locator("select[name=new]").select_option(label="GRPO · step 60 (probe)")
    diff = page.locator("#evolution-diff")
    expect(diff.locator("del")).to_have_text(["50</b>", "3"])
    expect(diff.locator("ins")).to_have_text(["60</b>", "9"])
    assert diff.locator("b").count() == 0  # model text is shown, never rendered

    # Reloading the pushed URL gives the same view (a bookmarkable state).
    page.reload()
    expect(page.locator("#evolution-frame")).to_have_text("GRPO · step 30 (probe)")


def test_an_export_page_shows_progress_in_place_until_the_download_is_ready(
    page, sign_in, charlie, settings, tmp_path
):
    from playwright.sync_api import expect

    version = dataset_version_create(
        name="big", records=[{"prompt": "p", "answer": "1"}], source="t"
    )
    started = timezone.now() - timedelta(seconds=10)
    job = DatasetExport.objects.create(
        version=version,
        fmt="jsonl",
        status=DatasetExport.Status.WRITING,
        rows_total=300,
        rows_written=100,
        started_at=started,
        heartbeat_at=started + timedelta(seconds=10),
    )
    sign_in(charlie)
    page.goto(job.get_absolute_url())
    rows = page.locator("#export-rows")
    expect(rows).to_have_text("Writing examples: 100 of 300 · 10 rows/s · 20s left.")
    expect(page.get_by_role("progressbar")).to_have_attribute("aria-valuenow", "33")

    # The worker moves on: the page polls and shows it without a reload.
    DatasetExport.objects.filter(pk=job.pk).update(
        rows_written=200, heartbeat_at=started + timedelta(seconds=20)
    )
    expect(rows).to_have_text("Writing examples: 200 of 300 · 10 rows/s · 10s left.")
    file = tmp_path / "big-v1.jsonl"
    file.write_text('{"prompt": "p"}\n')
    DatasetExport.objects.filter(pk=job.pk).update(
        status=DatasetExport.Status.SUCCEEDED,
        path=str(file),
        rows_written=300,
        finished_at=timezone.now(),
    )
    link = page.get_by_role("link", name="download big-v1.jsonl")
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "big-v1.jsonl"
