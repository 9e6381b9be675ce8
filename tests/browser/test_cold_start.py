"""Issue 4 end to end in real Chromium: flag R1-Zero samples, promote them, curate them
with the keyboard, freeze a version, SFT the tiny base on it, see curves and lineage.

The R1-Zero samples are made directly (no GRPO training); the SFT stage runs for real on
a miniature base model, through the same code path a worker takes (claim, then execute).
"""

from __future__ import annotations

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def r1_zero_run(make_run, make_samples):
    stage = make_run(name="r1-zero demo", status="succeeded")
    make_samples(stage, steps=2, groups=2, per_group=2)
    return stage.run


def _flag_aha(page, sample) -> None:
    page.goto(sample.get_absolute_url())
    page.get_by_role("button", name="Aha moment (a)").click()
    page.locator("#flags .flag-aha").wait_for()


def _curate(page) -> None:
    """Accept the first candidate after editing it, reject the second, accept the third."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Take the next candidate").click()
    expect(page.locator("#queue-progress")).to_contain_text("Item 1 of 3")
    # The policy being trained wrote it, not the model the stage started from.
    expect(page.locator("article.candidate .provenance")).to_contain_text(
        re.compile(r"GRPO policy at step \d+"))
    reasoning = page.locator("#edit-form [name=reasoning]")
    reasoning.fill("Compare the numbers one by one. Wait, check again: 7 is the largest.")
    page.locator("#edit-form [name=summary]").fill("The largest number is 7.")
    reasoning.press("Control+Enter")  # accept while typing
    expect(page.locator("#queue-progress")).to_contain_text("Item 2 of 3")
    # htmx keeps the focus in the (new) reasoning box; Escape leaves it for the shortcuts
    page.keyboard.press("Escape")
    page.keyboard.press("r")  # focus the reject reason
    page.keyboard.type("too short to teach anything")
    page.keyboard.press("Enter")
    expect(page.locator("#queue-progress")).to_contain_text("Item 3 of 3")
    page.keyboard.press("Escape")
    page.keyboard.press("a")
    expect(page.locator("#queue-progress")).to_contain_text(
        "3 of 3 decided · 2 accepted · 1 rejected"
    )


def test_cold_start_from_flagged_samples_to_a_trained_checkpoint(
    page, sign_in, bob, alice, r1_zero_run, mini_base, settings, tmp_path
):
    from playwright.sync_api import expect

    from r1web.curation.models import CurationItem
    from r1web.datasets.models import DatasetVersion
    from r1web.runs.models import Run, Status
    from r1web.runs.services import stage_claim
    from workers.runner import execute

    settings.TINY_BASE_DIR = mini_base
    settings.RUNS_DIR = tmp_path / "runs"
    correct = list(r1_zero_run.samples.filter(correct=True).order_by("id")[:3])

    # A curator flags three correct R1-Zero samples as aha moments and promotes them.
    sign_in(bob)
    for sample in correct:
        _flag_aha(page, sample)
    page.goto(f"/traces/?run={r1_zero_run.pk}&correct=yes&flagged=aha")
    page.get_by_role("link", name="Promote every matching sample…").click()
    page.get_by_role("button", name="Promote 3 samples").click()  # the confirmation
    expect(page).to_have_url(re.compile(r"/curation/queues/cold-start/$"))
    assert sorted(CurationItem.objects.values_list("sample_id", flat=True)) == [
        s.pk for s in correct
    ]

    # The queue shows one candidate at a time, with provenance; the keyboard drives it.
    _curate(page)
    page.get_by_role("button", name="Freeze accepted candidates as a new version").click()
    version = DatasetVersion.objects.get(dataset__name="cold-start")
    expect(page.locator("body")).to_contain_text(version.content_hash)
    assert version.num_examples == 2
    edited = version.examples.get(completion__startswith="|special_token|Compare the numbers")
    assert edited.completion.endswith("|special_token|The largest number is 7.")
    assert edited.provenance["sample_id"] in [s.pk for s in correct]

    # An operator launches cold-start SFT on that version from its page.
    sign_in(alice)
    page.goto(version.get_absolute_url())
    form = page.locator("#launch-sft")
    form.get_by_label("Max steps").fill("4")
    form.get_by_label("Trl config").fill('{"eval_steps": 2, "per_device_train_batch_size": 2}')
    form.get_by_role("button", name="Start SFT").click()
    run = Run.objects.get(recipe="cold-start-sft")
    expect(page).to_have_url(re.compile(rf"/runs/{run.pk}/$"))

    # A worker would take the queued stage now; the test runs the same two calls.
    stage = stage_claim(stage_pk=run.stages.get().pk, worker="browser-test")
    execute(stage)
    stage.refresh_from_db()
    assert stage.status == Status.SUCCEEDED, stage.error
    assert stage.metric_points.filter(key="loss").count() == 4
    assert stage.samples.filter(step=2).exists()  # generations sampled at the evaluation

    # Its loss curve is drawn on the run page...
    page.goto(run.get_absolute_url())
    expect(page.locator("#chart-loss .main-svg").first).to_be_visible()
    # ...and the version's lineage names the stage that trained on it and what came out.
    page.goto(version.get_absolute_url())
    lineage = page.get_by_role("region", name="Lineage")
    expect(lineage).to_contain_text("Used by")
    expect(lineage.get_by_role("link", name=str(stage), exact=True)).to_be_visible()
    expect(lineage).to_contain_text(stage.output_checkpoint.name)
    expect(
        lineage.get_by_role("link", name=str(r1_zero_run.stages.get()), exact=True)
    ).to_be_visible()
