"""Held-out evaluation: pass@1 and maj@k over k sampled completions per problem.

pass@1 is the mean correctness of all k samples (the R1 report's estimator); maj@k takes
the most frequent final answer of the k samples, equivalent answers counted together.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from r1domain.base import SampleRecord, StageCancelled, StageSink
from r1domain.formats import CompletionFormat
from r1domain.records import build_record
from r1domain.rewards import is_equivalent
from workers.stages.runtime import rebalance, torch_threads

Example = dict[str, Any]

# Sequences generated together; bounded so memory stays small on CPU workers.
SEQUENCES_PER_BATCH = 256


def load_policy(model_path: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path)
    tokenizer.padding_side = "left"  # decoder-only generation continues the prompt's end
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(model_path)
    model.eval()
    return model, tokenizer


def majority_answer(answers: Sequence[str], task: str) -> str:
    """The answer of the largest class of equivalent non-empty answers (first on ties)."""
    classes: list[list[str]] = []
    for answer in answers:
        if not answer:
            continue
        for members in classes:
            if is_equivalent(answer, members[0], task):
                members.append(answer)
                break
        else:
            classes.append([answer])
    return max(classes, key=len)[0] if classes else ""


def _completion_lengths(ids: torch.Tensor, eos_id: int, pad_id: int) -> list[int]:
    """Tokens up to and including the first EOS (what the model actually produced)."""
    lengths = []
    for row in ids.tolist():
        length = 0
        for token in row:
            length += 1
            if token == eos_id:
                break
        while length and row[length - 1] == pad_id and pad_id != eos_id:
            length -= 1
        lengths.append(length)
    return lengths


def generate_completions(
    model, tokenizer, prompts: list[str], k: int, *, max_new_tokens: int, temperature: float
) -> tuple[list[str], list[int]]:
    """k completions per prompt, grouped by prompt (prompt 0's k first)."""
    rebalance()  # between batches: another stage may have started or finished
    inputs = tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    sampling = temperature > 0
    with torch.no_grad():
        output = model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=sampling,
            temperature=temperature if sampling else None,
            top_k=0 if sampling else None,
            top_p=1.0 if sampling else None,
            num_return_sequences=k,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
    new_ids = output[:, inputs["input_ids"].shape[1] :]
    texts = tokenizer.batch_decode(new_ids, skip_special_tokens=True)
    return texts, _completion_lengths(new_ids, tokenizer.eos_token_id, tokenizer.pad_token_id)


def _records_for_batch(
    batch: list[Example],
    first_group: int,
    texts: list[str],
    lengths: list[int],
    k: int,
    fmt: CompletionFormat,
) -> list[SampleRecord]:
    records = []
    for i, (text, length) in enumerate(zip(texts, lengths)):
        example = batch[i // k]
        record = build_record(
            step=0, group=first_group + i // k, index=i % k, prompt=example["prompt"],
            completion=text, reference=str(example["answer"]),
            task=example.get("task", "math"), length_tokens=length,
            example_key=example.get("key", ""), completion_format=fmt,
        )
        record.rewards = {"accuracy": float(record.correct), "format": float(record.format_ok)}
        record.reward = sum(record.rewards.values())
        records.append(record)
    return records


def summarise(records: list[SampleRecord], examples: list[Example], k: int) -> dict[str, float]:
    n = len(records)
    maj_hits = 0
    for group, example in enumerate(examples):
        answers = [r.answer for r in records[group * k : (group + 1) * k]]
        task = example.get("task", "math")
        maj_hits += is_equivalent(majority_answer(answers, task), str(example["answer"]), task)
    return {
        "pass@1": sum(r.correct for r in records) / n,
        "maj@k": maj_hits / len(examples),
        "k": k,
        "mean_length": sum(r.length_tokens for r in records) / n,
        "reflection_rate": sum(bool(r.reflection_phrases) for r in records) / n,
        "format_rate": sum(r.format_ok for r in records) / n,
        "problems": len(examples),
    }


def evaluate(
    *,
    model_path: str,
    examples: list[Example],
    k: int,
    sink: StageSink | None = None,
    max_new_tokens: int = 64,
    temperature: float = 1.0,
    seed: int = 0,
    threads: int | None = None,
    completion_format: CompletionFormat | None = None,
) -> dict[str, float]:
    """Sample k completions per example and score them; same seed, same numbers.

    Emits one SampleRecord per completion (step 0, group = problem index, index =
    sample index) and ``progress(problems done, problems)`` when a sink is given.
    """
    if k < 1 or not examples:
        raise ValueError("evaluate needs k >= 1 and at least one example")
    started = time.perf_counter()
    records: list[SampleRecord] = []
    per_batch = max(1, SEQUENCES_PER_BATCH // k)
    fmt = completion_format or CompletionFormat()
    with torch_threads(threads):
        torch.manual_seed(seed)
        model, tokenizer = load_policy(model_path)
        for start in range(0, len(examples), per_batch):
            if sink is not None and sink.should_stop():
                raise StageCancelled("evaluation cancelled")
            batch = examples[start : start + per_batch]
            prompts = [fmt.render_prompt(e["prompt"]) for e in batch]
            texts, lengths = generate_completions(
                model, tokenizer, prompts, k, max_new_tokens=max_new_tokens, temperature=temperature
            )
            new = _records_for_batch(batch, start, texts, lengths, k, fmt)
            records.extend(new)
            if sink is not None:
                sink.samples(new)
                sink.progress(start + len(batch), len(examples))
    result = summarise(records, examples, k)
    result["seconds"] = round(time.perf_counter() - started, 2)
    return result
