"""Every page r1web has for its own runs works on an external run: charts, the trace
browser, groups, the evolution of a prompt, flags, curation and comparison."""

from __future__ import annotations

import pytest
from django.urls import reverse

from r1web.curation.models import CurationItem
from r1web.runs.models import Run
from r1web.runs.services import RunError, run_resume
from r1web.traces.models import Flag, Sample
from tests.ingest.conftest import completion


@pytest.fixture
def external(api):
    """An external GRPO run through the API: 3 steps of 2 groups of 4 completions (the
    same two prompts every step), TRL's metrics at steps 2 and 3."""
    api.open(config={"num_generations": 4, "learning_rate": 1e-6})
    samples = [
        {**completion(step, group, index), "prompt": f"What is {group} + 7?"}
        for step in (1, 2, 3)
        for group in range(2)
        for index in range(4)
    ]
    metrics = [
        {
            "step": step,
            "values": {"reward": 1.5, "loss": 0.1 * step, "rewards/accuracy_reward/mean": 0.5},
        }
        for step in (2, 3)
    ]
    api.records(samples=samples, metrics=metrics, progress={"step": 3, "total": 3})
    api.finish(status="succeeded")
    return Run.objects.get()


def test_the_run_page_shows_the_external_run_and_its_charts(client, charlie, external):
    client.force_login(charlie)
    page = client.get(external.get_absolute_url())
    assert page.status_code == 200
    assert "my TRL run" in page.content.decode() and "External" in page.content.decode()
    data = client.get(reverse("runs:chart_data", args=[external.pk])).json()
    reward = data["figures"]["reward"]["data"]
    assert any(trace.get("y") for trace in reward)


def test_its_reflection_and_length_curves_come_from_its_completions(client, charlie, external):
    """TRL logs no reflection rate, and this script logged no lengths: r1web's per-step
    statistics of the completions fill them in, at every step a batch was sent."""
    client.force_login(charlie)
    figures = client.get(reverse("runs:chart_data", args=[external.pk])).json()["figures"]
    reflection = {t["name"]: t for t in figures["reflection"]["data"]}
    assert reflection["reflection rate (detector)"]["x"] == [1, 2, 3]
    assert reflection["reflection rate (detector)"]["y"] == [1.0, 1.0, 1.0]  # "wait, recheck"
    mean = {t["name"]: t for t in figures["length"]["data"]}["mean"]
    assert mean["y"] == [13.5, 13.5, 13.5]  # length_tokens 12 + index, index 0..3


def test_an_external_run_offers_no_resume(client, alice, external):
    client.force_login(alice)
    Run.objects.filter(pk=external.pk).update(status="failed")
    external.stages.update(status="failed")
    assert "Resume" not in client.get(external.get_absolute_url()).content.decode()
    with pytest.raises(RunError, match="its own script"):
        run_resume(run=external, acting_user=alice)


def test_the_stage_page_and_the_metrics_csv_work(client, charlie, external):
    client.force_login(charlie)
    assert client.get(external.stages.get().get_absolute_url()).status_code == 200
    csv = b"".join(client.get(reverse("runs:metrics_csv", args=[external.pk])).streaming_content)
    assert b"loss" in csv


def test_the_trace_browser_lists_and_filters_its_completions(client, charlie, external):
    client.force_login(charlie)
    page = client.get(reverse("traces:list"), {"run": external.pk, "correct": "yes"})
    assert page.content.decode().count('class="sample-row"') == 12
    sample = Sample.objects.filter(run=external).first()
    detail = client.get(sample.get_absolute_url()).content.decode()
    assert "What is" in detail and '<mark class="reflection">wait</mark>' in detail


def test_the_group_page_shows_a_prompts_completions_side_by_side(client, charlie, external):
    client.force_login(charlie)
    stage = external.stages.get()
    page = client.get(reverse("traces:group", args=[stage.pk, 2, 1]))
    assert page.status_code == 200
    assert "What is 1 + 7?" in page.content.decode()
    assert len(page.context["samples"]) == 4


def test_the_evolution_view_follows_one_prompt_across_steps(client, charlie, external):
    client.force_login(charlie)
    key = Sample.objects.filter(run=external, group=1).first().example_key
    assert key.startswith("prompt:")
    page = client.get(reverse("traces:evolution", args=[external.pk]), {"key": key})
    assert page.status_code == 200
    assert sorted({s.step for s in page.context["samples"]}) == [1, 2, 3]


def test_a_curator_flags_and_promotes_an_external_completion(client, bob, external):
    client.force_login(bob)
    sample = Sample.objects.filter(run=external, correct=True).first()
    client.post(reverse("traces:flag", args=[sample.pk]), {"label": "aha"})
    assert Flag.objects.filter(sample=sample, label="aha", created_by=bob).exists()
    response = client.post(
        reverse("curation:promote"), {"sample": sample.pk, "dataset": "cold-start"}
    )
    assert response.status_code == 302
    assert CurationItem.objects.filter(sample=sample).exists()


def test_compare_overlays_an_external_run_with_an_r1web_run(
    client, charlie, external, make_run, make_samples
):
    ours = make_run(name="our run")
    make_samples(ours)
    client.force_login(charlie)
    page = client.get(reverse("runs:compare"), {"runs": [external.pk, ours.run_id]})
    assert page.status_code == 200
    names = {
        trace["name"]
        for figure in page.context["figures"].values()
        for trace in figure["data"]
        if trace.get("name")
    }
    assert any("my TRL run" in name for name in names)
    assert any("our run" in name for name in names)
