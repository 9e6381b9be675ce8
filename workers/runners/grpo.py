"""Run a GRPO stage: R1-Zero's and R1's reinforcement learning with rule rewards (and,
in R1's second RL stage, reward models), on TRL's GRPOTrainer."""

from __future__ import annotations

from r1domain.stage_params import GRPOParams
from r1web.datasets.models import Example
from r1web.runs.models import Stage, StageInput
from r1web.runs.services import checkpoint_record
from workers.inputs import model_path, output_dir, records, stage_examples, stage_sink
from workers.recording import is_main_process, retrying, write_retrying
from workers.runners.reward_model import grpo_reward_weights, stage_reward_funcs


def run_grpo_stage(stage: Stage, params: GRPOParams) -> dict:
    from workers.stages.grpo import run_grpo

    fmt = params.format()
    # Reward models (R1's second RL stage) are scored after the rules, with their weights.
    rule_weights = params.reward_weights
    if params.reward_models and rule_weights is None:
        rule_weights = stage.trl_config.get("reward_weights")
    weights = grpo_reward_weights(params.reward_funcs, rule_weights, params.reward_models)
    extra_funcs = stage_reward_funcs(stage, params)  # loaded before any sampling starts
    examples = stage_examples(stage, StageInput.Role.TRAIN, "train")
    probes = probe_examples(stage, params)
    resume = retrying(stage.resume_checkpoint)() if stage.attempt > 1 else None
    with stage_sink(stage, examples + probes) as sink:
        result = run_grpo(
            model_path=model_path(stage),
            train_examples=records(examples),
            output_dir=str(output_dir(stage)),
            trl_config=stage.trl_config,
            reward_funcs=params.reward_funcs,
            sink=sink,
            resume_from_checkpoint=resume.path if resume else None,
            completion_format=fmt,
            reward_weights=weights,
            extra_reward_funcs=extra_funcs,
            probe_examples=records(probes),
            probe_every=params.probes().every,
        )
    if is_main_process():
        write_retrying(checkpoint_record, stage_pk=stage.pk, step=result.steps,
                       path=result.checkpoint_path, final=True)
    return {"steps": result.steps, "completions_per_step": result.completions_per_step,
            "probe_rounds": result.probe_rounds, "probe_seconds": result.probe_seconds}


def probe_examples(stage: Stage, params: GRPOParams) -> list[Example]:
    """The stage's probe prompts: the first held-out (test split) examples of what it
    trains on, the same set every round. None when probes are off or nothing is held out."""
    wanted = params.probes()
    if not wanted.enabled:
        return []
    return stage_examples(stage, StageInput.Role.TRAIN, "test")[: wanted.prompts]
