"""GRPO (R1-Zero's RL) on TRL's ``GRPOTrainer``, reporting every sample to a sink.

Recording rule: every optimizer step must sample fresh completions, i.e.
``steps_per_generation * num_iterations`` must divide ``gradient_accumulation_steps``
(TRL's defaults, ``steps_per_generation = gradient_accumulation_steps`` and
``num_iterations = 1``, satisfy it). Then each step records exactly
``completions_per_step = generation_batch_size * gradient_accumulation_steps /
(steps_per_generation * num_iterations)`` samples, so a run of N steps stores
N * completions_per_step samples: no more, no fewer.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from transformers import TrainerCallback

from r1domain.base import ConfigError, SampleRecord, StageCancelled, StageSink
from r1domain.formats import CompletionFormat, from_column
from r1domain.probes import is_probe_step, probe_records
from r1domain.records import build_record
from r1domain.rewards import get_reward_funcs
from workers import shutdown
from workers.stages.runtime import ThreadShareCallback, torch_threads
from workers.stages.trl_config import build_stage_config, validate_trl_config

Example = dict[str, Any]


@dataclass(frozen=True)
class GrpoResult:
    steps: int
    completions_per_step: int
    checkpoint_path: str  # the final model (with tokenizer), ready for evaluate()
    probe_rounds: int = 0
    probe_seconds: float = 0.0  # generation and scoring of every probe round together


def _grpo_config_class() -> type:
    from trl import GRPOConfig

    return GRPOConfig


def validate_grpo_config(fields: dict[str, Any]) -> dict[str, Any]:
    """The user's ``trl.GRPOConfig`` fields by their TRL names, checked before any work
    starts (allow-list, ranges, batch arithmetic and the recording rule, then a build).

    Returns only what the user set, normalised; the worker adds its hardware defaults
    when it builds the config. Raises ``ConfigError`` naming the field.
    """
    return validate_trl_config(fields, _grpo_config_class(), "GRPOConfig")


def completions_per_step(config: Any) -> int:
    per_generation = config.steps_per_generation * config.num_iterations
    return config.generation_batch_size * config.gradient_accumulation_steps // per_generation


def to_dataset(examples: list[Example], fmt: CompletionFormat | None = None):
    """TRL dataset: the prompt rendered in the stage's format plus the columns the
    rewards read (``completion_format`` tells them how to parse a completion)."""
    from datasets import Dataset

    fmt = fmt or CompletionFormat()
    return Dataset.from_list(
        [
            {
                "prompt": fmt.render_prompt(e["prompt"]),
                "completion_format": fmt.as_column(),
                "question": e["prompt"],
                "answer": str(e["answer"]),
                "task": str(e.get("task") or "math"),
                "language": str(e.get("language") or "en"),
                "key": str(e.get("key") or ""),
            }
            for e in examples
        ]
    )


class SinkCallback(TrainerCallback):
    """Metrics, progress, checkpoints and cancellation between TRL and the sink."""

    def __init__(self, sink: StageSink, keep: int | None = None) -> None:
        self.sink = sink
        self.keep = keep  # save_total_limit, applied by the sink once a save is recorded
        self.cancelled = False

    def on_step_end(self, args, state, control, **kwargs):
        self.sink.progress(state.global_step, state.max_steps)
        # A worker that is leaving hands the stage back, from a checkpoint saved here.
        leaving = shutdown.leaving()
        if leaving or self.sink.should_stop():
            self.cancelled = True
            control.should_training_stop = True
            control.should_save = control.should_save or leaving

    def on_log(self, args, state, control, logs=None, **kwargs):
        values = {
            key: float(value)
            for key, value in (logs or {}).items()
            if isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value)
        }
        if values:
            self.sink.metrics(state.global_step, values)

    def on_save(self, args, state, control, **kwargs):
        path = os.path.join(args.output_dir, f"checkpoint-{state.global_step}")
        self.sink.checkpoint_saved(state.global_step, path, keep=self.keep)


class ProbeCallback(TrainerCallback):
    """Before training, every ``every`` steps and after the last step, the current policy
    answers the probe prompts greedily (``r1domain.probes``); the answers go to the
    sink as probe samples. Runs on the main process only, under ``torch.no_grad``."""

    def __init__(self, sink: StageSink, examples: list[Example], every: int, tokenizer, *,
                 reward_funcs: list[str], reward_weights: list[float] | None,
                 completion_format: CompletionFormat, max_new_tokens: int) -> None:
        self.sink, self.examples, self.every, self.tokenizer = sink, examples, every, tokenizer
        self.reward_funcs, self.reward_weights = reward_funcs, reward_weights
        self.format, self.max_new_tokens = completion_format, max_new_tokens
        self.rounds, self.seconds = 0, 0.0

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if state.global_step == 0:  # a resumed run probed its earlier steps already
            self._round(0, state, model)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if is_probe_step(state.global_step, self.every, state.max_steps):
            self._round(state.global_step, state, model)

    def _round(self, step: int, state, model) -> None:
        if not state.is_world_process_zero or self.sink.should_stop():
            return
        started = time.perf_counter()
        model = getattr(model, "module", model)  # unwrapped from DistributedDataParallel
        prompts = [self.format.render_prompt(e["prompt"]) for e in self.examples]
        completions, lengths = greedy_completions(model, self.tokenizer, prompts,
                                                  self.max_new_tokens)
        self.sink.samples(probe_records(
            step=step, examples=self.examples, completions=completions, lengths=lengths,
            reward_funcs=self.reward_funcs, reward_weights=self.reward_weights,
            completion_format=self.format,
        ))
        self.rounds += 1
        self.seconds += time.perf_counter() - started


def greedy_completions(model, tokenizer, prompts: list[str], max_new_tokens: int):
    """One greedy completion per prompt and its length in tokens (EOS included); the
    model is left in the mode it was in."""
    from workers.stages.evaluate import _completion_lengths

    training = model.training
    model.eval()
    try:
        inputs = tokenizer(prompts, return_tensors="pt", padding=True,
                           add_special_tokens=False).to(model.device)
        with torch.no_grad():
            output = model.generate(
                **inputs, max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                temperature=None, top_k=None, top_p=None,
                pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
            )
    finally:
        model.train(training)
    new_ids = output[:, inputs["input_ids"].shape[1]:].cpu()
    texts = tokenizer.batch_decode(new_ids, skip_special_tokens=True)
    return texts, _completion_lengths(new_ids, tokenizer.eos_token_id, tokenizer.pad_token_id)


def _make_trainer_class():
    from accelerate.utils import gather_object
    from trl import GRPOTrainer

    class RecordingGRPOTrainer(GRPOTrainer):
        """Sends each generation batch to the sink as SampleRecords.

        TRL keeps the latest generation batch's prompts, completions, per-function
        rewards and advantages in ``self._logs`` (gathered over processes); reading them
        right after TRL scored the batch gives exactly what the policy update used.
        """

        def __init__(self, *args, sink: StageSink, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.sink = sink
            self._recorded_step = -1
            self._batches_in_step = 0
            self._lengths: list[int] = []

        def _generate(self, prompts):
            result = super()._generate(prompts)
            self._lengths = [len(ids) for ids in result[1]]  # completion ids, EOS included
            return result

        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            if self.model.training:
                self._record(inputs)
            return output

        def _next_group_offset(self, groups: int) -> tuple[int, int]:
            step = self.state.global_step + 1  # the optimizer step these samples feed
            if step != self._recorded_step:
                self._recorded_step, self._batches_in_step = step, 0
            offset = self._batches_in_step * groups
            self._batches_in_step += 1
            return step, offset

        def _record(self, inputs: list[dict]) -> None:
            columns = {
                name: gather_object([x[name] for x in inputs])
                for name in ("question", "answer", "task", "key", "completion_format")
            }
            lengths = gather_object(self._lengths)
            n = len(lengths)
            rewards = {name: list(v)[-n:] for name, v in self._logs["rewards"].items()}
            completions = list(self._logs["completion"])[-n:]
            advantages = list(self._logs["advantages"])[-n:]
            records = self._build_records(columns, lengths, completions, rewards, advantages)
            rate = sum(bool(r.reflection_phrases) for r in records) / max(1, len(records))
            self._metrics["train"]["reflection_rate"].append(rate)
            if self.accelerator.is_main_process:
                self.sink.samples(records)

        def _build_records(self, columns, lengths, completions, rewards, advantages):
            g = self.num_generations
            step, offset = self._next_group_offset(len(lengths) // g)
            weights = self.reward_weights.tolist()
            records: list[SampleRecord] = []
            for i, completion in enumerate(completions):
                per_func = {name: float(values[i]) for name, values in rewards.items()}
                total = sum(w * v for w, v in zip(weights, per_func.values()) if not math.isnan(v))
                accuracy = per_func.get("accuracy")
                records.append(
                    build_record(
                        step=step, group=offset + i // g, index=i % g,
                        prompt=columns["question"][i], completion=completion,
                        reference=columns["answer"][i], task=columns["task"][i],
                        length_tokens=lengths[i], rewards=per_func, reward=total,
                        advantage=advantages[i], example_key=columns["key"][i],
                        correct=None if accuracy is None else accuracy >= 1.0,
                        completion_format=from_column(columns["completion_format"][i]),
                    )
                )
            return records

    return RecordingGRPOTrainer


def _weights_list(reward_funcs: list[str], weights: Any) -> list[float] | None:
    if weights is None:
        return None
    if isinstance(weights, dict):
        unknown = sorted(set(weights) - set(reward_funcs))
        if unknown:
            raise ConfigError(f"reward_weights names unused reward function(s): {unknown}")
        return [float(weights.get(name, 1.0)) for name in reward_funcs]
    if len(weights) != len(reward_funcs):
        raise ConfigError("reward_weights needs one weight per reward function")
    return [float(w) for w in weights]


def _load_tokenizer(model_path: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def run_grpo(
    *,
    model_path: str,
    train_examples: list[Example],
    output_dir: str,
    trl_config: dict[str, Any],
    reward_funcs: list[str],
    sink: StageSink,
    resume_from_checkpoint: str | None = None,
    reward_weights: list[float] | dict[str, float] | None = None,
    completion_format: CompletionFormat | None = None,
    extra_reward_funcs: list[Callable] | None = None,
    probe_examples: list[Example] | None = None,
    probe_every: int = 0,
) -> GrpoResult:
    """Train with GRPO and report as it goes; the final model is saved to ``output_dir``.

    ``extra_reward_funcs`` (reward models, see ``reward_models.reward_model_func``) come
    after the named rule functions, each logged under its ``__name__``; weights, by list
    or by name, cover rules then extras. Raises ``ConfigError`` before any work on a bad
    config, ``StageCancelled`` after a clean stop when ``sink.should_stop()`` turned
    true. When resuming, only steps after the checkpoint are sampled, so no sample is
    reported twice. With ``probe_examples`` and ``probe_every`` > 0 the policy also
    answers those prompts now and then (``ProbeCallback``), reported as probe samples.
    """
    fields = validate_grpo_config(trl_config)
    extra = list(extra_reward_funcs or [])
    funcs = (get_reward_funcs(reward_funcs) if reward_funcs or not extra else []) + extra
    names = [*reward_funcs, *(getattr(func, "__name__", "") for func in extra)]
    weights = _weights_list(names, reward_weights)
    if weights is not None:
        fields = {**fields, "reward_weights": weights}
    if not train_examples:
        raise ConfigError("GRPO needs at least one training example")
    config = build_stage_config(_grpo_config_class(), fields, output_dir)
    if sink.should_stop():
        raise StageCancelled("cancelled before GRPO started")
    # The Trainer would delete old checkpoints before the sink has recorded the new one
    # (r1domain.checkpoints); the sink prunes instead, once it has.
    keep, config.save_total_limit = config.save_total_limit, None
    callback = SinkCallback(sink, keep)
    tokenizer = _load_tokenizer(model_path)
    probes = None
    if probe_examples and probe_every > 0:
        probes = ProbeCallback(
            sink, probe_examples, probe_every, tokenizer, reward_funcs=list(reward_funcs),
            reward_weights=weights[: len(reward_funcs)] if weights else None,
            completion_format=completion_format or CompletionFormat(),
            max_new_tokens=config.max_completion_length,
        )
    callbacks: list[TrainerCallback] = [ThreadShareCallback(), callback, *filter(None, [probes])]
    # A worker killed after the last step's checkpoint left nothing to train; resumed
    # there, transformers' Trainer would take (and sample) one step past max_steps.
    done = checkpoint_step(resume_from_checkpoint)
    trained = 0 < config.max_steps <= done
    with torch_threads():
        trainer = _make_trainer_class()(
            model=resume_from_checkpoint if trained else model_path, reward_funcs=funcs,
            args=config, train_dataset=to_dataset(train_examples, completion_format),
            processing_class=tokenizer, callbacks=callbacks, sink=sink,
        )
        _quiet(trainer)
        if not trained:
            trainer.train(resume_from_checkpoint=resume_from_checkpoint)
        steps = done if trained else trainer.state.global_step
        if callback.cancelled:
            raise StageCancelled(f"GRPO stopped at step {steps}")
        trainer.save_model(output_dir)
    return GrpoResult(steps, completions_per_step(config), output_dir,
                      probes.rounds if probes else 0, round(probes.seconds, 3) if probes else 0.0)


def checkpoint_step(path: str | None) -> int:
    """The optimizer steps a Trainer checkpoint holds; 0 without one (or unreadable:
    then ``Trainer.train`` says what is wrong with it)."""
    state = os.path.join(path or "", "trainer_state.json")
    if not path or not os.path.isfile(state):
        return 0
    with open(state) as file:
        return int(json.load(file).get("global_step", 0))


def _quiet(trainer) -> None:
    """With tqdm off, transformers prints every log dict to stdout; the sink already
    gets them, so worker logs stay readable without the copy."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
