"""The rejection-sampling stage page: kept and dropped samples by reason, the output
dataset and the pass-rate histogram."""

from __future__ import annotations

import json
import re

import pytest

from r1domain.base import SampleRecord
from r1web.datasets.services import dataset_version_create
from r1web.runs.panels.rejection import group_pass_rates
from r1web.runs.rejection_charts import INSIDE, OUTSIDE, pass_rate_figure
from r1web.traces.services import samples_record

# group -> verdicts of its 4 samples
GROUPS = {
    0: ["kept", "incorrect", "kept", "over_quota"],
    1: ["incorrect", "incorrect", "incorrect", "mixed_language"],
    2: ["unjudgeable"] * 4,
}


def _record(group: int, index: int, verdict: str) -> SampleRecord:
    correct = verdict not in ("incorrect", "unjudgeable")
    return SampleRecord(
        step=0, group=group, index=index, prompt=f"prompt {group}", completion="c", think="t",
        answer="9", reference="" if verdict == "unjudgeable" else "9", rewards={}, reward=0.0,
        advantage=0.0, length_tokens=3, correct=correct, format_ok=True, verdict=verdict,
    )


@pytest.fixture
def stage(make_run):
    stage = make_run(kind="rejection_sampling", name="rejection sampling", status="succeeded",
                     params={"samples_per_prompt": 4, "keep_per_prompt": 2,
                             "pass_rate_window": [0.2, 0.8]})
    samples_record(stage=stage, records=[
        _record(group, index, verdict)
        for group, verdicts in GROUPS.items() for index, verdict in enumerate(verdicts)
    ])
    return stage


def _page(client, user, stage) -> str:
    client.force_login(user)
    return client.get(stage.get_absolute_url()).content.decode()


def test_the_page_counts_samples_by_verdict_each_linked_to_its_traces(client, charlie, stage):
    page = _page(client, charlie, stage)
    base = f"/traces/?run={stage.run_id}&amp;stage={stage.pk}&amp;verdict="
    table = page.split('id="rejection-verdicts"')[1].split("</table>")[0]
    rows = re.findall(r'verdict=([a-z_]+)">[a-z_]+</a></td>\s*<td[^>]*>(\d+)</td>', table)
    assert rows == [("kept", "2"), ("unjudgeable", "4"), ("incorrect", "4"),
                    ("mixed_language", "1"), ("over_quota", "1"), ("rejected", "10")]
    assert f'href="{base}incorrect"' in page
    assert "more correct samples than kept per prompt" in page


def test_the_linked_filter_shows_exactly_the_counted_samples(client, charlie, stage):
    client.force_login(charlie)
    listing = client.get("/traces/", {"run": stage.run_id, "stage": stage.pk,
                                      "verdict": "incorrect"}).content.decode()
    assert listing.count('class="sample-row"') == 4


def test_the_page_links_the_dataset_the_kept_samples_became(client, charlie, stage):
    assert "No dataset was made" in _page(client, charlie, stage)
    version = dataset_version_create(
        name="rs-out", records=[{"prompt": "p", "completion": "|special_token|t|special_token|9"}],
        source="rejection sampling", kind="sft", produced_by=stage,
    )
    page = _page(client, charlie, stage)
    assert f'href="{version.get_absolute_url()}">rs-out v1</a>' in page


def test_the_page_embeds_the_pass_rate_histogram_with_its_window(client, charlie, stage):
    page = _page(client, charlie, stage)
    figure = json.loads(page.split('id="pass-rate-figure" type="application/json">')[1]
                        .split("</script>")[0])
    # prompt 0 passes 3 of 4 (bin 0.8), prompt 1 only its mixed-language sample (0.25, bin
    # 0.3); prompt 2 cannot be judged
    assert figure["data"][0]["y"] == [0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0]
    assert figure["layout"]["shapes"][0]["x0"] == 0.2
    assert 'data-figure="pass-rate-figure"' in page and "r1web/figures.js" in page
    assert "0.2 &lt; pass rate &lt; 0.8" in page


def test_prompts_no_sample_could_be_judged_have_no_pass_rate(stage):
    assert group_pass_rates(stage) == [0.75, 0.25, None]


def test_other_stage_kinds_have_no_rejection_panel(client, charlie, make_run):
    assert 'id="rejection-sampling"' not in _page(client, charlie, make_run())


def test_the_histogram_greys_the_bars_outside_the_window():
    figure = pass_rate_figure([1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 4], (0.15, 0.8))
    bar = figure["data"][0]
    assert bar["x"][:3] == [0.0, 0.1, 0.2] and bar["x"][-1] == 1.0
    assert bar["marker"]["color"][:3] == [OUTSIDE, OUTSIDE, INSIDE]
    assert bar["marker"]["color"][-1] == OUTSIDE
    assert "kept: 0.15 < pass rate < 0.8" in figure["layout"]["annotations"][0]["text"]


def test_without_a_window_the_histogram_has_no_shading():
    figure = pass_rate_figure([0] * 11)
    assert "shapes" not in figure["layout"] and "marker" not in figure["data"][0]


def test_a_stage_not_started_yet_shows_an_empty_panel(client, charlie, make_run):
    stage = make_run(kind="rejection_sampling", status="queued", params={})
    page = _page(client, charlie, stage)
    assert '<td id="rejection-kept">0</td>' in page
    assert "The dataset is made when sampling ends" in page
