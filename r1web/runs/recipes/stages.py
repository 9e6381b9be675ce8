"""Stage nodes that several recipes share, with the demo's defaults."""

from __future__ import annotations

from r1domain.coldstart import DEFAULT_TOKEN
from r1domain.demo import DEMO_EVAL, DEMO_GRPO_CONFIG
from r1domain.formats import COLD_START, R1_ZERO
from r1domain.probes import DEFAULT_EVERY, DEFAULT_PROMPTS, MAX_PROMPTS
from r1domain.processes import MAX_PROCESSES, accelerate_configs
from r1domain.stage_params import EvalParams, GRPOParams, RejectionParams, SFTParams, validate
from r1web.runs.models import Checkpoint, StageInput
from r1web.runs.recipes.base import DataSpec, Param, StageSpec

Model = Checkpoint | str

# Every recipe with GRPO stages asks for these; each GRPO stage of the run takes them.
PROBE_PARAMS = (
    Param("probe_every", "int", "Probe every N GRPO steps",
          "the policy answers a fixed set of held-out prompts greedily before training, "
          "every N steps and after the last, to follow them through training; 0 = off",
          default=DEFAULT_EVERY, low=0, high=1_000_000),
    Param("probe_prompts", "int", "Probe prompts",
          "how many held-out (test split) prompts make the probe set",
          default=DEFAULT_PROMPTS, low=0, high=MAX_PROMPTS),
)

# Every recipe with training stages asks for these; each GRPO and SFT stage takes them.
PROCESS_PARAMS = (
    Param("num_processes", "int", "Processes per training stage",
          "each GRPO and SFT stage trains data-parallel as this many processes under "
          "accelerate launch (on a GPU worker, one per GPU)",
          default=1, low=1, high=MAX_PROCESSES),
    Param("accelerate_config", "choice", "accelerate config",
          "a named accelerate or DeepSpeed config; blank = torchrun on the worker's machine",
          default="", choices=("", *accelerate_configs())),
)


def process_params(values: dict) -> dict:
    """A training stage's process settings: one process unless the recipe says more."""
    params = {"num_processes": values.get("num_processes") or 1}
    if values.get("accelerate_config"):
        params["accelerate_config"] = values["accelerate_config"]
    return params


def eval_params(values: dict, completion_format: str = R1_ZERO, label: str = "") -> EvalParams:
    """The demo's evaluation settings (``problems`` becomes ``limit``), as overridden."""
    return validate(EvalParams, {
        "k": values.get("eval_k") or DEMO_EVAL["k"],
        "limit": values.get("eval_limit") or DEMO_EVAL["problems"],
        "max_new_tokens": DEMO_EVAL["max_new_tokens"],
        "temperature": DEMO_EVAL["temperature"],
        "completion_format": completion_format,
        "label": label,
    })


def evaluate(key: str, name: str, model: Model, prompts, values: dict, label: str,
             completion_format: str = R1_ZERO) -> StageSpec:
    return StageSpec(key, name, eval_params(values, completion_format, label), model,
                     [DataSpec(StageInput.Role.EVAL, prompts)])


def grpo(key: str, name: str, model: Model, prompts, values: dict, *, reward_funcs: list[str],
         completion_format: str = R1_ZERO, max_steps: int | None = None,
         reward_models: list[dict] | None = None, needs: tuple[str, ...] = ()) -> StageSpec:
    config = {**DEMO_GRPO_CONFIG, **(values.get("grpo_config") or {})}
    steps = values.get("max_steps") or max_steps
    if steps:
        config["max_steps"] = steps
    fields = {"reward_funcs": reward_funcs, "completion_format": completion_format,
              **probe_params(values), **process_params(values)}
    if reward_models:
        fields["reward_models"] = reward_models
    return StageSpec(key, name, validate(GRPOParams, fields), model,
                     [DataSpec(StageInput.Role.TRAIN, prompts)], config, needs=needs)


def probe_params(values: dict) -> dict:
    """A GRPO stage's probe settings: the recipe's values, the defaults where it has none."""
    every, prompts = values.get("probe_every"), values.get("probe_prompts")
    return {"probe_every": DEFAULT_EVERY if every is None else every,
            "probe_prompts": DEFAULT_PROMPTS if prompts is None else prompts}


def rejection_sampling(key: str, name: str, model: Model, prompts, values: dict, *,
                       completion_format: str = R1_ZERO, special_token: str = DEFAULT_TOKEN,
                       target: str | None = None) -> StageSpec:
    """N samples per prompt, judged and filtered; the kept ones become a cold-start set."""
    fields = {
        "samples_per_prompt": values.get("samples_per_prompt") or 4,
        "keep_per_prompt": values.get("keep_per_prompt") or 1,
        "prompt_limit": values.get("rs_prompts") or 400,
        "completion_format": completion_format,
        "special_token": special_token,
        "max_new_tokens": DEMO_EVAL["max_new_tokens"],  # room for a check, as in eval
        "temperature": 1.0,
    }
    if values.get("pass_rate_min") is not None or values.get("pass_rate_max") is not None:
        fields["pass_rate_window"] = [values.get("pass_rate_min") or 0.0,
                                      values.get("pass_rate_max") or 1.0]
    if values.get("judge") is not None:
        fields["judge"] = values["judge"].pk
    if target:
        fields["target"] = target
    return StageSpec(key, name, validate(RejectionParams, fields), model,
                     [DataSpec(StageInput.Role.TRAIN, prompts)])


def sft(key: str, name: str, model: Model, data: DataSpec, values: dict, *,
        defaults: dict | None = None, special_token: str = DEFAULT_TOKEN,
        samples_per_eval: int = 4) -> StageSpec:
    """An SFT stage: ``SFT_DEMO_CONFIG``, then the recipe's ``defaults`` for this stage,
    then what the user set (``sft_config``), which always wins."""
    config = {**SFT_DEMO_CONFIG, **(defaults or {}), **(values.get("sft_config") or {})}
    params = validate(SFTParams, {
        "special_token": special_token, "samples_per_eval": samples_per_eval,
        "completion_format": COLD_START, **process_params(values),
    })
    return StageSpec(key, name, params, model, [data], config)


# Sized by measurement on the demo tasks: enough steps for the cold-start format to stick.
SFT_DEMO_CONFIG = {"max_steps": 150, "learning_rate": 1e-3, "per_device_train_batch_size": 16}
