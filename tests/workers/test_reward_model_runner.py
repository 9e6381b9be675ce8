"""The database side of reward models: the reward-model stage's runner, and how a GRPO
stage resolves and weighs the reward models it names."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

from r1domain.base import ConfigError
from r1domain.stage_params import RewardModelRef
from r1web.datasets.services import preference_dataset_ensure
from r1web.runs.models import (
    Checkpoint,
    MetricPoint,
    Recipe,
    Run,
    Stage,
    StageInput,
    StageKind,
)
from r1web.runs.panels import stage_panel
from workers.runners.reward_model import (
    grpo_reward_weights,
    reward_model_checkpoint,
    run_reward_model_stage,
)

pytestmark = pytest.mark.django_db


def _stage(run: Run, key: str, kind: str = StageKind.GRPO, **fields) -> Stage:
    return Stage.objects.create(run=run, position=run.stages.count(), key=key, name=key,
                                kind=kind, **fields)


@pytest.fixture
def run() -> Run:
    return Run.objects.create(name="r1", recipe=Recipe.R1, status="running")


@pytest.mark.slow
def test_a_reward_model_stage_trains_on_its_pairs_and_records_a_reward_model(
    run, micro_base, settings, tmp_path
):
    settings.RUNS_DIR = tmp_path
    base = Checkpoint.objects.create(name="micro", path=micro_base)
    stage = _stage(run, "reward-model", StageKind.REWARD_MODEL, status="running",
                   input_checkpoint=base,
                   trl_config={"max_steps": 4, "eval_steps": 2, "per_device_train_batch_size": 8})
    StageInput.objects.create(stage=stage, role=StageInput.Role.PREFERENCES,
                              version=preference_dataset_ensure())

    result = run_reward_model_stage(stage, stage.parameters())

    stage.refresh_from_db()
    assert stage.output_checkpoint.role == Checkpoint.Role.REWARD_MODEL
    assert result["steps"] == 4 and result["pairs"] == 240
    steps = MetricPoint.objects.filter(stage=stage, key="eval_accuracy").values_list("step",
                                                                                    flat=True)
    assert sorted(steps) == [2, 4]
    stage.result = result
    html = render_to_string("runs/panels/reward_model.html", stage_panel(stage))
    assert 'id="reward-model-figure"' in html and "data-figure" in html
    assert f"{result['eval_accuracy']:.3f}" in html


def test_a_reward_model_is_found_by_stage_key_or_checkpoint_id(run):
    rm = Checkpoint.objects.create(name="rm", path="/m/rm", role=Checkpoint.Role.REWARD_MODEL)
    _stage(run, "reward-model", StageKind.REWARD_MODEL, output_checkpoint=rm)
    grpo = _stage(run, "rl-preference")
    assert reward_model_checkpoint(grpo, "reward-model") == rm
    assert reward_model_checkpoint(grpo, rm.pk) == rm


def test_a_missing_or_unfinished_or_policy_reward_model_stops_the_stage(run):
    policy = Checkpoint.objects.create(name="p", path="/m/p")
    _stage(run, "not-yet", StageKind.REWARD_MODEL)
    grpo = _stage(run, "rl-preference")
    for ref, message in [("nope", "no stage 'nope'"), ("not-yet", "made no model"),
                         (12345, "reward model 12345 does not exist"),
                         (policy.pk, "is not a reward model")]:
        with pytest.raises(ConfigError, match=message):
            reward_model_checkpoint(grpo, ref)


def test_rules_weigh_one_each_unless_given_and_reward_models_their_weight():
    models = [RewardModelRef(model="rm", weight=0.5), RewardModelRef(model="rm", weight=0.25)]
    rules = ["accuracy", "format"]
    assert grpo_reward_weights(rules, None, models) == [1.0, 1.0, 0.5, 0.25]
    assert grpo_reward_weights(rules, [2, 3], models) == [2.0, 3.0, 0.5, 0.25]
    assert grpo_reward_weights(rules, {"format": 0.1}, models) == [1.0, 0.1, 0.5, 0.25]
    # Without reward models the rules' weights pass through as the stage gave them.
    assert grpo_reward_weights(rules, None, []) is None
    with pytest.raises(ConfigError, match="one weight per reward function"):
        grpo_reward_weights(rules, [1.0], models)
