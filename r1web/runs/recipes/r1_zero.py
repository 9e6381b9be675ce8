"""R1-Zero: GRPO with rule rewards straight from the base model, evaluated before and after."""

from __future__ import annotations

from r1domain.demo import DEMO_REWARD_FUNCS
from r1web.runs.models import Recipe
from r1web.runs.recipes import stages
from r1web.runs.recipes.base import Param, RecipeSpec, default_base, prompts_dataset

COMMON_PARAMS = (
    Param("name", "str", "Run name", "blank = made from the model and dataset"),
    Param("model", "model", "Base model", "a registered checkpoint or a folder under the "
          "models directory; blank = the demo tiny base"),
    Param("dataset", "dataset", "Prompts", "a prompts dataset (name or name@version) with "
          "train and test splits; blank = the demo's synthetic tasks"),
    Param("max_steps", "int", "GRPO max_steps", low=1, high=1_000_000),
    Param("eval_k", "int", "Samples per eval problem (k)", low=1, high=64),
    Param("eval_limit", "int", "Eval problems", low=1, high=100_000),
)
GRPO_CONFIG = Param("grpo_config", "config", "TRL GRPOConfig", "GRPOConfig fields by TRL name",
                    default={}, config_class="GRPOConfig")


def reward_names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def build(values: dict) -> list[stages.StageSpec]:
    base = values["model"] or default_base()
    prompts = prompts_dataset(values["dataset"])
    rewards = reward_names(values["reward_funcs"])
    return [
        stages.evaluate("eval-base", "evaluate base", base, prompts, values, "before"),
        stages.grpo("grpo", "GRPO", base, prompts, values, reward_funcs=rewards),
        stages.evaluate("eval-grpo", "evaluate trained", "grpo", prompts, values, "after"),
    ]


def run_name(values: dict) -> str:
    base = values["model"].name if values["model"] else "tiny-base"
    prompts = values["dataset"] or "synthetic"
    return f"r1-zero {base} on {prompts}"


RECIPE = RecipeSpec(
    name=Recipe.R1_ZERO,
    label="R1-Zero: GRPO with rule rewards from the base model",
    description="Evaluate the base, train it with GRPO on accuracy and format rewards, "
    "evaluate the result (pass@1, maj@k, length, reflection).",
    params=(
        *COMMON_PARAMS,
        Param("reward_funcs", "str", "Reward functions", "comma-separated",
              default=",".join(DEMO_REWARD_FUNCS)),
        *stages.PROBE_PARAMS,
        *stages.PROCESS_PARAMS,
        GRPO_CONFIG,
    ),
    build=build,
    run_name=run_name,
)
