"""Cold-start SFT: SFT a model on one frozen cold-start dataset version."""

from __future__ import annotations

from r1web.datasets.models import Dataset
from r1web.runs.models import Recipe, StageInput
from r1web.runs.recipes import stages
from r1web.runs.recipes.base import DataSpec, Param, RecipeSpec, default_base
from r1web.runs.services import RunError

SFT_CONFIG = Param("sft_config", "config", "TRL SFTConfig", "SFTConfig fields by TRL name",
                   default={}, config_class="SFTConfig")


def sft_dataset(version):
    if version is None:
        raise RunError("cold-start SFT needs a dataset (an SFT dataset, e.g. a frozen queue)")
    trainable = version.examples.exclude(completion="").exists()
    if version.dataset.kind != Dataset.Kind.SFT or not trainable:
        raise RunError(f"{version} has no completions to train on; SFT needs an SFT dataset")
    return version


def build(values: dict) -> list[stages.StageSpec]:
    base = values["model"] or default_base()
    version = sft_dataset(values["dataset"])
    node = stages.sft("sft", "cold-start SFT", base, DataSpec(StageInput.Role.TRAIN, version),
                      {**values, "sft_config": {"max_steps": 20, **values["sft_config"]}},
                      special_token=version.dataset.special_token,
                      samples_per_eval=values["samples_per_eval"])
    if values["max_steps"]:
        node.trl_config["max_steps"] = values["max_steps"]
    return [node]


def run_name(values: dict) -> str:
    base = values["model"].name if values["model"] else "tiny-base"
    return f"cold-start SFT {base} on {values['dataset']}"


RECIPE = RecipeSpec(
    name=Recipe.COLD_START_SFT,
    label="Cold-start SFT on a curated dataset",
    description="SFT a base model on a frozen |special_token| dataset version.",
    params=(
        Param("name", "str", "Run name"),
        Param("dataset", "dataset", "Cold-start dataset", "name or name@version"),
        Param("model", "model", "Base model", "blank = the demo tiny base"),
        Param("max_steps", "int", "SFT max_steps", low=1, high=1_000_000),
        Param("samples_per_eval", "int", "Generations sampled per evaluation", default=4,
              low=0, high=64),
        *stages.PROCESS_PARAMS,
        SFT_CONFIG,
    ),
    build=build,
    run_name=run_name,
)
