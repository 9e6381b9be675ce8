"""The reward-model stage, and how a GRPO stage finds the reward models it is given.

A reward-model stage trains on its ``preferences`` input's train split and evaluates on
its test split; its final model is recorded as a ``reward_model`` checkpoint. A GRPO
stage names reward models in ``params["reward_models"]``: each entry's ``model`` is the
key of a stage of the same run (whose output is used) or a checkpoint's pk.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from r1domain.base import ConfigError
from r1domain.coldstart import DEFAULT_TOKEN
from r1domain.formats import COLD_START, CompletionFormat, get_format
from r1web.runs.models import Checkpoint, Stage, StageInput
from r1web.runs.services import checkpoint_record

PREFERENCES = StageInput.Role.PREFERENCES


def reward_model_format(stage: Stage) -> CompletionFormat:
    """Preference pairs are answers in the cold-start form (R1 trains its reward model
    after the cold start), so the prompt is rendered that way unless the stage says not."""
    params = stage.params
    return get_format(params.get("completion_format", COLD_START),
                      params.get("special_token", DEFAULT_TOKEN))


def run_reward_model_stage(stage: Stage) -> dict:
    from workers.runner import _sink, model_path, output_dir, stage_examples
    from workers.stages.reward_model import run_reward_model

    examples = stage_examples(stage, PREFERENCES, "train")
    eval_examples = stage_examples(stage, PREFERENCES, "test")
    with _sink(stage, examples + eval_examples) as sink:
        result = run_reward_model(
            model_path=model_path(stage),
            examples=[example.as_record() for example in examples],
            eval_examples=[example.as_record() for example in eval_examples] or None,
            output_dir=str(output_dir(stage)),
            trl_config=stage.trl_config,
            sink=sink,
            completion_format=reward_model_format(stage),
        )
    checkpoint_record(stage_pk=stage.pk, step=result.steps, path=result.checkpoint_path,
                      final=True, role=Checkpoint.Role.REWARD_MODEL)
    return {
        "steps": result.steps,
        "pairs": result.pairs,
        "eval_accuracy": result.eval_accuracy,
        "eval_margin": result.eval_margin,
        "seconds": result.seconds,
    }


# --- reward models inside GRPO ------------------------------------------------------

def reward_model_checkpoint(stage: Stage, ref: Any) -> Checkpoint:
    """The checkpoint a ``reward_models`` entry names: a stage key of ``stage``'s run (its
    final output) or a checkpoint pk. It must be a reward model."""
    if isinstance(ref, str):
        source = Stage.objects.filter(run_id=stage.run_id, key=ref).first()
        if source is None:
            raise ConfigError(f"reward model: this run has no stage {ref!r}")
        checkpoint = source.output_checkpoint
        if checkpoint is None:
            raise ConfigError(f"reward model: stage {source.name} made no model")
    elif isinstance(ref, int) and not isinstance(ref, bool):
        checkpoint = Checkpoint.objects.filter(pk=ref).first()
        if checkpoint is None:
            raise ConfigError(f"reward model {ref} does not exist")
    else:
        raise ConfigError(f"reward model must be a stage key or a checkpoint id, not {ref!r}")
    if checkpoint.role != Checkpoint.Role.REWARD_MODEL:
        raise ConfigError(f"{checkpoint.name} is not a reward model")
    return checkpoint


def reward_model_name(entry: dict, index: int) -> str:
    return str(entry.get("name") or f"reward_model_{index + 1}")


def stage_reward_funcs(stage: Stage, fmt: CompletionFormat) -> list[Callable]:
    """One reward function per ``params["reward_models"]`` entry, in order."""
    from workers.stages.reward_models import reward_model_func

    return [
        reward_model_func(
            reward_model_checkpoint(stage, entry.get("model")).path,
            scope=entry.get("scope", "response"), name=reward_model_name(entry, i),
            completion_format=fmt,
        )
        for i, entry in enumerate(stage.params.get("reward_models") or [])
    ]


def grpo_reward_weights(
    rules: list[str], rule_weights: list | dict | None, reward_models: list[dict]
) -> list[float] | dict | None:
    """TRL's ``reward_weights``: the rules' (1.0 each unless given, by list or by name),
    then each reward model's ``weight``. Without reward models, the rules' as given."""
    if not reward_models:
        return rule_weights
    if rule_weights is None:
        weights = [1.0] * len(rules)
    elif isinstance(rule_weights, dict):
        unknown = sorted(set(rule_weights) - set(rules))
        if unknown:
            raise ConfigError(f"reward_weights names unused reward function(s): {unknown}")
        weights = [float(rule_weights.get(name, 1.0)) for name in rules]
    elif len(rule_weights) == len(rules):
        weights = [float(w) for w in rule_weights]
    else:
        raise ConfigError("reward_weights needs one weight per reward function")
    return weights + [float(entry.get("weight", 1.0)) for entry in reward_models]
