"""Single-stage recipes for the steps people run on their own: rejection-sample any
checkpoint into a cold-start dataset, or train a reward model on preference pairs."""

from __future__ import annotations

from r1domain.formats import FORMATS, R1_ZERO
from r1domain.stage_params import RewardModelParams, validate
from r1web.datasets.models import Dataset
from r1web.runs.models import Recipe, StageInput
from r1web.runs.recipes import stages
from r1web.runs.recipes.base import (
    DataSpec,
    Param,
    RecipeSpec,
    StageSpec,
    dataset_kind_check,
    default_base,
    prompts_dataset,
)
from r1web.runs.services import RunError


def _build_rejection(values: dict) -> list[StageSpec]:
    if values["model"] is None:
        raise RunError("rejection sampling needs a model: a checkpoint number or a folder")
    return [stages.rejection_sampling(
        "rejection-sampling", "rejection sampling", values["model"],
        prompts_dataset(values["dataset"]), values,
        completion_format=values["completion_format"], target=values["target"],
    )]


REJECTION_SAMPLING = RecipeSpec(
    name=Recipe.REJECTION_SAMPLING,
    label="Rejection sampling from any checkpoint",
    description="N samples per prompt, judged by the rule rewards (or a generative judge "
    "where a prompt has no reference answer) and the readability filters; the kept ones "
    "become a cold-start dataset version, every rejected one stays browsable with its "
    "reason.",
    params=(
        Param("name", "str", "Run name"),
        Param("model", "model", "Model", "a checkpoint number or a folder under the models "
              "directory"),
        Param("completion_format", "choice", "The model answers in", default=R1_ZERO,
              choices=FORMATS),
        Param("dataset", "dataset", "Prompts", "blank = the demo's synthetic tasks"),
        Param("samples_per_prompt", "int", "Samples per prompt (N)", default=4, low=1, high=64),
        Param("keep_per_prompt", "int", "Kept per prompt (M)", default=1, low=1, high=64),
        Param("rs_prompts", "int", "Prompts", default=400, low=1, high=1_000_000),
        Param("pass_rate_min", "float", "Keep prompts with pass rate above", low=0.0, high=1.0),
        Param("pass_rate_max", "float", "... and below", low=0.0, high=1.0),
        Param("judge", "model", "Generative judge", "blank = rules only"),
        Param("target", "str", "Output dataset name", "blank = run-<run>-rejection-sampling"),
    ),
    build=_build_rejection,
    run_name=lambda values: f"rejection sampling {values['model'].name if values['model'] else ''}",
)


def _build_reward_model(values: dict) -> list[StageSpec]:
    if values["preferences"] is None:
        raise RunError("a reward model needs a preference dataset (prompt, chosen, rejected)")
    pairs = dataset_kind_check(values["preferences"], Dataset.Kind.PREFERENCE, "a reward model")
    config = {"max_steps": 60, "learning_rate": 1e-3, **(values["reward_config"] or {})}
    params = validate(RewardModelParams, {"completion_format": values["completion_format"]})
    return [StageSpec("reward-model", "reward model", params, values["model"] or default_base(),
                      [DataSpec(StageInput.Role.PREFERENCES, pairs)], config)]


REWARD_MODEL = RecipeSpec(
    name=Recipe.REWARD_MODEL,
    label="Reward model on preference pairs",
    description="Train a reward model with TRL's RewardTrainer on prompt / chosen / rejected "
    "pairs; its held-out accuracy and margin are charted. Use it in the r1 recipe's "
    "preference RL stage.",
    params=(
        Param("name", "str", "Run name"),
        Param("preferences", "dataset", "Preference pairs", "a preference dataset"),
        Param("model", "model", "Start from", "blank = the demo tiny base"),
        Param("completion_format", "choice", "Responses are in", default="cold-start",
              choices=FORMATS),
        Param("reward_config", "config", "TRL RewardConfig", default={},
              config_class="RewardConfig"),
    ),
    build=_build_reward_model,
    run_name=lambda values: f"reward model on {values['preferences']}",
)
