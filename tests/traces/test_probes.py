"""Probe samples: followed through a run in the evolution view (step slider, word diff),
kept out of the training statistics and of GRPO groups."""

from __future__ import annotations

import pytest
from django.urls import reverse

from r1domain.base import SampleRecord
from r1web.runs.reports import run_report
from r1web.runs.selectors import reflection_counts, sample_step_stats
from r1web.traces.models import Sample
from r1web.traces.services import samples_record

HTMX = {"HX-Request": "true"}
KEY = "synthetic:largest:3-9-4-1"
PROBE_STEPS = list(range(0, 101, 10))  # 11 rounds


def probe(step: int, completion: str, group: int = 0, key: str = KEY) -> SampleRecord:
    return SampleRecord(
        step=step,
        group=group,
        index=0,
        prompt="What is the largest of 3 9 4 1?",
        completion=completion,
        think="",
        answer=completion.split()[-1],
        reference="9",
        rewards={"accuracy": 0.0},
        reward=0.0,
        advantage=0.0,
        length_tokens=5,
        correct=False,
        format_ok=False,
        reflection_phrases=["wait"],
        example_key=key,
        probe=True,
    )


@pytest.fixture
def probed(make_run, make_samples):
    """A GRPO stage with 3 training steps and probe rounds every 10 steps to 100."""
    stage = make_run()
    make_samples(stage, steps=3, groups=2, per_group=4)
    samples_record(
        stage=stage,
        records=[
            probe(step, f"the largest is {3 if step < 50 else 9} <b>{step}</b>")
            for step in PROBE_STEPS
        ]
        + [probe(0, "other probe", group=1, key="synthetic:other")],
    )
    return stage


def test_the_evolution_view_of_a_probe_prompt_shows_every_probe_step(viewer, probed):
    url = reverse("traces:evolution", args=[probed.run_id])
    page = viewer.get(url, {"key": KEY}).content.decode()
    assert "11 probe steps" in page
    assert f'max="{len(PROBE_STEPS) - 1}"' in page  # the slider spans the timeline
    # The last round is shown; the diff runs from the first round to the last, escaped.
    assert "GRPO · step 100 (probe)" in page
    assert (
        "is <del>3</del><ins>9</ins> <del>&lt;b&gt;0&lt;/b&gt;</del>"
        "<ins>&lt;b&gt;100&lt;/b&gt;</ins>"
    ) in page
    assert "<b>100</b>" not in page


def test_the_evolution_view_lists_the_run_s_probe_prompts_in_set_order(viewer, probed):
    page = viewer.get(reverse("traces:evolution", args=[probed.run_id])).content.decode()
    first, second = page.index(f"?key={KEY.replace(':', '%3A')}"), page.index("synthetic%3Aother")
    assert first < second


def test_moving_the_slider_fetches_only_the_picked_step(viewer, probed):
    url = reverse("traces:evolution", args=[probed.run_id])
    response = viewer.get(url, {"key": KEY, "at": "3", "old": "1", "new": "2"}, headers=HTMX)
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="evolution-detail">')
    assert "GRPO · step 30 (probe)" in body and "<h1>" not in body
    assert "from GRPO · step 10 (probe) to GRPO · step 20 (probe)" in body
    assert "HX-Request" in response["Vary"]


@pytest.mark.parametrize("at", ["99", "-1", "x", "１"])
def test_a_hand_made_slider_position_shows_the_last_step(viewer, probed, at):
    url = reverse("traces:evolution", args=[probed.run_id])
    page = viewer.get(url, {"key": KEY, "at": at}).content.decode()
    assert '<h2 id="evolution-frame">GRPO · step 100 (probe)</h2>' in page


def test_probes_stay_out_of_training_statistics_and_groups(viewer, probed):
    stats = sample_step_stats([probed.pk], None)
    assert [row["step"] for row in stats] == [1, 2, 3]
    assert sum(row["total"] for row in stats) == 24
    assert [count.step for count in reflection_counts([probed.pk])] == [1, 2, 3]
    grpo = next(s for s in run_report(probed.run)["stages"] if s["key"] == probed.key)
    assert (grpo["samples"], grpo["probes"]) == (24, 12)
    group = viewer.get(reverse("traces:group", args=[probed.pk, 0, 0])).status_code
    assert group == 404  # step 0 holds only a probe round, no GRPO group
    assert Sample.objects.filter(probe=True, step=0).count() == 2
