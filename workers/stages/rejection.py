"""Rejection sampling (DeepSeek-R1 step 3): sample, judge, filter.

From one checkpoint, ``samples_per_prompt`` completions per prompt, each judged by the
rule rewards or, where a prompt has no reference answer, by a generative judge model;
then the readability filters and the per-prompt quota (``r1domain.rejection``).
Every sample, kept or not, is reported to the sink with its verdict, so the trace
browser shows why each one was dropped. Plain Python: no Django.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from r1domain import rejection
from r1domain.base import ConfigError, SampleRecord, StageCancelled, StageSink
from r1domain.coldstart import DEFAULT_TOKEN
from r1domain.formats import CompletionFormat
from r1domain.records import build_record
from workers.stages.evaluate import (
    SEQUENCES_PER_BATCH,
    generate_completions,
    load_policy,
)
from workers.stages.runtime import torch_threads

Example = dict[str, Any]

JUDGE_MAX_NEW_TOKENS = 16  # "correct" or "incorrect" and a little room to wander


@dataclass
class RejectionResult:
    records: list[SampleRecord]  # every sample, its verdict set
    pass_rates: list[float | None]  # per prompt; None where nothing could be judged
    seconds: float

    def kept(self) -> list[SampleRecord]:
        return [record for record in self.records if record.verdict == rejection.KEPT]

    def summary(self) -> dict:
        counts = rejection.verdict_counts(self.records)
        kept = counts.pop(rejection.KEPT, 0)
        return {
            "kept": kept,
            "samples": len(self.records),
            "prompts": len(self.pass_rates),
            "rejected": counts,
            "pass_rates": rejection.pass_rate_histogram(self.pass_rates),
            "seconds": self.seconds,
        }


class Judge:
    """A generative judge for the samples rules cannot check, asked greedily."""

    def __init__(self, path: str, policy=None) -> None:
        self.path = path
        self.model, self.tokenizer = policy or load_policy(path)

    def judge(self, records: list[SampleRecord]) -> None:
        """Fill ``judge`` and ``correct`` of each record from the judge's verdict."""
        if not records:
            return
        prompts = [
            rejection.judge_prompt(r.prompt, r.reference, r.completion) for r in records
        ]
        raws, _ = generate_completions(
            self.model, self.tokenizer, prompts, 1,
            max_new_tokens=JUDGE_MAX_NEW_TOKENS, temperature=0.0,
        )
        for record, prompt, raw in zip(records, prompts, raws):
            record.judge = rejection.judge_record(prompt, raw, self.path)
            record.correct = record.judge["verdict"] == rejection.CORRECT


def rejection_sample(
    *,
    model_path: str,
    examples: list[Example],
    sink: StageSink,
    samples_per_prompt: int = 4,
    keep_per_prompt: int = 1,
    completion_format: CompletionFormat | None = None,
    special_token: str = DEFAULT_TOKEN,
    pass_rate_window: tuple[float, float] | list[float] | None = None,
    judge_path: str | None = None,
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    seed: int = 0,
    threads: int | None = None,
) -> RejectionResult:
    """Sample, judge and filter; same seed, same verdicts.

    ``completion_format`` is how the model is prompted and parsed; ``special_token`` is
    the one of the cold-start format the kept samples will be written in. Reports one
    SampleRecord per sample (step 0, group = prompt index, index = sample index) and
    ``progress(prompts done, prompts)``.
    """
    params = {"samples_per_prompt": samples_per_prompt, "keep_per_prompt": keep_per_prompt,
              "temperature": temperature, "pass_rate_window": pass_rate_window}
    rejection.check_params(params)
    if not examples:
        raise ConfigError("rejection sampling needs at least one prompt")
    window = rejection.pass_rate_window(pass_rate_window)
    fmt = completion_format or CompletionFormat()
    started = time.perf_counter()
    records: list[SampleRecord] = []
    rates: list[float | None] = []
    per_batch = max(1, SEQUENCES_PER_BATCH // samples_per_prompt)
    with torch_threads(threads):
        torch.manual_seed(seed)
        policy = load_policy(model_path)
        judge = _judge_for(examples, judge_path, model_path, policy)
        for start in range(0, len(examples), per_batch):
            if sink.should_stop():
                raise StageCancelled("rejection sampling cancelled")
            batch = examples[start : start + per_batch]
            texts, lengths = generate_completions(
                *policy, [fmt.render_prompt(e["prompt"]) for e in batch], samples_per_prompt,
                max_new_tokens=max_new_tokens, temperature=temperature,
            )
            new = _records(batch, start, texts, lengths, samples_per_prompt, fmt)
            if judge is not None:
                judge.judge([r for r, e in zip(new, _each(batch, samples_per_prompt))
                             if rejection.needs_judge(e)])
            for i, example in enumerate(batch):
                group = new[i * samples_per_prompt : (i + 1) * samples_per_prompt]
                rates.append(rejection.decide_group(
                    group, keep=keep_per_prompt, window=window,
                    language=example.get("language") or "en", special_token=special_token,
                ))
            _score(new)
            records.extend(new)
            sink.samples(new)
            sink.progress(start + len(batch), len(examples))
    return RejectionResult(records, rates, round(time.perf_counter() - started, 2))


def _judge_for(examples, judge_path, model_path, policy) -> Judge | None:
    """A judge only when some prompt needs one; the policy itself when it is the judge."""
    if not judge_path or not any(rejection.needs_judge(e) for e in examples):
        return None
    return Judge(judge_path, policy if judge_path == model_path else None)


def _each(batch: list[Example], k: int) -> list[Example]:
    return [example for example in batch for _ in range(k)]


def _records(batch, first_group, texts, lengths, k, fmt) -> list[SampleRecord]:
    return [
        build_record(
            step=0, group=first_group + i // k, index=i % k, prompt=example["prompt"],
            completion=text, reference=str(example.get("answer") or ""),
            task=example.get("task") or "math", length_tokens=length,
            example_key=example.get("key", ""), completion_format=fmt,
        )
        for i, (text, length, example) in enumerate(zip(texts, lengths, _each(batch, k)))
    ]


def _score(records: list[SampleRecord]) -> None:
    # After judging: a judged sample's accuracy is the judge's verdict.
    for record in records:
        record.rewards = {"accuracy": float(record.correct), "format": float(record.format_ok)}
        record.reward = sum(record.rewards.values())
