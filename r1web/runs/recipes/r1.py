"""R1: cold start, reasoning RL, rejection sampling, mixing, SFT from the base, two-stage RL.

The DeepSeek-R1 report's pipeline (R1_PIPELINE.md, part 2) as one stage graph. With demo
defaults every dataset it needs is made on the spot: the cold-start set by rejection
sampling the base model's R1-Zero answers into the readable ``|special_token|`` form,
the non-reasoning set and the preference set from seeded synthetic generators.
"""

from __future__ import annotations

from r1domain.formats import COLD_START
from r1domain.stage_params import AddCotParams, MixParams, RewardModelParams, validate
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
from r1web.runs.recipes.cold_start import SFT_CONFIG
from r1web.runs.recipes.r1_zero import COMMON_PARAMS, GRPO_CONFIG
from r1web.runs.services import RunError

RULES = ["accuracy", "format", "language_consistency"]
RM_DEMO_CONFIG = {"max_steps": 60, "learning_rate": 1e-3, "per_device_train_batch_size": 16}
# A neural reward invites reward hacking (the R1 report's reason to avoid one in
# reasoning RL): the preference stage moves slowly and stays near its start (KL).
PREFERENCE_RL_CONFIG = {"learning_rate": 1e-4, "beta": 0.04}
TRAIN = StageInput.Role.TRAIN


def _general(values: dict):
    from r1web.datasets.services import non_reasoning_dataset_ensure

    version = values["non_reasoning"] or non_reasoning_dataset_ensure()
    return dataset_kind_check(version, Dataset.Kind.SFT, "non-reasoning data")


def _preferences(values: dict):
    from r1web.datasets.services import preference_dataset_ensure

    version = values["preferences"] or preference_dataset_ensure()
    return dataset_kind_check(version, Dataset.Kind.PREFERENCE, "a reward model")


def _general_data(values: dict) -> tuple[list[StageSpec], DataSpec]:
    """The non-reasoning set, as it is or with a chain of thought the reasoning-RL model
    writes before each human response (R1 prompted DeepSeek-V3 for these)."""
    share = round(1 - values["reasoning_share"], 6)
    general = _general(values)
    if not values["non_reasoning_cot"]:
        return [], DataSpec(TRAIN, general, weight=share)
    node = StageSpec("non-reasoning-cot", "add a CoT to non-reasoning data",
                     validate(AddCotParams, {"completion_format": COLD_START}),
                     "reasoning-rl", [DataSpec(TRAIN, general)])
    return [node], DataSpec(TRAIN, from_stage=node.key, weight=share)


def _cold_start(base, prompts, values: dict) -> tuple[list[StageSpec], DataSpec]:
    """The user's curated cold-start set, or one rejection-sampled from the base."""
    if values["cold_start"] is not None:
        version = dataset_kind_check(values["cold_start"], Dataset.Kind.SFT, "cold-start SFT")
        return [], DataSpec(TRAIN, version)
    node = stages.rejection_sampling(
        "cold-start-data", "cold-start data (rejection-sampled from the base)", base, prompts,
        {**values, "keep_per_prompt": 1},
    )
    return [node], DataSpec(TRAIN, from_stage=node.key)


def _reward_model(values: dict) -> tuple[list[StageSpec], str | object]:
    if values["reward_model"] is not None:
        return [], values["reward_model"]
    node = StageSpec(
        "reward-model", "reward model (helpfulness and harmlessness)", RewardModelParams(),
        values["model"] or default_base(),
        [DataSpec(StageInput.Role.PREFERENCES, _preferences(values))],
        {**RM_DEMO_CONFIG, **(values["reward_config"] or {})},
    )
    return [node], node.key


def _reward_models(source) -> list[dict]:
    """R1's second RL stage: helpfulness judged on the summary, harmlessness on the whole."""
    ref = source if isinstance(source, str) else source.pk
    return [
        {"model": ref, "scope": "summary", "weight": 0.5, "name": "helpfulness"},
        {"model": ref, "scope": "response", "weight": 0.5, "name": "harmlessness"},
    ]


def build(values: dict) -> list[StageSpec]:
    if abs(values["reasoning_share"] - 1.0) < 1e-9 or values["reasoning_share"] <= 0:
        raise RunError("reasoning_share must be between 0 and 1 (R1 used about 0.75)")
    base = values["model"] or default_base()
    prompts = prompts_dataset(values["dataset"])
    steps = values["max_steps"]
    cold_nodes, cold_data = _cold_start(base, prompts, values)
    rm_nodes, rm_source = _reward_model(values)
    cot_nodes, general_data = _general_data(values)
    cold = COLD_START
    share = values["reasoning_share"]
    return [
        stages.evaluate("eval-base", "evaluate base", base, prompts, values, "base"),
        *cold_nodes,
        stages.sft("cold-start-sft", "cold-start SFT", base, cold_data, values),
        stages.evaluate("eval-cold-start", "evaluate cold start", "cold-start-sft", prompts,
                        values, "cold_start", cold),
        stages.grpo("reasoning-rl", "reasoning RL (accuracy, format, language)", "cold-start-sft",
                    prompts, values, reward_funcs=RULES, completion_format=cold,
                    max_steps=steps or 100),
        stages.evaluate("eval-reasoning-rl", "evaluate reasoning RL", "reasoning-rl", prompts,
                        values, "reasoning_rl", cold),
        stages.rejection_sampling("rejection-sampling", "rejection sampling", "reasoning-rl",
                                  prompts, values, completion_format=cold),
        *cot_nodes,
        StageSpec("mix", "mix reasoning and non-reasoning data",
                  validate(MixParams, {"proportions": [share, round(1 - share, 6)], "seed": 0}),
                  None, [DataSpec(TRAIN, from_stage="rejection-sampling", weight=share),
                         general_data]),
        stages.sft("sft", "SFT from the base on the mix", base, DataSpec(TRAIN, from_stage="mix"),
                   values),
        stages.evaluate("eval-sft", "evaluate SFT", "sft", prompts, values, "sft", cold),
        *rm_nodes,
        stages.grpo("rl-reasoning", "RL stage 1: reasoning (rules)", "sft", prompts, values,
                    reward_funcs=RULES, completion_format=cold, max_steps=steps or 60),
        stages.grpo("rl-preference", "RL stage 2: rules + preference reward models",
                    "rl-reasoning", prompts, {**values, "grpo_config": {
                        **PREFERENCE_RL_CONFIG, **(values["grpo_config"] or {})}},
                    reward_funcs=RULES, completion_format=cold, max_steps=steps or 40,
                    reward_models=_reward_models(rm_source),
                    needs=tuple(node.key for node in rm_nodes)),
        stages.evaluate("eval-final", "evaluate final", "rl-preference", prompts, values,
                        "final", cold),
    ]


def run_name(values: dict) -> str:
    base = values["model"].name if values["model"] else "tiny-base"
    return f"r1 {base} on {values['dataset'] or 'synthetic'}"


RECIPE = RecipeSpec(
    name=Recipe.R1,
    label="R1: cold start, reasoning RL, rejection sampling, SFT, two-stage RL",
    description="DeepSeek-R1's pipeline: cold-start SFT, GRPO with a language-consistency "
    "reward, rejection sampling, a mix with non-reasoning data, SFT from the base, then "
    "RL on rules and preference reward models; evaluated after every model.",
    params=(
        *COMMON_PARAMS,
        Param("cold_start", "dataset", "Cold-start dataset", "an SFT dataset in the "
              "|special_token| format; blank = rejection-sample the base"),
        Param("non_reasoning", "dataset", "Non-reasoning data", "an SFT dataset; blank = "
              "the demo's synthetic general set"),
        Param("preferences", "dataset", "Preference pairs", "prompt, chosen, rejected; blank "
              "= the demo's synthetic set"),
        Param("non_reasoning_cot", "bool", "Add a CoT to the non-reasoning data",
              "the reasoning-RL model writes a chain of thought before each response"),
        Param("reward_model", "reward_model", "Reward model", "a reward-model checkpoint; "
              "blank = train one on the preference pairs"),
        Param("judge", "model", "Generative judge", "a checkpoint that judges answers rules "
              "cannot check; blank = rules only"),
        Param("reasoning_share", "float", "Reasoning share of the mix", default=0.75,
              low=0.0, high=1.0),
        Param("samples_per_prompt", "int", "Rejection sampling: samples per prompt", default=4,
              low=1, high=64),
        Param("keep_per_prompt", "int", "Rejection sampling: kept per prompt", default=2,
              low=1, high=64),
        Param("rs_prompts", "int", "Rejection sampling: prompts", default=400, low=1,
              high=1_000_000),
        Param("pass_rate_min", "float", "Keep prompts with pass rate above", low=0.0, high=1.0),
        Param("pass_rate_max", "float", "... and below", low=0.0, high=1.0),
        *stages.PROBE_PARAMS,
        *stages.PROCESS_PARAMS,
        GRPO_CONFIG,
        SFT_CONFIG,
        Param("reward_config", "config", "TRL RewardConfig", "RewardConfig fields of the "
              "reward-model stage", default={}, config_class="RewardConfig"),
    ),
    build=build,
    run_name=run_name,
)
