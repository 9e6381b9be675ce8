"""Launching cold-start SFT on a dataset version (the recipe and its browser form)."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from r1domain.base import ConfigError
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Recipe, Run, StageInput, StageKind
from r1web.runs.recipes import launch
from r1web.runs.services import RunError


@pytest.fixture
def model_dir(tmp_path, settings):
    settings.MODELS_DIR = tmp_path
    (tmp_path / "config.json").write_text("{}")
    return tmp_path


@pytest.fixture
def sft_version(db):
    records = [
        {"key": "a", "prompt": "p", "answer": "7", "completion": "|special_token|r|special_token|7"}
    ]
    return dataset_version_create(name="cold", records=records, source="t", kind="sft")


def test_the_recipe_makes_one_sft_stage_that_trains_on_the_version(sft_version, model_dir, alice):
    run = launch("cold-start-sft", {"dataset": "cold", "model": str(model_dir), "max_steps": 3,
                                    "sft_config": {"eval_steps": 1}}, user=alice)
    stage = run.stages.get()
    assert (run.recipe, stage.kind, stage.status) == (
        Recipe.COLD_START_SFT,
        StageKind.SFT,
        "queued",
    )
    assert stage.trl_config["max_steps"] == 3 and stage.trl_config["eval_steps"] == 1
    assert StageInput.objects.get(stage=stage).version == sft_version


def test_an_unknown_trl_field_is_refused_and_nothing_is_written(sft_version, model_dir):
    with pytest.raises(ConfigError, match="warp_speed"):
        launch("cold-start-sft", {"dataset": "cold", "model": str(model_dir),
                                  "sft_config": {"warp_speed": 9}})
    assert not Run.objects.exists()


def test_a_prompt_only_dataset_cannot_be_sft_trained(db, model_dir):
    dataset_version_create(name="prompts", records=[{"prompt": "p", "answer": "1"}], source="t")
    with pytest.raises(RunError, match="no completions"):
        launch("cold-start-sft", {"dataset": "prompts", "model": str(model_dir)})
    assert not Run.objects.exists()


def test_an_operator_launches_sft_from_the_version_page(
    client, alice, sft_version, model_dir, settings
):
    settings.TINY_BASE_DIR = model_dir
    client.force_login(alice)
    response = client.post(
        reverse("datasets:sft", args=["cold", 1]),
        {"max_steps": 2, "learning_rate": 0.001, "trl_config": json.dumps({"logging_steps": 1})},
    )
    run = Run.objects.get()
    assert response.status_code == 302 and response["Location"] == run.get_absolute_url()
    assert run.stages.get().trl_config["learning_rate"] == 0.001


def test_a_curator_cannot_launch_sft(client, bob, sft_version):
    client.force_login(bob)
    response = client.post(
        reverse("datasets:sft", args=["cold", 1]), {"max_steps": 2, "learning_rate": 0.001}
    )
    assert response.status_code == 403
    assert not Run.objects.exists()
