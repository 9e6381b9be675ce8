"""Experimental tiny base for the "aha" tasks (see ``workers.domain.aha_tasks``).

Same tokenizer, model and training loop as ``tiny_base``; only the corpus differs. The
default task is repeated addition ("Add 7 to 12 four times"); the sum-of-digits task
("digits") did not work: in a 3-minute build the model never learned to copy the next
digit from the prompt, so its checks were wrong and GRPO dropped them. By construction
(``AhaCorpusSpec``):

* most solutions guess the sum in one shot: "the sum is G ." (right ``p_guess_right``
  of the time, else off by 1 to 5);
* ``p_check`` of them guess, then check by steps and fix the guess: "the sum is G .
  wait , let me add : 1/4:12+7=19 2/4:19+7=26 3/4:26+7=33 4/4:33+7=40 the sum is 40 ."
  (right unless a step slips, ``p_step_error``, in which case a step-level "wait"
  fixes it);
* ``p_chain`` of them add by steps with no guess and no check;
* ``p_bad_format`` break the tags;
* alongside, "pretraining knowledge" (``fact_text``): a list of digits followed by its
  step-by-step additions, no template, so the step skill is there to be used.

Nothing here makes RL prefer the check; it can only prefer it because it pays.

Each repeat step is labelled "i/n:" (``step_label="of"``). With the bare index ("i:")
the base built on seed 1 stopped at the right step count in only 30% of its chains (it
had to count against the prompt's word "four"), so its checks were right only 22% of the
time and GRPO dropped them; with "i/n" the stop is a comparison of two adjacent digits,
and the same seed's checks were right 83% of the time (effective share 0.76 before RL).
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from workers.domain.aha_tasks import generate, generate_repeat
from workers.domain.base import StageSink
from workers.domain.prompts import render_r1_zero
from workers.stages.tiny_base import (
    ModelSpec,
    TrainSpec,
    _encode,
    _fact_batch,
    _make_model,
    _train,
    save_base,
    template_prefix_ids,
    train_tokenizer,
)


@dataclass(frozen=True)
class AhaCorpusSpec:
    p_check: float = 0.2
    p_chain: float = 0.0
    p_guess_right: float = 0.25
    p_step_error: float = 0.0
    p_bad_format: float = 0.1
    check_phrase: str = "wait , let me add :"
    task: str = "repeat"  # or "digits" (sum of distinct digits: the chain must copy)
    # How a repeat step is labelled: "of" writes "2/4:" (step 2 of 4), so the chain knows
    # when to stop by comparing two adjacent digits; "index" writes "2:" and has to count
    # against the prompt's word "four", which the base got wrong 70% of the time.
    step_label: str = "of"


def _guess(rng: random.Random, answer: int, p_right: float) -> int:
    if rng.random() < p_right:
        return answer
    return max(1, answer + rng.choice([-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]))


def chain_text(digits: list[int], rng: random.Random | None = None, p_error: float = 0.0) -> str:
    """ "3+5=8 8+7=15" ; with ``p_error`` a step slips and is fixed at once."""
    total, steps = digits[0], []
    for d in digits[1:]:
        right = total + d
        if rng is not None and rng.random() < p_error:
            slip = right + rng.choice([-2, -1, 1, 2])
            steps.append(f"{total}+{d}={slip} wait {total}+{d}={right}")
        else:
            steps.append(f"{total}+{d}={right}")
        total = right
    return " ".join(steps)


def repeat_chain(
    example: dict, rng: random.Random | None = None, p_error: float = 0.0, label: str = "of"
) -> str:
    """ "1/3:13+7=20 2/3:20+7=27 3/3:27+7=34" (``label="of"``) or "1:13+7=20 ..."
    (``"index"``); with ``p_error`` a step slips and is fixed at once."""
    total, step, times, out = example["start"], example["step"], example["times"], []
    for i in range(1, times + 1):
        right = total + step
        tag = f"{i}/{times}:" if label == "of" else f"{i}:"
        if rng is not None and rng.random() < p_error:
            slip = right + rng.choice([-2, -1, 1, 2])
            out.append(f"{tag}{total}+{step}={slip} wait {total}+{step}={right}")
        else:
            out.append(f"{tag}{total}+{step}={right}")
        total = right
    return " ".join(out)


def _chain(example: dict, rng: random.Random, spec: AhaCorpusSpec) -> str:
    if "digits" in example:
        return chain_text(example["digits"], rng, spec.p_step_error)
    return repeat_chain(example, rng, spec.p_step_error, spec.step_label)


def solution_text(example: dict, rng: random.Random, spec: AhaCorpusSpec) -> str:
    answer = int(example["answer"])
    roll = rng.random()
    if roll < spec.p_check:
        guess = _guess(rng, answer, spec.p_guess_right)
        chain = _chain(example, rng, spec)
        think = f"the sum is {guess} . {spec.check_phrase} {chain} the sum is {answer} ."
        final = answer
    elif roll < spec.p_check + spec.p_chain:
        think = f"{_chain(example, rng, spec)} the sum is {answer} ."
        final = answer
    else:
        final = _guess(rng, answer, spec.p_guess_right)
        think = f"the sum is {final} ."
    return _format(think, final, rng, spec)


def _format(think: str, final: int, rng: random.Random, spec: AhaCorpusSpec) -> str:
    if rng.random() >= spec.p_bad_format:
        return f" <think> {think} </think> <answer> {final} </answer>"
    if rng.random() < 0.5:
        return f" <think> {think} <answer> {final} </answer>"
    return f" <think> {think} </think> the answer is {final} ."


def build_corpus(n: int, seed: int, spec: AhaCorpusSpec) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    problems = _problems(n, seed, spec.task)
    return [
        (render_r1_zero(p["prompt"]), solution_text(p, rng, spec))
        for p in (problems[i % len(problems)] for i in range(n))
    ]


def _problems(n: int, seed: int, task: str) -> list[dict]:
    if task == "digits":
        return generate(min(n, 20000), split="train", seed=seed)
    return generate_repeat(n, split="train", seed=seed)


def fact_text(example: dict, label: str = "of") -> str:
    if "digits" in example:
        return f" {' '.join(map(str, example['digits']))} : {chain_text(example['digits'])}"
    return f" {example['prompt'].lower()} : {repeat_chain(example, label=label)}"


def build_facts(n: int, seed: int, task: str = "repeat", label: str = "of") -> list[str]:
    problems = _problems(n, seed + 1, task)
    return [fact_text(problems[i % len(problems)], label) for i in range(n)]


def build_aha_base(
    out_dir: str | Path,
    seed: int = 0,
    *,
    corpus: AhaCorpusSpec = AhaCorpusSpec(),
    model_spec: ModelSpec | None = None,
    train: TrainSpec | None = None,
    sink: StageSink | None = None,
) -> dict:
    """Train and save the aha base to ``out_dir``; returns (and writes) a summary."""
    model_spec, train = model_spec or ModelSpec(), train or TrainSpec()
    started = time.perf_counter()
    torch.manual_seed(seed)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(train.threads)
    try:
        pairs = build_corpus(train.n_examples, seed, corpus)
        facts_texts = build_facts(
            train.facts_per_step * (len(pairs) // train.batch_size), seed, corpus.task,
            corpus.step_label,
        )
        tokenizer = train_tokenizer(
            [p + s for p, s in pairs[:4000]] + facts_texts[:2000], model_spec.vocab_size
        )
        prefix = template_prefix_ids(tokenizer)
        rows = _encode(tokenizer, pairs, prefix)
        model = _make_model(tokenizer, model_spec)
        n = train.facts_per_step
        facts = [
            _fact_batch(tokenizer, facts_texts[i : i + n]) for i in range(0, len(facts_texts), n)
        ]
        final_loss = _train(model, rows, prefix, facts, tokenizer.pad_token_id, train, sink)
    finally:
        torch.set_num_threads(previous_threads)
    out = save_base(model, tokenizer, out_dir)
    summary = {
        "seed": seed,
        "parameters": sum(p.numel() for p in model.parameters()),
        "mean_tokens": len(prefix) + sum(len(r) for r, _ in rows) / len(rows),
        "final_loss": final_loss,
        "seconds": round(time.perf_counter() - started, 1),
        "corpus": asdict(corpus),
        "model": asdict(model_spec),
        "train": asdict(train),
    }
    (out / "aha_base.json").write_text(json.dumps(summary, indent=2))
    return summary
