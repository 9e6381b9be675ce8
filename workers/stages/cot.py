"""Generate a chain of thought for each non-reasoning example with a model (torch side)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import torch

from r1domain.base import StageCancelled, StageSink
from r1domain.cot import cot_prompt, with_cot
from r1domain.formats import CompletionFormat
from workers.stages.evaluate import SEQUENCES_PER_BATCH, generate_completions, load_policy
from workers.stages.runtime import torch_threads

Example = dict[str, Any]


def add_cot(
    *,
    model_path: str,
    examples: list[Example],
    sink: StageSink,
    completion_format: CompletionFormat,
    special_token: str,
    max_new_tokens: int = 64,
    temperature: float = 0.7,
    seed: int = 0,
) -> tuple[list[Example], dict[str, int]]:
    """Every example, with a model-written reasoning where one was readable."""
    out: list[Example] = []
    outcomes: Counter[str] = Counter()
    with torch_threads():
        torch.manual_seed(seed)
        model, tokenizer = load_policy(model_path)
        for start in range(0, len(examples), SEQUENCES_PER_BATCH):
            if sink.should_stop():
                raise StageCancelled("CoT generation cancelled")
            batch = examples[start : start + SEQUENCES_PER_BATCH]
            prompts = [completion_format.render_prompt(cot_prompt(e["prompt"])) for e in batch]
            texts, _ = generate_completions(model, tokenizer, prompts, 1,
                                            max_new_tokens=max_new_tokens, temperature=temperature)
            for example, text in zip(batch, texts):
                updated, outcome = with_cot(example, completion_format.parse(text).think,
                                            special_token)
                out.append(updated)
                outcomes[outcome] += 1
            sink.progress(start + len(batch), len(examples))
    return out, dict(outcomes)
