"""Run one claimed stage: resolve its inputs from the database, call the plain stage
code with a database sink, and record the outcome."""

from __future__ import annotations

import logging
from pathlib import Path

from django.conf import settings

from r1domain.base import StageCancelled
from r1domain.formats import R1_ZERO, CompletionFormat, get_format
from r1domain.probes import probe_settings
from r1web.datasets.models import Example
from r1web.runs.models import Stage, StageInput
from r1web.runs.services import checkpoint_record, metrics_record, stage_fail, stage_succeed
from workers.recording import (
    DatabaseSink,
    Heartbeat,
    is_main_process,
    retrying,
    write_retrying,
)

log = logging.getLogger(__name__)


def quiet_progress_bars() -> None:
    """datasets and transformers draw progress bars for every map and model load; in a
    worker's log they are hundreds of lines per stage. The stage reports its own progress."""
    import datasets
    from transformers.utils import logging as transformers_logging

    datasets.disable_progress_bars()
    transformers_logging.disable_progress_bar()


def execute(stage: Stage) -> None:
    # Beat from the claim on: importing torch and TRL can take longer than
    # R1WEB_STALE_AFTER_SECONDS on a busy machine, and a silent stage is reaped as dead.
    with Heartbeat(stage.pk):
        _execute(stage)


def _execute(stage: Stage) -> None:
    from r1web.runs.registry import STAGE_KINDS

    quiet_progress_bars()
    spec = STAGE_KINDS.get(stage.kind)
    if spec is None:
        write_retrying(stage_fail, stage_pk=stage.pk,
                       error=f"no runner for stage kind {stage.kind!r}")
        return
    runner = spec.load_runner()
    processes = stage.params.get("num_processes", 1)
    if processes > 1:
        from workers.distributed import run_distributed

        def runner(stage: Stage) -> dict:  # the worker supervises; the processes train
            return run_distributed(stage, processes)

    # The outcome is this attempt's: a worker that lost the stage meanwhile changes nothing.
    # It is recorded through a database restart, like everything the stage writes.
    attempt = stage.attempt
    try:
        result = runner(stage)
    except StageCancelled:
        write_retrying(stage_fail, stage_pk=stage.pk, error="cancelled", cancelled=True,
                       resumable=True, attempt=attempt)
    except Exception as exc:  # the stage failed; the worker must live on
        log.exception("stage %s failed", stage.pk)
        resumable = retrying(stage.resume_checkpoint)() is not None
        write_retrying(stage_fail, stage_pk=stage.pk, error=f"{type(exc).__name__}: {exc}",
                       resumable=resumable, attempt=attempt)
    else:
        write_retrying(stage_succeed, stage_pk=stage.pk, result=result, attempt=attempt)


@retrying
def model_path(stage: Stage) -> str:
    """The stage's model, pinned when it was queued (``services.stage_queue``)."""
    if stage.input_checkpoint_id:
        return stage.input_checkpoint.path
    source = stage.input_from
    if source is None or source.output_checkpoint is None:
        raise RuntimeError(f"stage {stage.name} has no input model: its source stage made none")
    return source.output_checkpoint.path


def completion_format(stage: Stage) -> CompletionFormat:
    params = stage.params
    return get_format(params.get("completion_format", R1_ZERO),
                      params.get("special_token", "|special_token|"))


@retrying
def stage_examples(stage: Stage, role: str, split: str | None) -> list[Example]:
    versions = StageInput.objects.filter(stage=stage, role=role).values("version")
    rows = Example.objects.filter(version__in=versions).select_related("version__dataset")
    rows = rows.order_by("version", "position")
    if split:
        rows = rows.filter(split=split)
    return list(rows)


def output_dir(stage: Stage) -> Path:
    return settings.RUNS_DIR / f"run-{stage.run_id}" / f"stage-{stage.position}-{stage.kind}"


def _sink(stage: Stage, examples: list[Example]) -> DatabaseSink:
    return DatabaseSink(stage, example_ids={example.key: example.pk for example in examples})


def run_grpo_stage(stage: Stage) -> dict:
    from workers.runners.reward_model import grpo_reward_weights, stage_reward_funcs
    from workers.stages.grpo import run_grpo

    params, fmt = stage.params, completion_format(stage)
    rules = params.get("reward_funcs", ["accuracy", "format"])
    # Reward models (R1's second RL stage) are scored after the rules, with their weights.
    reward_models = params.get("reward_models") or []
    rule_weights = params.get("reward_weights")
    if reward_models and rule_weights is None:
        rule_weights = stage.trl_config.get("reward_weights")
    weights = grpo_reward_weights(rules, rule_weights, reward_models)
    extra_funcs = stage_reward_funcs(stage, fmt)  # loaded before any sampling starts
    examples = stage_examples(stage, StageInput.Role.TRAIN, "train")
    probes = probe_examples(stage)
    resume = retrying(stage.resume_checkpoint)() if stage.attempt > 1 else None
    with _sink(stage, examples + probes) as sink:
        result = run_grpo(
            model_path=model_path(stage),
            train_examples=[example.as_record() for example in examples],
            output_dir=str(output_dir(stage)),
            trl_config=stage.trl_config,
            reward_funcs=rules,
            sink=sink,
            resume_from_checkpoint=resume.path if resume else None,
            completion_format=fmt,
            reward_weights=weights,
            extra_reward_funcs=extra_funcs,
            probe_examples=[example.as_record() for example in probes],
            probe_every=probe_settings(params).every,
        )
    if is_main_process():
        write_retrying(checkpoint_record, stage_pk=stage.pk, step=result.steps,
                       path=result.checkpoint_path, final=True)
    return {"steps": result.steps, "completions_per_step": result.completions_per_step,
            "probe_rounds": result.probe_rounds, "probe_seconds": result.probe_seconds}


def probe_examples(stage: Stage) -> list[Example]:
    """The stage's probe prompts: the first held-out (test split) examples of what it
    trains on, the same set every round. None when probes are off or nothing is held out."""
    wanted = probe_settings(stage.params)
    if not wanted.enabled:
        return []
    return stage_examples(stage, StageInput.Role.TRAIN, "test")[: wanted.prompts]


def run_eval_stage(stage: Stage) -> dict:
    from workers.stages.evaluate import evaluate

    params = stage.params
    examples = stage_examples(stage, StageInput.Role.EVAL, params.get("split", "test"))
    if params.get("limit"):
        examples = examples[: params["limit"]]
    with _sink(stage, examples) as sink:
        scores = evaluate(
            model_path=model_path(stage),
            examples=[example.as_record() for example in examples],
            k=params.get("k", 4),
            sink=sink,
            max_new_tokens=params.get("max_new_tokens", 64),
            temperature=params.get("temperature", 1.0),
            seed=params.get("seed", 0),
            completion_format=completion_format(stage),
        )
    metrics_record(stage_pk=stage.pk, step=0, values={f"eval/{k}": v for k, v in scores.items()})
    return scores


def run_sft_stage(stage: Stage) -> dict:
    from workers.stages.sft import run_sft

    params = stage.params
    examples = stage_examples(stage, StageInput.Role.TRAIN, "train")
    eval_examples = stage_examples(stage, StageInput.Role.EVAL, params.get("eval_split", "test"))
    if not eval_examples:
        eval_examples = stage_examples(stage, StageInput.Role.TRAIN, "test")
    resume = retrying(stage.resume_checkpoint)() if stage.attempt > 1 else None
    with _sink(stage, examples + eval_examples) as sink:
        result = run_sft(
            model_path=model_path(stage),
            examples=[example.as_record() for example in examples],
            eval_examples=[example.as_record() for example in eval_examples] or None,
            output_dir=str(output_dir(stage)),
            trl_config=stage.trl_config,
            sink=sink,
            special_token=params.get("special_token", "|special_token|"),
            samples_per_eval=params.get("samples_per_eval", 4),
            max_new_tokens=params.get("max_new_tokens", 64),
            resume_from_checkpoint=resume.path if resume else None,
        )
    if is_main_process():
        write_retrying(checkpoint_record, stage_pk=stage.pk, step=result.steps,
                       path=result.checkpoint_path, final=True)
    return {"steps": result.steps, "train_loss": result.train_loss, "seconds": result.seconds}


def run_generate_stage(stage: Stage) -> dict:
    """Sample cold-start candidates and queue them for curation in the target dataset."""
    from r1web.curation.services import candidates_from_stage
    from workers.stages.generate import generate_candidates

    params = stage.params
    examples = stage_examples(stage, StageInput.Role.TRAIN, params.get("split") or None)
    if params.get("limit"):
        examples = examples[: params["limit"]]
    exemplars = stage_examples(stage, StageInput.Role.EXEMPLARS, None)
    with _sink(stage, examples) as sink:
        result = generate_candidates(
            model_path=model_path(stage),
            examples=[example.as_record() for example in examples],
            method=params.get("method", "direct"),
            exemplars=[example.as_record() for example in exemplars],
            special_token=params.get("special_token", "|special_token|"),
            shots=params.get("shots", 2),
            per_prompt=params.get("per_prompt", 2),
            max_new_tokens=params.get("max_new_tokens", 96),
            temperature=params.get("temperature", 0.8),
            seed=params.get("seed", 0),
            sink=sink,
        )
    result["queued"] = candidates_from_stage(stage=stage)
    return result


