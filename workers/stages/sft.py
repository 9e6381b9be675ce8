"""Supervised fine-tuning on TRL's SFTTrainer (cold start, distillation).

The stage config is TRL's own ``SFTConfig``: any field by its TRL name. The model learns
prompt -> completion pairs (the completion is the cold-start text
``|special_token|reasoning|special_token|summary``); the loss is on the completion only.
Like GRPO, it reports its logged metrics (loss curves) and, at every evaluation, a few
sampled generations as samples. Plain Python: no Django.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from r1domain.base import ConfigError, SampleRecord, StageCancelled, StageSink
from r1domain.coldstart import ColdStartFormatError, parse_cold_start
from r1domain.formats import COLD_START, get_format
from r1domain.reflection import find_reflection_phrases
from r1domain.rewards import is_equivalent
from workers import shutdown
from workers.stages.runtime import ThreadShareCallback, torch_threads

Example = dict[str, Any]

# Small-model defaults, stored with the stage; its trl_config overrides any of them.
# What the worker's hardware needs (use_cpu, bf16, report_to, disable_tqdm) is added
# only when the worker builds the config: see trl_config.hardware_defaults().
SFT_DEFAULTS: dict[str, Any] = {
    "max_steps": 20,
    "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 8,
    "learning_rate": 5e-4,
    "lr_scheduler_type": "constant",
    "logging_steps": 1,
    "eval_strategy": "steps",
    "eval_steps": 10,
    "save_strategy": "no",
    "max_length": 256,
    "seed": 0,
}


@dataclass
class SFTResult:
    steps: int
    checkpoint_path: str
    train_loss: float | None
    seconds: float


def validate_sft_config(config: dict) -> dict:
    """``SFT_DEFAULTS`` merged with the user's ``config``, checked against r1web's
    allow-list and built once as an ``SFTConfig``; raises ``ConfigError`` naming a field
    that is unknown, not settable from r1web, or out of range."""
    from trl import SFTConfig

    from workers.stages.trl_config import validate_trl_config

    if not isinstance(config, dict):
        raise ConfigError("SFTConfig must be a JSON object of SFTConfig fields")
    return validate_trl_config({**SFT_DEFAULTS, **config}, SFTConfig, "SFTConfig")


def render_prompt(prompt: str) -> str:
    """SFT teaches the cold-start format, prompted as every later stage will prompt it."""
    return get_format(COLD_START).render_prompt(prompt)


def _rows(examples: list[Example]) -> list[dict]:
    rows = [
        {"prompt": render_prompt(e["prompt"]), "completion": str(e["completion"])}
        for e in examples
        if e.get("completion")
    ]
    if not rows:
        raise ConfigError("SFT needs examples with a completion (an SFT dataset version)")
    return rows


def run_sft(
    *,
    model_path: str,
    examples: list[Example],
    output_dir: str,
    trl_config: dict,
    sink: StageSink,
    eval_examples: list[Example] | None = None,
    special_token: str = "|special_token|",
    samples_per_eval: int = 4,
    max_new_tokens: int = 64,
    resume_from_checkpoint: str | None = None,
) -> SFTResult:
    """Train on ``examples`` (train split); evaluate (loss and sampled generations) on
    ``eval_examples``, or on the first few training examples when there are none.

    Raises ``StageCancelled`` at once when ``sink.should_stop()`` turns true (a cancel),
    and at the end of a step when the worker is leaving (``workers.shutdown``), after
    saving a checkpoint there, which ``resume_from_checkpoint`` continues from."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from workers.stages.trl_config import build_stage_config

    config = validate_sft_config(trl_config)
    eval_examples = eval_examples or examples[:samples_per_eval]
    started = time.perf_counter()
    with torch_threads():
        tokenizer = AutoTokenizer.from_pretrained(model_path)
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        model = AutoModelForCausalLM.from_pretrained(model_path)
        add_format_token(tokenizer, model, special_token)
        args = build_stage_config(SFTConfig, config, output_dir)
        # The sink prunes old checkpoints once it has recorded the new one, as for GRPO.
        keep, args.save_total_limit = args.save_total_limit, None
        callback = _SinkCallback(
            sink, tokenizer, eval_examples[:samples_per_eval], special_token, max_new_tokens,
            keep=keep,
        )
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(_rows(examples)),
            eval_dataset=Dataset.from_list(_rows(eval_examples)),
            processing_class=tokenizer,
            callbacks=[ThreadShareCallback(), callback],
        )
        _quiet(trainer)
        output = trainer.train(resume_from_checkpoint=resume_from_checkpoint)
        if callback.stopped:
            raise StageCancelled(f"SFT stopped at step {trainer.state.global_step}")
        final = Path(output_dir) / "final"
        trainer.save_model(str(final))
        tokenizer.save_pretrained(str(final))
    return SFTResult(
        steps=trainer.state.global_step,
        checkpoint_path=str(final),
        train_loss=getattr(output, "training_loss", None),
        seconds=round(time.perf_counter() - started, 2),
    )


def add_format_token(tokenizer, model, token: str) -> bool:
    """Make the cold-start delimiter one token of the vocabulary, as R1's is.

    Spelled out in byte-level pieces, ``|special_token|`` takes a dozen tokens that
    sampling at temperature 1 garbles often enough to break the format; as one learned
    token it is emitted whole. It is added as a plain token (not a "special" one) so
    that decoding with ``skip_special_tokens`` keeps it in the text.
    """
    if not token or token in tokenizer.get_vocab():
        return False
    tokenizer.add_tokens([token])
    model.resize_token_embeddings(len(tokenizer))
    return True


def _quiet(trainer) -> None:
    """Logs go to the sink; the console printer would only duplicate them in worker logs."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)


def _callback_base():
    from transformers import TrainerCallback

    return TrainerCallback


class _SinkCallback(_callback_base()):
    """Forwards the trainer's logs, progress, evaluations and checkpoints to the sink."""

    def __init__(
        self, sink: StageSink, tokenizer, eval_examples, special_token: str, max_new_tokens: int,
        keep: int | None = None,
    ):
        self.sink, self.tokenizer = sink, tokenizer
        self.eval_examples, self.special_token = eval_examples, special_token
        self.max_new_tokens = max_new_tokens
        self.keep = keep  # save_total_limit, applied by the sink once a save is recorded
        self.stopped = False

    def on_log(self, args, state, control, logs=None, **kwargs):
        # TRL's own names ("loss", "eval_loss", "mean_token_accuracy"...), as GRPO logs them.
        values = {k: v for k, v in (logs or {}).items() if isinstance(v, (int, float))}
        if values:
            self.sink.metrics(state.global_step, values)

    def on_step_end(self, args, state, control, **kwargs):
        self.sink.progress(state.global_step, state.max_steps)
        if shutdown.leaving():
            # A worker that is leaving hands the stage back, from a checkpoint saved here.
            self.stopped = control.should_save = control.should_training_stop = True
        elif self.sink.should_stop():
            raise StageCancelled("SFT cancelled")

    def on_save(self, args, state, control, **kwargs):
        path = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        self.sink.checkpoint_saved(state.global_step, str(path), keep=self.keep)

    def on_evaluate(self, args, state, control, model=None, **kwargs):
        if model is not None and self.eval_examples:
            self.sink.samples(self._sampled(model, state.global_step))

    def _sampled(self, model, step: int) -> list[SampleRecord]:
        prompts = [render_prompt(e["prompt"]) for e in self.eval_examples]
        was_training = model.training
        model.eval()
        self.tokenizer.padding_side = "left"
        inputs = self.tokenizer(
            prompts, return_tensors="pt", padding=True, add_special_tokens=False
        )
        inputs = {k: v.to(model.device) for k, v in inputs.items()}
        with torch.no_grad():
            output = model.generate(
                **inputs,
                max_new_tokens=self.max_new_tokens,
                do_sample=False,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
            )
        if was_training:
            model.train()
        new_ids = output[:, inputs["input_ids"].shape[1] :]
        texts = self.tokenizer.batch_decode(new_ids, skip_special_tokens=True)
        lengths = [int((row != self.tokenizer.pad_token_id).sum()) for row in new_ids]
        return [
            sampled_record(step, group, e, text, length, self.special_token)
            for group, (e, text, length) in enumerate(zip(self.eval_examples, texts, lengths))
        ]


def sampled_record(
    step: int, group: int, example: Example, text: str, length: int, token: str
) -> SampleRecord:
    """A generation in the cold-start format, scored like the trace browser expects."""
    try:
        reasoning, summary = parse_cold_start(text, token)
        format_ok = True
    except ColdStartFormatError:
        reasoning, summary, format_ok = text.replace(token, " ").strip(), "", False
    reference = str(example.get("answer", ""))
    correct = bool(reference) and is_equivalent(summary, reference, example.get("task", "math"))
    return SampleRecord(
        step=step,
        group=group,
        index=0,
        prompt=example["prompt"],
        completion=text,
        think=reasoning,
        answer=summary,
        reference=reference,
        rewards={"format": float(format_ok), "accuracy": float(correct)},
        reward=float(format_ok) + float(correct),
        advantage=0.0,
        length_tokens=length,
        correct=correct,
        format_ok=format_ok,
        reflection_phrases=find_reflection_phrases(reasoning),
        example_key=str(example.get("key", "")),
    )
