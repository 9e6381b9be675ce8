"""A run reads the exact dataset version it was launched with, whatever happens to the
dataset's name afterwards (a curator freezing or importing a newer version)."""

from __future__ import annotations

import json

import pytest

from r1web.datasets.models import Example
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import StageInput
from r1web.runs.recipes import launch

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_dir(tmp_path, settings):
    settings.MODELS_DIR = tmp_path
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    return tmp_path / "base"


def _prompts(tag: str) -> list[dict]:
    return [{"prompt": f"{tag}: 1+1?", "answer": "2", "split": "train"},
            {"prompt": f"{tag}: 2+2?", "answer": "4", "split": "test"}]


def _read_by_stage(stage) -> set[str]:
    """What the worker reads (workers.runner.stage_examples does this query)."""
    versions = StageInput.objects.filter(stage=stage).values("version")
    return set(Example.objects.filter(version__in=versions).values_list("prompt", flat=True))


def test_a_run_launched_with_a_dataset_name_keeps_reading_the_version_it_launched_with(
    model_dir, bob
):
    first = dataset_version_create(name="maths", records=_prompts("old"), source="test")
    run = launch("r1-zero", {"model": "base", "dataset": "maths"})
    # A curator then freezes new content under the same name.
    newer = dataset_version_create(name="maths", records=_prompts("new"), source="curation",
                                   created_by=bob)
    assert newer.number == first.number + 1
    stages = list(run.stages.order_by("position"))
    pinned = {use.version for stage in stages for use in StageInput.objects.filter(stage=stage)
              if use.version is not None}
    assert pinned == {first}
    for stage in stages:
        assert all(prompt.startswith("old:") for prompt in _read_by_stage(stage))
    run.refresh_from_db()
    assert run.config["dataset"] == "maths v1"
    # A run launched now gets the newer version, and says so.
    later = launch("r1-zero", {"model": "base", "dataset": "maths"})
    assert later.config["dataset"] == "maths v2"


def test_a_dataset_ref_with_a_version_pins_that_version(model_dir):
    first = dataset_version_create(name="maths", records=_prompts("old"), source="test")
    dataset_version_create(name="maths", records=_prompts("new"), source="test")
    run = launch("r1-zero", {"model": "base", "dataset": "maths@1"})
    versions = set(StageInput.objects.filter(stage__run=run).values_list("version", flat=True))
    assert versions == {first.pk}
