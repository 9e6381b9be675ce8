"""Issue 9, points 4 and 5 in real Chromium: the trace table (count, prompt column, search
hits, columns, side panel, advantages, default view, confirmed bulk promotion) and
feedback for every action, htmx requests that fail included."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import assert_no_serious_axe_violations

pytestmark = pytest.mark.browser


@pytest.fixture
def zero(make_run, make_samples):
    """A finished run: GRPO (2 steps x 1 group x 4 completions), then an evaluation."""
    from r1web.runs.models import Stage, StageKind

    grpo = make_run(name="zero", status="succeeded")
    make_samples(grpo, steps=2, groups=1, per_group=4)
    evaluation = Stage.objects.create(
        run=grpo.run, position=1, name="Eval", kind=StageKind.EVAL, status="succeeded"
    )
    make_samples(evaluation, steps=1, groups=1, per_group=2, advantage=0.0)
    return grpo.run


def test_the_table_counts_marks_search_hits_and_opens_a_sample_beside_the_list(
    page, sign_in, charlie, zero
):
    sign_in(charlie).goto("/traces/")
    rows = page.locator("tr.sample-row")
    expect(rows).to_have_count(8)  # the default view: the latest run's training samples
    expect(page.locator("#total")).to_contain_text("8 matching samples (exact count)")
    expect(page.locator("th")).to_contain_text(
        ["Sample", "Run / stage", "Step", "Group", "Prompt"]
    )

    page.fill("#id_q", "largest OF 3")
    expect(page.locator("#total")).to_contain_text("8 matching samples")
    expect(rows.first.locator("td.prompt mark.hit")).to_have_text("largest of 3")
    page.fill("#id_q", "step 2")
    expect(rows).to_have_count(4)
    expect(page.locator("#total")).to_contain_text("4 matching samples")
    list_url = page.url

    rows.first.locator("a.open-sample").click()
    panel = page.locator("#panel")
    expect(panel.get_by_role("heading", level=2)).to_have_text(
        re.compile(r"Sample \d+")
    )
    expect(panel.locator("#prompt")).to_contain_text("(step 2)")
    assert page.url == list_url  # still the list, with its filter
    expect(rows).to_have_count(4)
    panel.get_by_role("button", name="Close").click()
    expect(panel).to_be_hidden()  # the table has the whole width again
    page.keyboard.press("j")
    page.keyboard.press("Enter")  # the keyboard opens the selected row the same way
    expect(panel.get_by_role("heading", level=2)).to_be_visible()
    panel.get_by_role("link", name="Open as a page").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile(r"Sample \d+"))
    expect(page).to_have_url(re.compile(r"/traces/samples/\d+/\?"))


def test_a_count_too_costly_to_make_says_it_is_an_estimate(
    page, sign_in, charlie, make_run, make_samples, monkeypatch
):
    make_samples(make_run(), steps=8, groups=2, per_group=4)  # 64: more than a page
    monkeypatch.setattr("r1web.traces.selectors.EXACT_UP_TO", 10)
    sign_in(charlie).goto("/traces/")
    total = page.locator("#total")
    # PostgreSQL's planner estimates ("about 64"); SQLite stops counting ("more than 10").
    expect(total).to_have_text(
        re.compile(r"(about \d+|more than 10) matching samples \((estimated|counting)")
    )
    expect(total).to_have_attribute("data-exact", "false")


def test_columns_are_chosen_and_kept_in_the_url(page, sign_in, charlie, zero):
    sign_in(charlie).goto("/traces/")
    headers = page.locator("table.samples th")
    expect(headers.filter(has_text="Completion")).to_have_count(1)
    expect(headers.filter(has_text="Verdict")).to_have_count(0)
    page.get_by_text("Columns", exact=True).click()
    page.get_by_role("checkbox", name="Completion").uncheck()
    expect(headers.filter(has_text="Completion")).to_have_count(0)
    page.get_by_role("checkbox", name="Verdict").check()
    expect(headers.filter(has_text="Verdict")).to_have_count(1)
    expect(page).to_have_url(re.compile(r"cols=verdict"))
    page.reload()
    expect(headers.filter(has_text="Completion")).to_have_count(0)
    expect(headers.filter(has_text="Verdict")).to_have_count(1)


def test_evaluation_samples_show_no_advantage_and_positions_read_as_words(
    page, sign_in, charlie, zero
):
    sign_in(charlie).goto("/traces/")
    expect(page.locator("td.advantage").first).to_have_text(re.compile(r"^-?1\.00$"))
    expect(page.locator("td.position").first).to_have_text(
        re.compile(r"^group 0 · #\d$")
    )
    page.select_option("#id_samples", "evaluation")
    expect(page.locator("tr.sample-row")).to_have_count(2)
    expect(page.locator("td.advantage")).to_have_text(["—", "—"])


def test_bulk_promotion_shows_the_count_and_asks_for_a_target_first(
    page, sign_in, bob, zero
):
    from r1web.curation.models import CurationItem

    sign_in(bob).goto(f"/traces/?run={zero.pk}&samples=training&correct=yes")
    expect(page.locator("tr.sample-row")).to_have_count(4)
    page.get_by_role("link", name="Promote every matching sample…").click()
    panel = page.locator("#panel")
    expect(panel.locator("#promote-count")).to_have_text("4 samples match this filter:")
    expect(panel.get_by_label("Into dataset")).to_have_value("cold-start")
    assert not CurationItem.objects.exists()  # nothing until it is confirmed
    panel.get_by_label("or a new one").fill("aha-picks")
    panel.get_by_role("button", name="Promote 4 samples").click()
    expect(page).to_have_url(re.compile(r"/curation/queues/aha-picks/$"))
    expect(page.locator("body")).to_contain_text(
        "queued 4 new candidate(s) for aha-picks"
    )
    assert CurationItem.objects.filter(dataset__name="aha-picks").count() == 4


def test_an_empty_filter_is_refused_in_the_confirmation(page, sign_in, bob, zero):
    sign_in(bob).goto("/traces/?run=")
    page.get_by_role("link", name="Promote every matching sample…").click()
    expect(page.locator("#panel [role=alert]")).to_contain_text("matches every sample")
    expect(page.locator("#panel button[type=submit]")).to_have_count(0)


def test_failed_flags_and_failed_htmx_requests_are_shown_where_the_curator_looks(
    page, sign_in, bob, zero
):
    from r1web.accounts.roles import role_grant

    sample = zero.samples.order_by("pk").first()
    sign_in(bob).goto(sample.get_absolute_url())
    # A custom flag without a label: the refusal in the flags section, not a silent 400.
    page.get_by_role("button", name="Add custom flag").click()
    expect(page.locator("#flags [role=alert]")).to_have_text(
        "a custom flag needs a label"
    )

    # The server's error page (bob lost the curator role meanwhile) becomes a message.
    role_grant(user=bob, role="viewer")
    page.get_by_role("button", name="Reflection (r)").click()
    messages = page.locator("#feedback")
    expect(messages.get_by_role("alert")).to_contain_text("Not allowed")
    expect(messages).to_contain_text("403")
    expect(page.locator("#flags")).to_contain_text("No flags yet")  # the page stays

    # A request that never reaches the server says so too.
    role_grant(user=bob, role="curator")
    page.route(re.compile(r".*/flags/$"), lambda route: route.abort())
    page.get_by_role("button", name="Aha moment (a)").click()
    expect(messages).to_contain_text("Could not reach the server")
    messages.get_by_role("button", name="Dismiss this message").first.click()
    expect(messages.locator(".feedback-message")).to_have_count(1)


def test_a_curation_save_is_confirmed_and_a_viewer_is_told_why_they_cannot_curate(
    page, sign_in, bob, charlie, zero
):
    from r1web.curation.services import (
        candidates_promote,
        curation_dataset_get_or_create,
    )

    dataset = curation_dataset_get_or_create(name="cold-start", user=bob)
    candidates_promote(
        samples=zero.samples.filter(correct=True), dataset=dataset, user=bob
    )

    sign_in(charlie).goto("/curation/queues/cold-start/")
    expect(page.locator("#queue-state")).to_contain_text(
        "5 candidates wait here, but curating needs the curator role"
    )
    expect(page.locator("body")).not_to_contain_text("queue is empty")

    sign_in(bob).goto("/curation/queues/cold-start/")
    page.get_by_role("button", name="Take the next candidate").click()
    page.locator("#edit-form [name=summary]").fill("7")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#feedback .feedback-message.success")).to_contain_text(
        "saved candidate"
    )


def test_axe_finds_nothing_serious_in_the_trace_browser_sample_and_group(
    page, sign_in, bob, zero
):
    sample = zero.samples.order_by("pk").first()
    sign_in(bob).goto("/traces/")
    page.get_by_text("Columns", exact=True).click()
    assert_no_serious_axe_violations(page)
    page.locator("a.open-sample").first.click()
    expect(page.locator("#panel #flags")).to_be_visible()
    assert_no_serious_axe_violations(page)  # with a sample in the side panel
    page.get_by_role("link", name="Promote every matching sample…").click()
    expect(page.locator("#promote-count")).to_be_visible()
    assert_no_serious_axe_violations(page)  # with the promotion's confirmation
    for url in (
        sample.get_absolute_url(),
        f"/traces/groups/{sample.stage_id}/{sample.step}/{sample.group}/",
        "/curation/promote/confirm/?correct=yes",
    ):
        _axe_clean(page, url)


def test_axe_finds_nothing_serious_in_curation_and_dataset_pages(
    page, sign_in, bob, zero
):
    from r1web.curation.models import CurationItem
    from r1web.curation.services import (
        candidates_promote,
        curation_claim_next,
        curation_dataset_get_or_create,
        curation_save,
    )
    from r1web.datasets.services import dataset_version_create

    dataset = curation_dataset_get_or_create(name="cold-start", user=bob)
    candidates_promote(
        samples=zero.samples.filter(correct=True), dataset=dataset, user=bob
    )
    item = curation_claim_next(dataset=dataset, user=bob)
    curation_save(item=item, user=bob, reasoning="Compare: 7 wins.", summary="7")
    records = [
        {
            "key": f"k{i}",
            "prompt": f"Largest of 3, {i}, 7?",
            "answer": "7",
            "split": "train",
        }
        for i in range(3)
    ]
    first = dataset_version_create(name="prompts", records=records, source="test")
    second = dataset_version_create(
        name="prompts", records=records[:2], source="test", parent=first
    )
    example = second.examples.first()
    sign_in(bob)
    for url in (
        "/curation/",
        f"/curation/queues/{dataset.name}/",
        f"/curation/items/{item.pk}/",
        f"/curation/items/{CurationItem.objects.exclude(pk=item.pk).first().pk}/",
        "/datasets/",
        "/datasets/upload/",
        first.dataset.get_absolute_url(),
        first.get_absolute_url(),
        second.get_absolute_url(),
        f"/datasets/d/prompts/diff/?old={first.number}&new={second.number}",
        f"/datasets/examples/{example.pk}/",
    ):
        _axe_clean(page, url)


def _axe_clean(page, url: str) -> None:
    page.goto(url)
    try:
        assert_no_serious_axe_violations(page)
    except AssertionError as exc:
        raise AssertionError(f"{url}: {exc}") from None
