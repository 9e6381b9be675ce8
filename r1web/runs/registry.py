"""What stage kinds exist: one entry each, with its TRL config class, what it produces,
its parameter checks and the worker function that runs it.

Adding a stage kind touches this file (and its runner in ``workers``). The web process
imports it, so it names runners by dotted path and never imports torch code; only a
worker resolves ``runner``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from r1domain.base import ConfigError
from r1domain.formats import FORMATS
from r1domain.probes import check_probe_params
from r1domain.rewards import REWARD_FUNCS
from r1domain.trl_fields import check_trl_config
from r1web.runs.models import StageKind

ParamCheck = Callable[[dict], None]


@dataclass(frozen=True)
class StageKindSpec:
    kind: str
    runner: str  # "module:function", resolved in the worker only
    trl_config: str | None = None  # the TRL config class its trl_config fields belong to
    produces_model: bool = False
    produces_dataset: bool = False
    check: ParamCheck | None = None

    def label(self) -> str:
        return StageKind(self.kind).label

    def check_config(self, trl_config: dict, params: dict) -> dict:
        """The user's TRL fields, normalised; raises ConfigError on anything refused."""
        if self.trl_config is None:
            if trl_config:
                raise ConfigError(f"a {self.label()} stage takes no TRL config")
            checked = {}
        else:
            checked = check_trl_config(trl_config, self.trl_config)
        if self.check is not None:
            self.check(params)
        return checked

    def load_runner(self) -> Callable:
        module, _, name = self.runner.partition(":")
        return getattr(importlib.import_module(module), name)


def _check_format(params: dict) -> None:
    name = params.get("completion_format", FORMATS[0])
    if name not in FORMATS:
        raise ConfigError(f"unknown completion format {name!r} (known: {', '.join(FORMATS)})")


def _check_grpo(params: dict) -> None:
    _check_format(params)
    check_probe_params(params)
    names = params.get("reward_funcs", [])
    unknown = [name for name in names if name not in REWARD_FUNCS]
    if unknown:
        known = ", ".join(sorted(REWARD_FUNCS))
        raise ConfigError(f"unknown reward function(s): {', '.join(unknown)} (known: {known})")
    if not names and not params.get("reward_models"):
        raise ConfigError("GRPO needs at least one reward function or reward model")
    from r1web.runs.reward_models import check_reward_models

    check_reward_models(params.get("reward_models"), names)


def _check_rejection(params: dict) -> None:
    from r1domain.rejection import check_params
    from r1web.runs.models import Checkpoint

    _check_format(params)
    check_params(params)
    judge = params.get("judge")
    if judge is not None and not Checkpoint.objects.filter(pk=judge).exists():
        raise ConfigError(f"judge model {judge} does not exist")


def _check_mix(params: dict) -> None:
    shares = params.get("proportions") or []
    if not shares or any(not isinstance(s, (int, float)) or s <= 0 for s in shares):
        raise ConfigError("a mix needs a positive proportion for every source")
    if abs(sum(shares) - 1.0) > 1e-6:
        raise ConfigError(f"mix proportions must sum to 1, not {sum(shares):g}")


STAGE_KINDS: dict[str, StageKindSpec] = {
    spec.kind: spec
    for spec in (
        StageKindSpec(
            StageKind.GRPO, "workers.runner:run_grpo_stage", "GRPOConfig",
            produces_model=True, check=_check_grpo,
        ),
        StageKindSpec(
            StageKind.SFT, "workers.runner:run_sft_stage", "SFTConfig",
            produces_model=True, check=_check_format,
        ),
        StageKindSpec(StageKind.EVAL, "workers.runner:run_eval_stage", check=_check_format),
        StageKindSpec(StageKind.GENERATE, "workers.runner:run_generate_stage"),
        StageKindSpec(
            StageKind.REJECTION_SAMPLING, "workers.runners.rejection:run_rejection_stage",
            produces_dataset=True, check=_check_rejection,
        ),
        StageKindSpec(StageKind.MIX, "workers.runners.mix:run_mix_stage", produces_dataset=True,
                      check=_check_mix),
        StageKindSpec(
            StageKind.REWARD_MODEL, "workers.runners.reward_model:run_reward_model_stage",
            "RewardConfig",
            produces_model=True,
        ),
        StageKindSpec(StageKind.ADD_COT, "workers.runners.cot:run_cot_stage",
                      produces_dataset=True, check=_check_format),
        StageKindSpec(StageKind.BUILD_BASE, "workers.runners.build_base:run_build_base_stage",
                      produces_model=True),
    )
}


def stage_kind(kind: str) -> StageKindSpec:
    try:
        return STAGE_KINDS[kind]
    except KeyError:
        raise ConfigError(f"unknown stage kind {kind!r}") from None
