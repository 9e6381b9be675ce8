"""Which TRL config fields a user may set from r1web, checked without importing TRL.

A stage's config is TRL's own (``GRPOConfig``/``SFTConfig``/``RewardConfig`` fields by
their TRL names), but many of those fields run code, reach the network, hold secrets,
write outside the run or belong to the worker's hardware. The web process checks a
user's fields against this allow-list before anything is stored: only listed fields,
each with a type and a range, plus the cross-field rules TRL would otherwise only raise
on the worker. Torch-free on purpose: the web process imports it.
"""

from __future__ import annotations

import difflib
import json
import math
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from r1domain.base import ConfigError

CONFIG_CLASSES = ("GRPOConfig", "SFTConfig", "RewardConfig")
MAX_FIELDS = 100
MAX_STEPS = 1_000_000
MAX_LENGTH = 131_072
MAX_SEED = 2**32 - 1

# Every init field of each TRL config class, generated from the installed TRL; a test
# keeps it equal to the real classes, so "unknown field" means unknown to TRL itself.
_NAMES_FILE = Path(__file__).with_name("trl_field_names.json")


@dataclass(frozen=True)
class FieldSpec:
    """What one settable field accepts. ``kind`` is int, float, bool, choice, steps (a
    whole number of steps or a ratio of the total in [0, 1)) or float_list."""

    kind: str
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # the bound itself is refused
    hi_open: bool = False
    optional: bool = False  # null allowed: TRL's "unset"
    choices: tuple[str, ...] = ()
    bool_alias: tuple[str, str] = ()  # TRL's meaning of true and false, for a choice
    also: tuple[int, ...] = ()  # values allowed outside the range (max_steps=-1)
    max_items: int = 0
    note: str = ""  # why r1web accepts less than TRL does

    def describe(self) -> str:
        """Help text for a form: the accepted values in words."""
        text = _describe_kind(self)
        if self.also:
            text += " or " + ", ".join(map(str, self.also))
        if self.optional:
            text += ", or null"
        return f"{text} ({self.note})" if self.note else text


def _describe_kind(spec: FieldSpec) -> str:
    if spec.kind == "choice":
        return "one of " + ", ".join(spec.choices)
    if spec.kind == "float_list":
        return f"a list of 1 to {spec.max_items} finite numbers"
    if spec.kind == "steps":
        ratio = "[0, 1)" if spec.lo == 0 else "(0, 1)"
        return (f"a whole number of steps from {_num(spec.lo)} to {_num(spec.hi)} "
                f"or a ratio of the total steps in {ratio}")
    words = {"int": "an integer", "float": "a number", "bool": "true or false"}[spec.kind]
    return f"{words} {_range_words(spec)}".rstrip()


def _range_words(spec: FieldSpec) -> str:
    parts = []
    if spec.lo is not None:
        parts.append(f"{'>' if spec.lo_open else '>='} {_num(spec.lo)}")
    if spec.hi is not None:
        parts.append(f"{'<' if spec.hi_open else '<='} {_num(spec.hi)}")
    return " and ".join(parts)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def _int(lo: int, hi: int, **kw: Any) -> FieldSpec:
    return FieldSpec("int", lo, hi, **kw)


def _float(lo: float, hi: float, **kw: Any) -> FieldSpec:
    return FieldSpec("float", lo, hi, **kw)


def _choice(*values: str, **kw: Any) -> FieldSpec:
    return FieldSpec("choice", choices=values, **kw)


def _steps(lo: int, **kw: Any) -> FieldSpec:
    return FieldSpec("steps", lo, MAX_STEPS, **kw)


BOOL = FieldSpec("bool")
OPTIONAL_BOOL = FieldSpec("bool", optional=True)
_BATCH = _int(1, 4096)

# Schedulers that need no lr_scheduler_kwargs or eval metric (neither is settable):
# cosine_with_min_lr, warmup_stable_decay, reduce_lr_on_plateau and greedy would fail.
LR_SCHEDULERS = (
    "linear", "cosine", "cosine_with_restarts", "polynomial", "constant",
    "constant_with_warmup", "inverse_sqrt",
)
# Plain torch optimizers: the others pull in bitsandbytes, galore, apex or XLA.
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "adafactor", "sgd", "adagrad", "rmsprop")
_STRATEGIES = ("no", "steps", "epoch")

# The TrainingArguments part every config shares.
COMMON: dict[str, FieldSpec] = {
    "learning_rate": _float(0, 1, lo_open=True),
    "max_steps": _int(1, MAX_STEPS, also=(-1,)),
    "num_train_epochs": _float(0, 1000, lo_open=True),
    "per_device_train_batch_size": _BATCH,
    "per_device_eval_batch_size": _BATCH,
    "gradient_accumulation_steps": _int(1, 1024),
    "warmup_steps": _steps(0),  # transformers 5 types it float: a ratio below 1
    "weight_decay": _float(0, 1),
    "adam_beta1": _float(0, 1, hi_open=True),
    "adam_beta2": _float(0, 1, hi_open=True),
    "adam_epsilon": _float(0, 1, lo_open=True),
    "max_grad_norm": _float(0, 1e4),
    "lr_scheduler_type": _choice(*LR_SCHEDULERS, note="the others need scheduler kwargs"),
    "seed": _int(0, MAX_SEED),
    "data_seed": _int(0, MAX_SEED, optional=True),
    "logging_steps": _steps(1),
    "save_strategy": _choice(*_STRATEGIES),
    "save_steps": _steps(1),
    "save_total_limit": _int(1, 100, optional=True),
    "eval_strategy": _choice(*_STRATEGIES),
    "eval_steps": _steps(1, optional=True),
    "gradient_checkpointing": BOOL,
    "bf16": BOOL,
    "optim": _choice(*OPTIMIZERS),
    "label_smoothing_factor": _float(0, 1),
}

GRPO: dict[str, FieldSpec] = {
    # r1web's GRPO stage passes no eval set (evaluation is its own stage), so TRL's
    # Trainer would refuse any other strategy when the worker starts.
    "eval_strategy": _choice("no", note="r1web evaluates in separate eval stages"),
    "num_generations": _int(2, 1024),
    "max_completion_length": _int(1, MAX_LENGTH),
    "generation_batch_size": _int(1, 65_536, optional=True),
    "steps_per_generation": _int(1, 1024, optional=True),
    "temperature": _float(0, 10, lo_open=True),
    "top_p": _float(0, 1, lo_open=True),
    "top_k": _int(0, 1_000_000),  # 0 turns top-k filtering off; TRL has no None here
    "min_p": _float(0, 1, optional=True),
    "repetition_penalty": _float(0, 10, lo_open=True),
    "use_vllm": BOOL,
    "vllm_mode": _choice("colocate", note="server mode talks to a vLLM server over the network"),
    "vllm_gpu_memory_utilization": _float(0, 1, lo_open=True),
    "vllm_tensor_parallel_size": _int(1, 64),
    "beta": _float(0, 10),
    "num_iterations": _int(1, 64),
    "epsilon": _float(0, 10),
    "epsilon_high": _float(0, 10, optional=True),
    "delta": _float(0, 100, lo_open=True, optional=True),
    "importance_sampling_level": _choice("token", "sequence"),
    "reward_weights": FieldSpec("float_list", optional=True, max_items=16),
    "scale_rewards": _choice("group", "batch", "none", bool_alias=("group", "none")),
    "loss_type": _choice("grpo", "dr_grpo", "dapo", "bnpo", "cispo", "sapo", "luspo", "vespo"),
    "mask_truncated_completions": BOOL,
    "disable_dropout": BOOL,
    "shuffle_dataset": BOOL,
    "top_entropy_quantile": _float(0, 1),
}

SFT: dict[str, FieldSpec] = {
    "max_length": _int(1, MAX_LENGTH, optional=True),
    "packing": BOOL,
    "completion_only_loss": OPTIONAL_BOOL,
    "assistant_only_loss": BOOL,
    "loss_type": _choice("nll", "dft", note="chunked_nll is TRL's deprecated alias of nll"),
    "padding_free": BOOL,
    "shuffle_dataset": BOOL,
    "truncation_mode": _choice("keep_start", note="keep_end is deprecated in TRL"),
}

REWARD: dict[str, FieldSpec] = {
    "max_length": _int(1, MAX_LENGTH, optional=True),
    "center_rewards_coefficient": _float(0, 10, optional=True),
    "disable_dropout": BOOL,
}

_SETTABLE: dict[str, dict[str, FieldSpec]] = {
    "GRPOConfig": {**COMMON, **GRPO},
    "SFTConfig": {**COMMON, **SFT},
    "RewardConfig": {**COMMON, **REWARD},
}


@dataclass(frozen=True)
class Refusal:
    """A family of real TRL fields that r1web never takes from a user, and why."""

    reason: str
    names: frozenset[str]
    prefixes: tuple[str, ...] = ()

    def covers(self, name: str) -> bool:
        return name in self.names or name.startswith(self.prefixes)


# Checked in this order: a field in two families gets the first reason (a secret is
# refused as a secret, not as a network field).
REFUSALS: tuple[Refusal, ...] = (
    Refusal("it holds a secret, which r1web never takes from a form",
            frozenset({"hub_token"})),
    Refusal(
        "it runs or loads code on the worker",
        frozenset({
            "trust_remote_code", "model_init_kwargs", "deepspeed", "accelerator_config",
            "parallelism_config", "use_liger_kernel", "liger_kernel_config",
            "generation_kwargs",  # generate(custom_generate=...) loads code from the Hub
        }),
        ("torch_compile", "fsdp"),
    ),
    Refusal(
        "it reaches the network or an external service",
        frozenset({
            "push_to_hub", "report_to", "project", "log_completions_hub_repo",
            "vllm_group_port",
        }),
        ("hub_", "vllm_server_", "trackio_"),
    ),
    Refusal(
        "it reads or writes files outside the run, whose place r1web chooses",
        frozenset({
            "output_dir", "resume_from_checkpoint", "save_on_each_node",
            "chat_template_path", "enable_jit_checkpoint",
        }),
    ),
    Refusal(
        "the worker chooses it for its hardware",
        frozenset({
            "use_cpu", "local_rank", "disable_tqdm", "log_on_each_node", "fp16", "tf32",
            "bf16_full_eval", "fp16_full_eval", "dataset_num_proc", "torch_empty_cache_steps",
            "activation_offloading", "auto_find_batch_size", "cast_lm_head_to_fp32",
        }),
        ("ddp_", "dataloader_", "log_level"),
    ),
)
_NOT_LISTED = "it is not among the fields r1web lets a user set"

# TRL's defaults for the GRPO batch arithmetic (a test compares them with GRPOConfig).
GRPO_DEFAULTS: dict[str, Any] = {
    "per_device_train_batch_size": 8,
    "gradient_accumulation_steps": 1,
    "num_generations": 8,
    "num_iterations": 1,
    "generation_batch_size": None,
    "steps_per_generation": None,
}


@cache
def field_names(config: str) -> frozenset[str]:
    """Every init field of the TRL config class ``config`` (from the committed list)."""
    _check_config_name(config)
    names = json.loads(_NAMES_FILE.read_text(encoding="utf-8"))
    return frozenset(names[config])


def settable_fields(config: str) -> dict[str, FieldSpec]:
    """The fields a user may set for ``config``, by TRL name (for forms and help text)."""
    _check_config_name(config)
    return dict(_SETTABLE[config])


def refusal_reason(name: str) -> str:
    """Why a real TRL field that is not settable is refused."""
    for refusal in REFUSALS:
        if refusal.covers(name):
            return refusal.reason
    return _NOT_LISTED


def check_trl_config(fields: object, config: str) -> dict[str, Any]:
    """The user's fields, normalised (ints where TRL wants floats become floats), or a
    ``ConfigError`` naming the field. Adds no defaults: what comes back is what the user
    set. Values of refused fields never appear in a message: one may be a secret."""
    settable = settable_fields(config)
    user = _check_shape(fields, config)
    _check_names(user, config, settable)
    checked = {name: _check_value(name, value, settable[name]) for name, value in user.items()}
    if config == "GRPOConfig":
        _check_grpo(checked)
    return checked


def _check_config_name(config: str) -> None:
    if config not in CONFIG_CLASSES:
        raise ConfigError(f"unknown TRL config {_show(config)}; r1web knows "
                          f"{', '.join(CONFIG_CLASSES)}")


def _check_shape(fields: object, config: str) -> dict[str, Any]:
    if not isinstance(fields, dict):
        raise ConfigError(f"{config} must be a JSON object of {config} fields")
    if len(fields) > MAX_FIELDS:
        raise ConfigError(f"{config} has {len(fields)} fields; at most {MAX_FIELDS} are allowed")
    if not all(isinstance(name, str) for name in fields):
        raise ConfigError(f"{config} field names must be strings")
    return fields


def _check_names(fields: dict, config: str, settable: dict[str, FieldSpec]) -> None:
    known = field_names(config)
    unknown = [name for name in fields if name not in known]
    if unknown:
        raise ConfigError(_unknown_message(unknown, known, config))
    refused = [name for name in fields if name not in settable]
    if refused:
        raise ConfigError("; ".join(
            f"{name} cannot be set from r1web: {refusal_reason(name)}" for name in refused
        ))


def _unknown_message(unknown: list[str], known: frozenset[str], config: str) -> str:
    hints = []
    for name in unknown:
        shown = _show_name(name)
        # Only names short enough to be typos of a field are worth difflib's time.
        close = difflib.get_close_matches(name, sorted(known), n=1) if shown == name else []
        hints.append(f"{shown} (did you mean {close[0]}?)" if close else shown)
    return f"unknown {config} field(s): {', '.join(hints)}"


def _show_name(name: str) -> str:
    # A field name is user text too: keep a pasted blob from flooding the message.
    return name if len(name) <= 60 else name[:57] + "..."


def _show(value: Any) -> str:
    try:
        text = repr(value)
    except ValueError:  # an int past Python's digit limit for str()
        return "a number too long to show"
    return text if len(text) <= 40 else text[:37] + "..."


# --- one field's value -------------------------------------------------------------


def _check_value(name: str, value: Any, spec: FieldSpec) -> Any:
    if value is None:
        if spec.optional:
            return None
        raise ConfigError(f"{name} must be {spec.describe()}, not null")
    return _CHECKERS[spec.kind](name, value, spec)


def _is_number(value: Any) -> bool:
    # bool is an int subclass; true for a batch size is a slip, not a 1.
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value: float) -> bool:
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float is no sensible setting either
        return False


def _in_range(value: float, spec: FieldSpec) -> bool:
    if value in spec.also:
        return True
    if spec.lo is not None and (value < spec.lo or (spec.lo_open and value == spec.lo)):
        return False
    return spec.hi is None or not (value > spec.hi or (spec.hi_open and value == spec.hi))


def _refuse(name: str, value: Any, spec: FieldSpec) -> ConfigError:
    return ConfigError(f"{name} must be {spec.describe()}, not {_show(value)}")


def _check_int(name: str, value: Any, spec: FieldSpec) -> int:
    if not (_is_number(value) and isinstance(value, int) and _in_range(value, spec)):
        raise _refuse(name, value, spec)
    return value


def _check_float(name: str, value: Any, spec: FieldSpec) -> float:
    if not (_is_number(value) and _is_finite(value) and _in_range(value, spec)):
        raise _refuse(name, value, spec)
    return float(value)


def _check_bool(name: str, value: Any, spec: FieldSpec) -> bool:
    if not isinstance(value, bool):
        raise _refuse(name, value, spec)
    return value


def _check_choice(name: str, value: Any, spec: FieldSpec) -> str:
    if isinstance(value, bool) and spec.bool_alias:
        return spec.bool_alias[0] if value else spec.bool_alias[1]
    if not (isinstance(value, str) and value in spec.choices):
        raise _refuse(name, value, spec)
    return value


def _check_steps(name: str, value: Any, spec: FieldSpec) -> int | float:
    """transformers reads a value below 1 as a ratio of the total steps; above 1 it must
    be whole. Whole floats become ints so 10.0 and 10 store alike."""
    if not (_is_number(value) and _is_finite(value)):
        raise _refuse(name, value, spec)
    if 0 <= value < 1 and (value > 0 or spec.lo == 0):
        return value if isinstance(value, int) else float(value)
    if float(value).is_integer() and _in_range(value, spec):
        return int(value)
    raise _refuse(name, value, spec)


def _check_float_list(name: str, value: Any, spec: FieldSpec) -> list[float]:
    if not (isinstance(value, list) and 1 <= len(value) <= spec.max_items):
        raise _refuse(name, value, spec)
    if not all(_is_number(x) and _is_finite(x) for x in value):
        raise ConfigError(f"{name} must hold finite numbers only")
    return [float(x) for x in value]


_CHECKERS = {
    "int": _check_int,
    "float": _check_float,
    "bool": _check_bool,
    "choice": _check_choice,
    "steps": _check_steps,
    "float_list": _check_float_list,
}


# --- GRPO's batch arithmetic ----------------------------------------------------------


def _check_grpo(fields: dict[str, Any]) -> None:
    """What ``GRPOConfig.__post_init__`` checks for one process (world size 1), plus
    r1web's recording rule, so a bad combination fails in the form, not on a worker."""
    get = {**GRPO_DEFAULTS, **fields}.get
    bs, gas = get("per_device_train_batch_size"), get("gradient_accumulation_steps")
    gbs, spg = get("generation_batch_size"), get("steps_per_generation")
    if gbs is not None and spg is not None:
        raise ConfigError("generation_batch_size and steps_per_generation cannot both be set")
    if gbs is None:
        spg = gas if spg is None else spg
        gbs = bs * spg
    elif gbs % bs:
        raise ConfigError(f"generation_batch_size ({gbs}) must be divisible by "
                          f"per_device_train_batch_size ({bs})")
    else:
        spg = gbs // bs
    _check_groups(gbs, get("num_generations"))
    _check_recordable(spg, get("num_iterations"), gas)
    if get("loss_type") == "vespo" and get("use_vllm"):
        # TRL needs a token-level vllm_importance_sampling_mode then, which is not settable.
        raise ConfigError("loss_type vespo cannot be combined with use_vllm in r1web")


def _check_groups(generation_batch: int, num_generations: int) -> None:
    if generation_batch % num_generations:
        raise ConfigError(
            f"the generation batch ({generation_batch}: generation_batch_size, or "
            "per_device_train_batch_size * steps_per_generation) must be divisible by "
            f"num_generations ({num_generations}) so every prompt gets a full group"
        )


def _check_recordable(steps_per_generation: int, num_iterations: int, accumulation: int) -> None:
    if accumulation % (steps_per_generation * num_iterations):
        raise ConfigError(
            "steps_per_generation * num_iterations must divide gradient_accumulation_steps "
            f"(got {steps_per_generation} * {num_iterations} and {accumulation}): "
            "r1web records the fresh completions of every optimizer step"
        )
