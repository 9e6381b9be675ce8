"""A preference reward model on TRL's ``RewardTrainer`` (R1's helpfulness/harmlessness RM).

The stage config is TRL's own ``RewardConfig``. TRL loads the policy checkpoint as an
``AutoModelForSequenceClassification`` with ``num_labels=1`` (a fresh scalar head on the
causal LM's body) and trains it with the Bradley-Terry loss on explicit-prompt pairs:
``prompt`` (rendered in the stage's completion format, as the policy will be prompted in
GRPO), ``chosen`` and ``rejected``. Every logged metric goes to the sink; on evaluation
TRL logs ``eval_accuracy`` (the share of pairs scored chosen > rejected) and
``eval_margin`` (the mean score difference). Plain Python: no Django.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from r1domain.base import ConfigError, StageCancelled, StageSink
from r1domain.formats import COLD_START, CompletionFormat
from workers.stages.callbacks import SinkCallback
from workers.stages.runtime import ThreadShareCallback, torch_threads

Example = dict[str, Any]

# Small-model defaults under the user's RewardConfig fields: an evaluation at every
# quarter of the run gives the accuracy/margin curve a few points.
REWARD_DEFAULTS: dict[str, Any] = {
    "max_steps": 60,
    "per_device_train_batch_size": 16,
    "per_device_eval_batch_size": 32,
    "learning_rate": 1e-3,
    "lr_scheduler_type": "constant",
    "logging_steps": 1,
    "eval_strategy": "steps",
    "eval_steps": 0.25,
    "save_strategy": "no",
    "seed": 0,
}


@dataclass(frozen=True)
class RewardModelResult:
    steps: int
    checkpoint_path: str  # the sequence classifier and its tokenizer
    pairs: int  # training pairs left after TRL's max_length filter
    eval_accuracy: float | None
    eval_margin: float | None
    seconds: float


def _reward_config_class() -> type:
    from trl import RewardConfig

    return RewardConfig


def validate_reward_config(fields: dict[str, Any]) -> dict[str, Any]:
    """``REWARD_DEFAULTS`` under the user's ``RewardConfig`` fields, checked against
    r1web's allow-list and built once; raises ``ConfigError`` naming a bad field."""
    from workers.stages.trl_config import validate_trl_config

    if not isinstance(fields, dict):
        raise ConfigError("RewardConfig must be a JSON object of RewardConfig fields")
    return validate_trl_config({**REWARD_DEFAULTS, **fields}, _reward_config_class(),
                               "RewardConfig")


def preference_rows(examples: list[Example], fmt: CompletionFormat) -> list[dict]:
    """TRL's explicit-prompt preference rows; pairs without both responses are refused."""
    rows = []
    for e in examples:
        chosen, rejected = str(e.get("completion") or ""), str(e.get("rejected") or "")
        if not chosen or not rejected:
            key = e.get("key") or e.get("prompt", "")[:40]
            raise ConfigError(f"example {key!r} is not a preference pair (chosen and rejected)")
        rows.append({"prompt": fmt.render_prompt(e["prompt"]), "chosen": chosen,
                     "rejected": rejected})
    if not rows:
        raise ConfigError("a reward model needs preference pairs (a preference dataset)")
    return rows


class _EvalTracker(TrainerCallback):
    """Remembers the latest evaluation so the run ends with one at its last step."""

    def __init__(self) -> None:
        self.step: int | None = None
        self.metrics: dict[str, float] = {}

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.step, self.metrics = state.global_step, dict(metrics or {})


def run_reward_model(
    *,
    model_path: str,
    examples: list[Example],
    output_dir: str,
    trl_config: dict[str, Any],
    sink: StageSink,
    eval_examples: list[Example] | None = None,
    completion_format: CompletionFormat | None = None,
) -> RewardModelResult:
    """Train a reward model on ``examples`` (dicts with prompt, completion = the chosen
    response, rejected) and evaluate it on ``eval_examples``; the model and tokenizer are
    saved to ``output_dir/final``.

    Raises ``ConfigError`` before any work on a bad config or data, ``StageCancelled``
    after a clean stop when ``sink.should_stop()`` turned true.
    """
    from datasets import Dataset
    from trl import RewardTrainer

    from workers.stages.trl_config import build_stage_config

    fmt = completion_format or CompletionFormat(COLD_START)
    fields = validate_reward_config(trl_config)
    train_rows = preference_rows(examples, fmt)
    eval_rows = preference_rows(eval_examples, fmt) if eval_examples else None
    if eval_rows is None:
        fields = {**fields, "eval_strategy": "no"}  # nothing to evaluate on
    config = build_stage_config(_reward_config_class(), fields, output_dir)
    if sink.should_stop():
        raise StageCancelled("cancelled before the reward model started")
    started = time.perf_counter()
    callback, tracker = SinkCallback(sink), _EvalTracker()
    with torch_threads():
        tokenizer = _load_tokenizer(model_path)
        trainer = RewardTrainer(
            model=model_path, args=config, train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
            processing_class=tokenizer, callbacks=[ThreadShareCallback(), callback, tracker],
        )
        _quiet(trainer)
        pairs = len(trainer.train_dataset)
        if not pairs:
            raise ConfigError(f"every pair is longer than max_length={config.max_length} tokens")
        trainer.train()
        steps = trainer.state.global_step
        if callback.cancelled:
            raise StageCancelled(f"the reward model stopped at step {steps}")
        if eval_rows and tracker.step != steps:
            trainer.evaluate()  # the final values the stage page shows
        final = _save(trainer, tokenizer, Path(output_dir) / "final")
    return RewardModelResult(
        steps=steps, checkpoint_path=str(final), pairs=pairs,
        eval_accuracy=_finite(tracker.metrics.get("eval_accuracy")),
        eval_margin=_finite(tracker.metrics.get("eval_margin")),
        seconds=round(time.perf_counter() - started, 2),
    )


def _load_tokenizer(model_path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _save(trainer, tokenizer, final: Path) -> Path:
    # A sequence classifier finds each sequence's last real token through pad_token_id;
    # the saved config must carry it or batched scoring reads padding.
    trainer.model.config.pad_token_id = tokenizer.pad_token_id
    trainer.save_model(str(final))
    tokenizer.save_pretrained(str(final))
    return final


def _finite(value: Any) -> float | None:
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


def _quiet(trainer) -> None:
    """Logs go to the sink; the console printer would only duplicate them in worker logs."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
