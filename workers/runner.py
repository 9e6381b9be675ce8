"""Run one claimed stage: decode its parameters once, call its kind's runner (plain stage
code with a database sink) and record the outcome.

``RUNNERS`` is the worker's own table of what runs each stage kind. The web process's
registry (``r1web.runs.registry``) says which kinds exist; ``check_runners`` holds the
two together and runs when a worker starts, so a kind without a runner stops the worker
at once instead of failing every stage of that kind later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from r1domain.base import ConfigError, StageCancelled
from r1web.runs.models import Stage, StageKind
from r1web.runs.services import stage_fail, stage_succeed
from workers.recording import Heartbeat, retrying, write_retrying
from workers.runners.build_base import run_build_base_stage
from workers.runners.cot import run_cot_stage
from workers.runners.evaluate import run_eval_stage
from workers.runners.generate import run_generate_stage
from workers.runners.grpo import run_grpo_stage
from workers.runners.mix import run_mix_stage
from workers.runners.rejection import run_rejection_stage
from workers.runners.reward_model import run_reward_model_stage
from workers.runners.sft import run_sft_stage

log = logging.getLogger(__name__)

# A runner takes the claimed stage and its decoded parameters (the kind's type) and
# returns the stage's result (shown on its page).
Runner = Callable[[Stage, Any], dict]

RUNNERS: dict[str, Runner] = {
    StageKind.GRPO: run_grpo_stage,
    StageKind.SFT: run_sft_stage,
    StageKind.EVAL: run_eval_stage,
    StageKind.GENERATE: run_generate_stage,
    StageKind.REJECTION_SAMPLING: run_rejection_stage,
    StageKind.MIX: run_mix_stage,
    StageKind.REWARD_MODEL: run_reward_model_stage,
    StageKind.ADD_COT: run_cot_stage,
    StageKind.BUILD_BASE: run_build_base_stage,
}


def check_runners() -> None:
    """Every stage kind the registry knows has a runner here, and nothing else does."""
    from r1web.runs.registry import STAGE_KINDS

    missing = ", ".join(sorted(str(kind) for kind in set(STAGE_KINDS) - set(RUNNERS)))
    unknown = ", ".join(sorted(str(kind) for kind in set(RUNNERS) - set(STAGE_KINDS)))
    if missing or unknown:
        raise RuntimeError(f"stage kinds without a runner: {missing or 'none'}; runners of "
                           f"no known kind: {unknown or 'none'}")


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


def stage_runner(stage: Stage) -> Callable[[], dict]:
    """The call that runs ``stage`` here: its runner with its decoded parameters, or the
    supervisor of its processes when it trains as several. ConfigError when its
    parameters do not decode or its kind has no runner."""
    runner = RUNNERS.get(stage.kind)
    if runner is None:
        raise ConfigError(f"no runner for stage kind {stage.kind!r}")
    params = stage.parameters()
    processes = getattr(params, "num_processes", 1)
    if processes > 1:
        from workers.distributed import run_distributed

        return lambda: run_distributed(stage, params)  # the worker supervises; they train
    return lambda: runner(stage, params)


def _execute(stage: Stage) -> None:
    quiet_progress_bars()
    # The outcome is this attempt's: a worker that lost the stage meanwhile changes nothing.
    # It is recorded through a database restart, like everything the stage writes.
    attempt = stage.attempt
    try:
        result = stage_runner(stage)()
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
