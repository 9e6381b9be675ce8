"""What a launch gives a stage that trains as several processes."""

from __future__ import annotations

import json

import pytest

from r1web.runs.models import StageKind
from r1web.runs.recipes import launch
from r1web.runs.services import RunError


@pytest.fixture(autouse=True)
def tiny_base(tmp_path, settings):
    settings.TINY_BASE_DIR = tmp_path / "tiny-base"
    settings.TINY_BASE_DIR.mkdir()
    (settings.TINY_BASE_DIR / "config.json").write_text(json.dumps({"model_type": "qwen2"}))


@pytest.mark.django_db
def test_a_launch_gives_every_training_stage_its_process_settings(alice):
    run = launch("r1-zero", {"num_processes": 2, "accelerate_config": "multi_gpu"}, user=alice)
    grpo = run.stages.get(kind=StageKind.GRPO)
    assert grpo.params["num_processes"] == 2
    assert grpo.params["accelerate_config"] == "multi_gpu"
    evaluation = run.stages.filter(kind=StageKind.EVAL).first()
    assert "num_processes" not in evaluation.params  # evaluation stays one process


@pytest.mark.django_db
@pytest.mark.parametrize("values", [{"num_processes": 0}, {"num_processes": 1000},
                                    {"accelerate_config": "/etc/accelerate.yaml"}])
def test_a_launch_refuses_impossible_process_settings(alice, values):
    with pytest.raises(RunError):
        launch("r1-zero", values, user=alice)
