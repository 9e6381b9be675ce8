from __future__ import annotations

import pytest
from django.urls import reverse

from r1domain.base import ConfigError
from r1web.datasets.models import Dataset
from r1web.datasets.selectors import lineage_for_version
from r1web.datasets.services import dataset_version_create, non_reasoning_dataset_ensure
from r1web.runs.models import Recipe, Run, Stage, StageInput, StageKind
from r1web.runs.services import stage_succeed
from workers.runners.mix import run_mix_stage


def reasoning_version(n: int = 300, split: str = "train"):
    records = [
        {"key": f"rs:{i}", "prompt": f"Find the largest of {i}", "answer": str(i),
         "completion": f"|special_token|compare|special_token|{i}", "split": split,
         "provenance": {"sample_id": i}}
        for i in range(n)
    ]
    return dataset_version_create(name="reasoning", records=records, source="rejection sampling",
                                  kind=Dataset.Kind.SFT)


def mix_stage(sources, params=None, weights=(0.75, 0.25)) -> Stage:
    run = Run.objects.create(name="r1 demo", recipe=Recipe.R1, status="running")
    stage = Stage.objects.create(run=run, position=0, key="mix", name="mix", kind=StageKind.MIX,
                                 status="running", params=params or {})
    for version, weight in zip(sources, weights):
        StageInput.objects.create(stage=stage, version=version, role=StageInput.Role.TRAIN,
                                  weight=weight)
    return stage


@pytest.mark.django_db
def test_a_mix_stage_makes_a_version_with_the_asked_shares_and_lineage_to_both_sources():
    reasoning, general = reasoning_version(), non_reasoning_dataset_ensure()
    stage = mix_stage([reasoning, general], {"proportions": [0.75, 0.25], "seed": 0})
    result = run_mix_stage(stage, stage.parameters())
    output = stage.output_dataset()
    assert output is not None and output.dataset.name == f"run-{stage.run_id}-mix"
    assert output.dataset.kind == Dataset.Kind.SFT
    # 300 reasoning examples at 75% allow 400 in all; general's train split has plenty.
    assert result["examples"] == output.num_examples == 400
    assert [(s["count"], s["asked"]) for s in result["sources"]] == [(300, 0.75), (100, 0.25)]
    assert all(abs(s["got"] - s["asked"]) <= 0.01 for s in result["sources"])
    assert output.source == "mix of reasoning v1 (75%), demo-general v1 (25%)"
    assert {v for _, v in lineage_for_version(output).inputs} == {reasoning, general}


@pytest.mark.django_db
def test_each_mixed_example_names_its_source_version_and_original_provenance():
    reasoning, general = reasoning_version(), non_reasoning_dataset_ensure()
    stage = mix_stage([reasoning, general], {"proportions": [0.75, 0.25]})
    run_mix_stage(stage, stage.parameters())
    example = stage.output_dataset().examples.get(key="0:rs:7")
    assert example.provenance == {
        "source": 0, "source_key": "rs:7", "source_provenance": {"sample_id": 7},
        "version": reasoning.pk, "dataset": "reasoning", "number": 1,
    }
    generals = stage.output_dataset().examples.filter(key__startswith="1:")
    # Only the train split of a source is mixed: its held-out examples stay held out.
    assert not generals.filter(provenance__source_key__in=[
        e.key for e in general.examples.filter(split="test")]).exists()
    assert set(generals.values_list("task", flat=True)) == {"general"}


@pytest.mark.django_db
def test_without_proportions_the_input_weights_give_the_shares():
    reasoning, general = reasoning_version(), non_reasoning_dataset_ensure()
    stage = mix_stage([reasoning, general], weights=(3, 1))
    result = run_mix_stage(stage, stage.parameters())
    assert [s["asked"] for s in result["sources"]] == [0.75, 0.25]


@pytest.mark.django_db
def test_a_source_with_nothing_to_mix_fails_the_stage_naming_it():
    stage = mix_stage([reasoning_version(split="test"), non_reasoning_dataset_ensure()],
                      {"proportions": [0.75, 0.25]})
    with pytest.raises(ConfigError, match="reasoning v1 has no examples in its 'train' split"):
        run_mix_stage(stage, stage.parameters())
    assert stage.output_dataset() is None


@pytest.mark.django_db
def test_the_stage_page_shows_asked_and_realised_shares_with_links(client, charlie):
    reasoning, general = reasoning_version(), non_reasoning_dataset_ensure()
    stage = mix_stage([reasoning, general], {"proportions": [0.75, 0.25]})
    stage_succeed(stage_pk=stage.pk, result=run_mix_stage(stage, stage.parameters()))
    client.force_login(charlie)
    page = client.get(reverse("runs:stage", args=[stage.pk])).content.decode()
    panel = page[page.index('<section id="mix"'):]
    panel = panel[: panel.index("</section>")]
    assert panel.count("75.0%") == 2 and panel.count("25.0%") == 2
    for version in (reasoning, general, stage.output_dataset()):
        assert f'href="{version.get_absolute_url()}"' in panel
    assert "(400 examples)" in panel


@pytest.mark.django_db
def test_before_it_runs_the_panel_shows_the_shares_asked(client, charlie):
    stage = mix_stage([reasoning_version(), non_reasoning_dataset_ensure()],
                      {"proportions": [0.75, 0.25]})
    client.force_login(charlie)
    page = client.get(reverse("runs:stage", args=[stage.pk])).content.decode()
    assert "75.0%" in page and "not mixed yet" in page


@pytest.mark.django_db
def test_the_mixed_version_page_lists_every_source(client, charlie):
    reasoning, general = reasoning_version(), non_reasoning_dataset_ensure()
    stage = mix_stage([reasoning, general], {"proportions": [0.75, 0.25]})
    run_mix_stage(stage, stage.parameters())
    client.force_login(charlie)
    page = client.get(stage.output_dataset().get_absolute_url()).content.decode()
    lineage = page[page.index('aria-label="Lineage"'):]
    assert reasoning.get_absolute_url() in lineage and general.get_absolute_url() in lineage
    assert stage.get_absolute_url() in lineage
