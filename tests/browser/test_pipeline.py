"""Issue 10 in real Chromium with a real Celery worker: launch the R1 recipe from its form
with tiny settings, watch the stage graph advance without reloading, browse what
rejection sampling dropped by reason, and open a comparison of the run's evaluations.

The run is real (every stage trains or samples for a few steps), so the same run also
proves what the rejection-sampled and mixed datasets hold.
"""

from __future__ import annotations

from collections import Counter

import pytest

from r1domain.coldstart import parse_cold_start, readability_issues
from r1web.runs.models import Run
from r1web.traces.models import Sample

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TINY_FORM = {
    "max_steps": "2", "eval_k": "1", "eval_limit": "4", "rs_prompts": "16",
    "samples_per_prompt": "2", "keep_per_prompt": "1",
    "grpo_config": "per_device_train_batch_size=4\nnum_generations=2",
    "sft_config": "max_steps=40\neval_steps=40",
    "reward_config": "max_steps=4",
}
WHOLE_RUN_SECONDS = 900


def _launch_r1(page, queue: str) -> None:
    page.goto("/runs/new/")
    page.get_by_role("link", name="R1: cold start").click()
    for name, value in TINY_FORM.items():
        page.locator(f"[name={name}]").fill(value)
    page.locator("[name=queue]").select_option(queue)
    page.get_by_role("button", name="Start run").click()
    page.wait_for_url("**/runs/*/")


def _assert_kept_only_what_passed(run: Run) -> None:
    for stage in run.stages.filter(kind="rejection_sampling"):
        version = stage.output_dataset()
        for example in version.examples.all():
            reasoning, summary = parse_cold_start(example.completion, "|special_token|")
            assert not readability_issues(reasoning, summary)
            origin = example.provenance
            sample = Sample.objects.get(stage=stage, step=origin["step"],
                                        group=origin["group"], index=origin["index"])
            assert sample.verdict == "kept" and sample.correct
        verdicts = Counter(stage.samples.values_list("verdict", flat=True))
        assert verdicts["kept"] == version.num_examples
    mix = run.stages.get(kind="mix")
    asked = [source["asked"] for source in mix.result["sources"]]
    assert asked == [0.75, 0.25]  # reasoning, then non-reasoning data


def test_an_operator_launches_r1_watches_the_graph_browses_rejections_and_compares(
    page, sign_in, alice, tiny_base, start_worker, queue
):
    from playwright.sync_api import expect

    sign_in(alice)
    start_worker()
    _launch_r1(page, queue)
    run = Run.objects.get()
    graph = page.locator("#stage-graph")
    expect(graph.locator("#graph-node-mix")).to_contain_text("pending")

    # The graph is polled: nodes turn green in place, no reload.
    expect(graph.locator("#graph-node-eval-base")).to_contain_text("succeeded", timeout=300_000)
    expect(graph.locator("#graph-node-eval-final")).to_contain_text(
        "succeeded", timeout=WHOLE_RUN_SECONDS * 1000)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    _assert_kept_only_what_passed(run)

    # The edge that fed the cold-start SFT links to the dataset version that went along it.
    edge = graph.locator("a.graph-edge-dataset").first
    assert "/datasets/" in (edge.get_attribute("href") or "")

    # Rejected samples, by reason.
    graph.locator("#graph-node-rejection-sampling").click()
    verdicts = page.locator("#rejection-verdicts")
    reason_link = verdicts.locator("tbody a").nth(1)  # the first reason after "kept"
    reason = reason_link.inner_text()
    reason_link.click()
    rows = page.locator("table tbody tr .verdict")
    expect(rows.first).to_be_visible()
    assert set(rows.all_inner_texts()) == {reason}

    # A comparison of the run's evaluations, from the run page.
    page.goto(run.get_absolute_url())
    page.get_by_role("link", name="Compare with…").click()
    page.get_by_role("button", name="Compare").click()
    table = page.locator("#evaluations table")
    for label in ("base", "cold_start", "final"):
        expect(table.locator("thead")).to_contain_text(label)
    expect(table.locator("#metric-format_rate")).to_be_visible()
