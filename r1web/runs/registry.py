"""What stage kinds exist: one entry each, with its parameter type, its TRL config class,
what it produces and the checks its parameters need from the database.

Adding a stage kind touches this file, its parameter type (``r1domain.stage_params``) and
its runner (``workers.runner.RUNNERS``). The web process imports this module and never a runner:
the worker keeps its own kind -> runner table and checks it against this one when it
starts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from r1domain.base import ConfigError
from r1domain.stage_params import (
    AddCotParams,
    BuildBaseParams,
    EvalParams,
    GenerateParams,
    GRPOParams,
    MixParams,
    RejectionParams,
    RewardModelParams,
    SFTParams,
    StageParams,
)
from r1domain.trl_fields import check_trl_config
from r1web.runs.models import Checkpoint, StageKind
from r1web.runs.reward_models import check_reward_models


@dataclass(frozen=True)
class StageKindSpec:
    kind: str
    params: type[StageParams]
    trl_config: str | None = None  # the TRL config class its trl_config fields belong to
    produces_model: bool = False
    produces_dataset: bool = False
    # What the parameter type cannot know alone: that a checkpoint it names exists...
    check: Callable[[StageParams], None] | None = None

    def label(self) -> str:
        return StageKind(self.kind).label

    def check_config(self, trl_config: dict, params: StageParams) -> dict:
        """The user's TRL fields, normalised, once ``params`` are of this kind and hold
        up against the database; raises ConfigError on anything refused."""
        if type(params) is not self.params:
            raise ConfigError(f"a {self.label()} stage takes {self.params.__name__}, "
                              f"not {type(params).__name__}")
        if self.trl_config is None:
            if trl_config:
                raise ConfigError(f"a {self.label()} stage takes no TRL config")
            checked = {}
        else:
            checked = check_trl_config(trl_config, self.trl_config)
        if self.check is not None:
            self.check(params)
        return checked


def _check_grpo(params: StageParams) -> None:
    assert isinstance(params, GRPOParams)
    check_reward_models(params.reward_models)


def _check_rejection(params: StageParams) -> None:
    assert isinstance(params, RejectionParams)
    if params.judge is not None and not Checkpoint.objects.filter(pk=params.judge).exists():
        raise ConfigError(f"judge model {params.judge} does not exist")


STAGE_KINDS: dict[str, StageKindSpec] = {
    spec.kind: spec
    for spec in (
        StageKindSpec(StageKind.GRPO, GRPOParams, "GRPOConfig", produces_model=True,
                      check=_check_grpo),
        StageKindSpec(StageKind.SFT, SFTParams, "SFTConfig", produces_model=True),
        StageKindSpec(StageKind.EVAL, EvalParams),
        StageKindSpec(StageKind.GENERATE, GenerateParams),
        StageKindSpec(StageKind.REJECTION_SAMPLING, RejectionParams, produces_dataset=True,
                      check=_check_rejection),
        StageKindSpec(StageKind.MIX, MixParams, produces_dataset=True),
        StageKindSpec(StageKind.REWARD_MODEL, RewardModelParams, "RewardConfig",
                      produces_model=True),
        StageKindSpec(StageKind.ADD_COT, AddCotParams, produces_dataset=True),
        StageKindSpec(StageKind.BUILD_BASE, BuildBaseParams, produces_model=True),
    )
}


def stage_kind(kind: str) -> StageKindSpec:
    try:
        return STAGE_KINDS[kind]
    except KeyError:
        raise ConfigError(f"unknown stage kind {kind!r}") from None
