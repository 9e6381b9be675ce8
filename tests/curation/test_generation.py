"""Candidate generation stages: launched like any run, their samples land in the queue."""

from __future__ import annotations

import pytest
from django.urls import reverse

from r1web.curation.models import CurationItem, Source
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Checkpoint, Run, Status
from r1web.runs.recipes.generate import candidate_generation_create
from r1web.runs.services import RunError, stage_claim
from workers.runner import execute

PROMPTS = [
    {"key": f"p{i}", "prompt": f"Find the largest of {i} 8 2", "answer": "8"} for i in range(2)
]
EXEMPLARS = [
    {
        "key": "x",
        "prompt": "Find the largest of 1 4",
        "answer": "4",
        "completion": "|special_token|4 > 1. Wait, check: yes.|special_token|4",
    }
]


@pytest.fixture
def prompts(db):
    return dataset_version_create(name="prompts", records=PROMPTS, source="test")


@pytest.mark.slow
@pytest.mark.parametrize("method", ["few_shot", "direct"])
def test_a_generation_stage_queues_its_candidates_with_provenance(
    prompts, mini_base, alice, settings, tmp_path, method
):
    settings.RUNS_DIR = tmp_path
    model = Checkpoint.objects.create(name="mini", path=str(mini_base))
    exemplars = dataset_version_create(
        name="exemplars", records=EXEMPLARS, source="test", kind="sft"
    )
    run = candidate_generation_create(
        method=method,
        prompts=prompts,
        target="cold-start",
        model=model,
        exemplars=exemplars,
        per_prompt=2,
        max_new_tokens=16,
        user=alice,
    )
    stage = stage_claim(stage_pk=run.stages.get().pk, worker="test")
    execute(stage)
    stage.refresh_from_db()
    assert stage.status == Status.SUCCEEDED, stage.error
    assert stage.result["queued"] == 4
    items = CurationItem.objects.filter(dataset__name="cold-start")
    assert {item.source for item in items} == {Source(method)}
    item = items.first()
    assert item.provenance["stage_id"] == stage.pk
    assert item.provenance["model"] == "mini"
    assert item.provenance["sample_id"] == item.sample_id


def test_few_shot_generation_without_exemplars_is_refused_before_anything_is_written(
    prompts, alice
):
    with pytest.raises(RunError, match="exemplars"):
        candidate_generation_create(
            method="few_shot",
            prompts=prompts,
            target="cs",
            model=Checkpoint.objects.create(name="m", path="/m"),
            user=alice,
        )
    assert not Run.objects.exists()


def test_only_operators_can_launch_a_generation(client, bob, prompts):
    client.force_login(bob)
    response = client.post(
        reverse("curation:generate"), {"method": "direct", "prompts": prompts.pk, "target": "cs"}
    )
    assert response.status_code == 403
    assert not Run.objects.exists()
