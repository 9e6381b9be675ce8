"""Cold-start candidate generators (DeepSeek-R1, section 2.3.1).

Two ways of asking a model for long chains of thought:

* few-shot prompting with long-CoT exemplars the user supplies;
* direct prompting for detailed answers with reflection and verification.

Both ask for the R1-Zero ``<think>``/``<answer>`` form, which the curation queue
converts to the dataset's ``|special_token|`` format for editing. Every completion is
reported to the sink as a sample (step 0, group = prompt, index = completion), so it is
browsable like any other trace. Plain Python: no Django.
"""

from __future__ import annotations

import time
from typing import Any

import torch

from r1domain.base import ConfigError, SampleRecord, StageCancelled, StageSink
from r1domain.coldstart import DEFAULT_TOKEN, ColdStartFormatError, parse_cold_start
from r1domain.parsing import extract_answer, extract_think
from r1domain.prompts import render_r1_zero
from r1domain.records import build_record
from workers.stages.evaluate import SEQUENCES_PER_BATCH, generate_completions, load_policy
from workers.stages.runtime import torch_threads

Example = dict[str, Any]
METHODS = ("few_shot", "direct")

DIRECT_INSTRUCTION = (
    "Solve the problem carefully. Think step by step in detail, reflect on each step, "
    "and verify the result (check it again another way) before giving the final answer. "
)


def exemplar_parts(exemplar: Example, special_token: str) -> tuple[str, str]:
    """(reasoning, summary) of an exemplar in the cold-start format or the think/answer form."""
    completion = str(exemplar.get("completion") or "")
    try:
        return parse_cold_start(completion, special_token)
    except ColdStartFormatError:
        return extract_think(completion), extract_answer(completion) or str(
            exemplar.get("answer", "")
        )


def render_few_shot(prompt: str, exemplars: list[Example], special_token: str) -> str:
    """The exemplars as solved R1-Zero conversations, then the problem to continue."""
    shots = []
    for exemplar in exemplars:
        reasoning, summary = exemplar_parts(exemplar, special_token)
        solved = f" <think> {reasoning} </think> <answer> {summary} </answer>"
        shots.append(render_r1_zero(exemplar["prompt"]) + solved)
    return "\n\n".join([*shots, render_r1_zero(prompt)])


def render_direct(prompt: str) -> str:
    return DIRECT_INSTRUCTION + render_r1_zero(prompt)


def render_prompts(
    examples: list[Example], method: str, exemplars: list[Example], special_token: str, shots: int
) -> list[str]:
    if method not in METHODS:
        raise ConfigError(f"unknown generation method {method!r} (known: {', '.join(METHODS)})")
    if method == "direct":
        return [render_direct(e["prompt"]) for e in examples]
    usable = [e for e in exemplars if e.get("completion")]
    if not usable:
        raise ConfigError("few-shot prompting needs exemplars with completions")
    return [render_few_shot(e["prompt"], usable[:shots], special_token) for e in examples]


def generate_candidates(
    *,
    model_path: str,
    examples: list[Example],
    method: str,
    sink: StageSink,
    exemplars: list[Example] | None = None,
    special_token: str = DEFAULT_TOKEN,
    shots: int = 2,
    per_prompt: int = 2,
    max_new_tokens: int = 96,
    temperature: float = 0.8,
    seed: int = 0,
) -> dict[str, float]:
    """Sample ``per_prompt`` candidates per example and report them to ``sink``."""
    if not examples:
        raise ConfigError("candidate generation needs at least one prompt")
    prompts = render_prompts(examples, method, exemplars or [], special_token, shots)
    started, produced, correct = time.perf_counter(), 0, 0
    per_batch = max(1, SEQUENCES_PER_BATCH // per_prompt // 4)
    with torch_threads():
        torch.manual_seed(seed)
        model, tokenizer = load_policy(model_path)
        for start in range(0, len(examples), per_batch):
            if sink.should_stop():
                raise StageCancelled("generation cancelled")
            batch = examples[start : start + per_batch]
            texts, lengths = generate_completions(
                model,
                tokenizer,
                prompts[start : start + per_batch],
                per_prompt,
                max_new_tokens=max_new_tokens,
                temperature=temperature,
            )
            records = _records(batch, start, texts, lengths, per_prompt)
            sink.samples(records)
            sink.progress(start + len(batch), len(examples))
            produced += len(records)
            correct += sum(r.correct for r in records)
    return {
        "candidates": produced,
        "correct": correct,
        "prompts": len(examples),
        "seconds": round(time.perf_counter() - started, 2),
    }


def _records(batch, first_group, texts, lengths, per_prompt) -> list[SampleRecord]:
    records = []
    for i, (text, length) in enumerate(zip(texts, lengths)):
        example = batch[i // per_prompt]
        record = build_record(
            step=0,
            group=first_group + i // per_prompt,
            index=i % per_prompt,
            prompt=example["prompt"],
            completion=text,
            reference=str(example.get("answer", "")),
            task=example.get("task", "math"),
            length_tokens=length,
            example_key=example.get("key", ""),
        )
        record.rewards = {"accuracy": float(record.correct), "format": float(record.format_ok)}
        record.reward = sum(record.rewards.values())
        records.append(record)
    return records
