"""Bad input to a recipe gets a clear error before any work starts, and writes nothing."""

from __future__ import annotations

import json

import pytest

from r1web.datasets.models import Dataset
from r1web.runs.models import Run, Stage
from r1web.runs.recipes import R1ZeroArgs, r1_zero_create
from r1web.runs.services import RunError
from workers.stages.base import ConfigError

pytestmark = pytest.mark.django_db


@pytest.fixture
def model_dir(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    return tmp_path


def nothing_written() -> bool:
    return not Run.objects.exists() and not Stage.objects.exists()


def test_a_model_path_that_does_not_exist_is_refused(tmp_path):
    with pytest.raises(RunError, match="no config.json"):
        r1_zero_create(args=R1ZeroArgs(model=str(tmp_path / "nope")))
    assert nothing_written()


def test_an_unknown_trl_field_is_refused_by_name(model_dir):
    with pytest.raises(ConfigError, match="learning_rat"):
        r1_zero_create(args=R1ZeroArgs(model=str(model_dir), trl_config={"learning_rat": 1e-5}))
    assert nothing_written()


def test_an_unknown_dataset_is_refused(model_dir):
    with pytest.raises(RunError, match="no dataset named"):
        r1_zero_create(args=R1ZeroArgs(model=str(model_dir), dataset="missing"))
    assert nothing_written()
    assert not Dataset.objects.exists()


def test_an_unknown_reward_function_is_refused(model_dir):
    with pytest.raises(Exception, match="helpfulness"):
        r1_zero_create(args=R1ZeroArgs(model=str(model_dir), reward_funcs=["helpfulness"]))
    assert nothing_written()


def test_a_valid_request_creates_three_stages_and_queues_the_first(model_dir):
    run = r1_zero_create(args=R1ZeroArgs(model=str(model_dir), max_steps=7,
                                         trl_config={"learning_rate": 2e-5}))
    stages = list(run.stages.order_by("position"))
    assert [s.kind for s in stages] == ["eval", "grpo", "eval"]
    assert [s.status for s in stages] == ["queued", "pending", "pending"]
    assert stages[1].trl_config["max_steps"] == 7
    assert stages[1].trl_config["learning_rate"] == 2e-5
    assert stages[2].input_from == stages[1]
    run.refresh_from_db()
    assert run.status == "queued"
