"""A GRPO stage's reward models are checked when it is launched: an unknown or wrong
checkpoint, scope, weight or name is refused before anything is stored."""

from __future__ import annotations

import pytest

from r1domain.base import ConfigError
from r1domain.stage_params import GRPOParams, validate
from r1web.runs.models import Checkpoint
from r1web.runs.registry import stage_kind

pytestmark = pytest.mark.django_db


def _check(reward_models: list, rules=("accuracy", "format")) -> None:
    params = validate(GRPOParams, {"reward_funcs": list(rules), "reward_models": reward_models})
    stage_kind("grpo").check_config({}, params)


def _rm(**fields) -> dict:
    return {"model": "reward-model", "scope": "summary", "weight": 0.5, "name": "helpful",
            **fields}


def test_an_unknown_reward_model_checkpoint_is_refused():
    with pytest.raises(ConfigError, match="reward model 999 does not exist"):
        _check([_rm(model=999)])


def test_a_policy_checkpoint_is_not_accepted_as_a_reward_model():
    policy = Checkpoint.objects.create(name="p", path="/m/p", role=Checkpoint.Role.POLICY)
    with pytest.raises(ConfigError, match="is not a reward model"):
        _check([_rm(model=policy.pk)])


def test_a_reward_model_checkpoint_or_a_stage_key_is_accepted():
    rm = Checkpoint.objects.create(name="rm", path="/m/rm", role=Checkpoint.Role.REWARD_MODEL)
    _check([_rm(model=rm.pk), _rm(name="harmless", scope="response")])
    # Reward models alone, without rule functions, are a valid GRPO stage too.
    _check([_rm(model=rm.pk)], rules=())


@pytest.mark.parametrize("entry, message", [
    (_rm(scope="reasoning"), "reward_models.0.scope: Input should be 'summary' or 'response'"),
    (_rm(weight=float("nan")), "reward_models.0.weight: Input should be a finite number"),
    (_rm(weight="1"), "reward_models.0.weight: Input should be a valid number"),
    (_rm(model=True), "reward_models.0.model"),
    (_rm(model=""), "reward_models.0.model: a reward model is a stage key or a checkpoint id"),
    (_rm(name="accuracy"), "already used"),
    (_rm(name="a b"), "reward_models.0.name: String should match pattern"),
])
def test_a_bad_reward_model_entry_is_refused_with_the_reason(entry, message):
    with pytest.raises(ConfigError, match=message):
        _check([entry])


def test_two_reward_models_may_not_share_a_name():
    with pytest.raises(ConfigError, match="'helpful' is already used"):
        _check([_rm(), _rm(scope="response")])
