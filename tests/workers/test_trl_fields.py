from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from r1domain.base import ConfigError
from r1domain.demo import DEMO_GRPO_CONFIG
from r1domain.trl_fields import (
    CONFIG_CLASSES,
    GRPO_DEFAULTS,
    REFUSALS,
    check_trl_config,
    field_names,
    settable_fields,
)

SECRET = "hf_NeverShowThisToken123"


def _refusal(fields: dict, config: str = "GRPOConfig") -> str:
    with pytest.raises(ConfigError) as info:
        check_trl_config(fields, config)
    return str(info.value)


def test_the_demo_config_passes_unchanged():
    assert check_trl_config(DEMO_GRPO_CONFIG, "GRPOConfig") == DEMO_GRPO_CONFIG


def test_only_what_the_user_set_comes_back():
    assert check_trl_config({"learning_rate": 1}, "SFTConfig") == {"learning_rate": 1.0}
    assert check_trl_config({}, "RewardConfig") == {}


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"learning_rate": 1}, 1.0),  # an int where TRL wants a float
        ({"scale_rewards": True}, "group"),  # TRL's own meaning of true
        ({"scale_rewards": False}, "none"),
        ({"warmup_steps": 0.1}, 0.1),  # a ratio of the total steps
        ({"save_steps": 10.0}, 10),  # a whole number of steps stores as an int
        ({"reward_weights": [1, 0.5]}, [1.0, 0.5]),
        ({"max_steps": -1}, -1),  # TRL's "unset": train by epochs
        ({"data_seed": None}, None),
    ],
)
def test_values_are_normalised_the_way_trl_reads_them(fields, expected):
    [value] = check_trl_config(fields, "GRPOConfig").values()
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(
    "name, value, reason",
    [
        ("trust_remote_code", True, "runs or loads code"),
        ("model_init_kwargs", {"trust_remote_code": True}, "runs or loads code"),
        ("torch_compile_backend", "inductor", "runs or loads code"),
        ("deepspeed", "/etc/ds.json", "runs or loads code"),
        ("fsdp_config", {}, "runs or loads code"),
        ("use_liger_kernel", True, "runs or loads code"),
        ("push_to_hub", True, "reaches the network"),
        ("hub_model_id", "me/model", "reaches the network"),
        ("report_to", "wandb", "reaches the network"),
        ("vllm_server_base_url", "http://10.0.0.1:8000", "reaches the network"),
        ("trackio_space_id", "me/space", "reaches the network"),
        ("log_completions_hub_repo", "me/logs", "reaches the network"),
        ("output_dir", "/etc", "outside the run"),
        ("resume_from_checkpoint", "/root/ckpt", "outside the run"),
        ("save_on_each_node", True, "outside the run"),
        ("use_cpu", True, "hardware"),
        ("local_rank", 0, "hardware"),
        ("ddp_backend", "gloo", "hardware"),
        ("dataloader_num_workers", 8, "hardware"),
        ("disable_tqdm", False, "hardware"),
        ("log_level", "debug", "hardware"),
        ("log_completions", True, "not among the fields"),
        ("lr_scheduler_kwargs", {"min_lr": 0}, "not among the fields"),
    ],
)
def test_a_real_field_off_the_allow_list_is_refused_with_its_reason(name, value, reason):
    message = _refusal({name: value})
    assert f"{name} cannot be set from r1web" in message and reason in message


def test_a_secret_is_refused_without_echoing_its_value():
    message = _refusal({"hub_token": SECRET, "push_to_hub": True})
    assert "hub_token" in message and "secret" in message
    assert SECRET not in message and SECRET[:8] not in message


@pytest.mark.parametrize("config", CONFIG_CLASSES)
def test_no_message_echoes_the_value_of_a_refused_field(config):
    # Whatever a refused field holds may be a credential pasted in the wrong place.
    for refusal in REFUSALS:
        for name in sorted(refusal.names & field_names(config)):
            assert SECRET not in _refusal({name: SECRET}, config)


def test_vllm_server_mode_is_refused_as_network_access():
    message = _refusal({"use_vllm": True, "vllm_mode": "server"})
    assert "vllm_mode" in message and "network" in message


def test_an_unknown_field_gets_a_suggestion():
    message = _refusal({"lerning_rate": 1e-3})
    assert message == "unknown GRPOConfig field(s): lerning_rate (did you mean learning_rate?)"


def test_a_pasted_blob_as_a_field_name_is_cut_short_in_the_message():
    message = _refusal({"x" * 10_000: 1})
    assert len(message) < 200


def test_a_field_of_another_config_is_unknown_to_this_one():
    assert "num_generations" in _refusal({"num_generations": 8}, "SFTConfig")


@pytest.mark.parametrize(
    "fields, named",
    [
        ({"learning_rate": float("nan")}, "learning_rate"),
        ({"learning_rate": float("inf")}, "learning_rate"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"learning_rate": 0}, "learning_rate"),
        ({"learning_rate": "1e-3"}, "learning_rate"),
        ({"per_device_train_batch_size": True}, "per_device_train_batch_size"),
        ({"per_device_train_batch_size": 10**9}, "per_device_train_batch_size"),
        ({"max_steps": 2.5}, "max_steps"),
        ({"max_steps": 0}, "max_steps"),
        ({"num_generations": 1}, "num_generations"),
        ({"temperature": 0}, "temperature"),
        ({"gradient_checkpointing": "yes"}, "gradient_checkpointing"),
        ({"seed": 2**32}, "seed"),
        ({"logging_steps": 0}, "logging_steps"),
        ({"save_steps": 2.5}, "save_steps"),
        ({"lr_scheduler_type": "sideways"}, "sideways"),
        ({"lr_scheduler_type": "cosine_with_min_lr"}, "lr_scheduler_type"),
        ({"optim": "adamw_bnb_8bit"}, "optim"),
        ({"loss_type": "ppo"}, "loss_type"),
        ({"eval_strategy": "steps"}, "eval_strategy"),
        ({"num_generations": None}, "num_generations"),
        ({"reward_weights": [1.0, float("nan")]}, "reward_weights"),
        ({"reward_weights": [1.0] * 17}, "reward_weights"),
        ({"reward_weights": "1,2"}, "reward_weights"),
    ],
)
def test_a_bad_value_is_refused_naming_the_field(fields, named):
    assert named in _refusal(fields)


@pytest.mark.parametrize("fields", [[("max_steps", 5)], "max_steps=5", None, {1: 5}])
def test_anything_but_an_object_of_named_fields_is_refused(fields):
    assert "GRPOConfig" in _refusal(fields)


def test_more_than_a_hundred_fields_are_refused():
    assert "at most 100" in _refusal({f"f{i}": 1 for i in range(101)})


def test_an_unknown_config_class_is_refused():
    with pytest.raises(ConfigError, match="PPOConfig"):
        check_trl_config({}, "PPOConfig")


@pytest.mark.parametrize(
    "fields, named",
    [
        # TRL's defaults: 8 per device and 8 generations, so 6 cannot hold full groups.
        ({"per_device_train_batch_size": 6}, "num_generations"),
        ({"per_device_train_batch_size": 6, "num_generations": 4}, "num_generations"),
        ({"per_device_train_batch_size": 4, "steps_per_generation": 3,
          "num_generations": 8}, "num_generations"),
        ({"generation_batch_size": 12, "per_device_train_batch_size": 8}, "generation_batch_size"),
        ({"generation_batch_size": 16, "steps_per_generation": 2}, "both"),
        # The recording rule: each optimizer step must see fresh completions.
        ({"num_iterations": 2}, "records the fresh completions"),
        ({"gradient_accumulation_steps": 4, "steps_per_generation": 3,
          "per_device_train_batch_size": 8}, "records the fresh completions"),
        ({"generation_batch_size": 16, "per_device_train_batch_size": 8},
         "records the fresh completions"),
    ],
)
def test_grpo_batch_arithmetic_that_trl_checks_at_run_time_is_refused_early(fields, named):
    assert named in _refusal(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"per_device_train_batch_size": 4, "num_generations": 4},
        {"per_device_train_batch_size": 2, "gradient_accumulation_steps": 2,
         "num_generations": 4},  # steps_per_generation defaults to the accumulation
        {"gradient_accumulation_steps": 4, "steps_per_generation": 2, "num_iterations": 2},
        {"generation_batch_size": 16, "per_device_train_batch_size": 8,
         "gradient_accumulation_steps": 2},
    ],
)
def test_grpo_batches_that_trl_and_recording_accept_pass(fields):
    assert check_trl_config(fields, "GRPOConfig") == fields


def test_settable_fields_describe_their_values_for_a_form():
    fields = settable_fields("GRPOConfig")
    assert "hub_token" not in fields and "trust_remote_code" not in fields
    assert fields["learning_rate"].describe() == "a number > 0 and <= 1"
    assert "null" in fields["epsilon_high"].describe()


def test_the_check_imports_neither_torch_nor_trl_nor_django():
    code = (
        "import sys, r1domain.trl_fields as t; t.check_trl_config({}, 'GRPOConfig'); "
        "bad = {'torch', 'transformers', 'trl', 'datasets', 'django'} & set(sys.modules); "
        "sys.exit(', '.join(sorted(bad)) or None)"
    )
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run([sys.executable, "-c", code], check=False, cwd=root,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# --- agreement with the installed TRL (imports trl) ------------------------------------


def _trl_class(config: str) -> type:
    trl = pytest.importorskip("trl")
    return getattr(trl, config)


def _trl_fields(config: str) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(_trl_class(config)) if f.init}


def test_the_committed_field_names_are_the_installed_trl_s():
    path = Path(__file__).resolve().parents[2] / "r1domain/trl_field_names.json"
    committed = json.loads(path.read_text())
    assert sorted(committed) == sorted(CONFIG_CLASSES)
    for config in CONFIG_CLASSES:
        assert sorted(committed[config]) == sorted(_trl_fields(config)), config


@pytest.mark.parametrize("config", CONFIG_CLASSES)
def test_every_settable_field_exists_in_trl_and_its_choices_are_trl_s(config):
    real = _trl_fields(config)
    for name, spec in settable_fields(config).items():
        assert name in real, f"{config}.{name}"
        trl_choices = real[name].metadata.get("choices")
        if spec.kind == "choice" and trl_choices is not None:
            assert set(spec.choices) <= set(trl_choices), f"{config}.{name}"


@pytest.mark.parametrize("config", CONFIG_CLASSES)
def test_lr_schedulers_and_optimizers_are_transformers_own(config):
    from transformers.trainer_utils import SchedulerType
    from transformers.training_args import OptimizerNames

    fields = settable_fields(config)
    assert set(fields["lr_scheduler_type"].choices) <= {s.value for s in SchedulerType}
    assert set(fields["optim"].choices) <= {o.value for o in OptimizerNames}


def test_the_grpo_defaults_the_batch_check_assumes_are_trl_s():
    real = _trl_fields("GRPOConfig")
    assert {name: real[name].default for name in GRPO_DEFAULTS} == GRPO_DEFAULTS
