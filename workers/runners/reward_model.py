"""The reward-model stage, and how a GRPO stage finds the reward models it is given.

A reward-model stage trains on its ``preferences`` input's train split and evaluates on
its test split; its final model is recorded as a ``reward_model`` checkpoint. A GRPO
stage names reward models in ``GRPOParams.reward_models``: each one's ``model`` is the
key of a stage of the same run (whose output is used) or a checkpoint's pk.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from r1domain.base import ConfigError
from r1domain.stage_params import GRPOParams, RewardModelParams, RewardModelRef
from r1web.runs.models import Checkpoint, Stage, StageInput
from r1web.runs.services import checkpoint_record
from workers.inputs import model_path, output_dir, records, stage_examples, stage_sink
from workers.recording import retrying, write_retrying

PREFERENCES = StageInput.Role.PREFERENCES


def run_reward_model_stage(stage: Stage, params: RewardModelParams) -> dict:
    """Preference pairs are answers in the cold-start form (R1 trains its reward model
    after the cold start): its parameters' format says how the prompt is rendered."""
    from workers.stages.reward_model import run_reward_model

    examples = stage_examples(stage, PREFERENCES, "train")
    eval_examples = stage_examples(stage, PREFERENCES, "test")
    with stage_sink(stage, examples + eval_examples) as sink:
        result = run_reward_model(
            model_path=model_path(stage),
            examples=records(examples),
            eval_examples=records(eval_examples) or None,
            output_dir=str(output_dir(stage)),
            trl_config=stage.trl_config,
            sink=sink,
            completion_format=params.format(),
        )
    write_retrying(checkpoint_record, stage_pk=stage.pk, step=result.steps,
                   path=result.checkpoint_path, final=True, role=Checkpoint.Role.REWARD_MODEL)
    return {
        "steps": result.steps,
        "pairs": result.pairs,
        "eval_accuracy": result.eval_accuracy,
        "eval_margin": result.eval_margin,
        "seconds": result.seconds,
    }


# --- reward models inside GRPO ------------------------------------------------------

@retrying
def reward_model_checkpoint(stage: Stage, ref: str | int) -> Checkpoint:
    """The checkpoint a ``RewardModelRef`` names: a stage key of ``stage``'s run (its
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


def stage_reward_funcs(stage: Stage, params: GRPOParams) -> list[Callable]:
    """One reward function per reward model the stage names, in order."""
    from workers.stages.reward_models import reward_model_func

    return [
        reward_model_func(
            reward_model_checkpoint(stage, ref.model).path,
            scope=ref.scope, name=name, completion_format=params.format(),
        )
        for ref, name in zip(params.reward_models, params.reward_model_names())
    ]


def grpo_reward_weights(
    rules: list[str], rule_weights: list | dict | None, reward_models: Sequence[RewardModelRef]
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
    return weights + [ref.weight for ref in reward_models]
