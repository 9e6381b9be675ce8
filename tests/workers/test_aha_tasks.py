"""The demo task (repeated addition) and the tiny base's corpus: fast, no database, no model."""

from __future__ import annotations

import random
import re

from r1domain.aha_tasks import check_outcome, generate_repeat, make_repeat_example
from workers.stages.tiny_base import (
    CorpusSpec,
    build_corpus,
    build_facts,
    fact_text,
    repeat_chain,
    solution_text,
)

EXAMPLE = make_repeat_example(12, 7, 4)  # 12 + 7 * 4 = 40


def test_repeat_example_answer_and_prompt():
    assert EXAMPLE["answer"] == "40"
    assert EXAMPLE["prompt"] == "Add 7 to 12 four times"


def test_chain_labels_each_step_with_its_count():
    assert repeat_chain(EXAMPLE) == "1/4:12+7=19 2/4:19+7=26 3/4:26+7=33 4/4:33+7=40"


def test_chain_slip_is_fixed_at_once():
    chain = repeat_chain(EXAMPLE, random.Random(0), p_error=1.0)
    assert chain.count("wait") == 4
    last = chain.split()[-1]
    assert last.endswith("=40")


def test_fact_text_uses_the_same_chain_as_the_corpus():
    assert fact_text(EXAMPLE) == " add 7 to 12 four times : " + repeat_chain(EXAMPLE)


def test_check_solution_is_an_effective_check_when_the_guess_was_wrong():
    spec = CorpusSpec(p_check=1.0, p_guess_right=0.0, p_bad_format=0.0)
    text = solution_text(EXAMPLE, random.Random(1), spec)
    assert "wait , let me add : 1/4:12+7=19" in text
    assert text.strip().endswith("<answer> 40 </answer>")
    assert check_outcome(text, "40") == "effective"


def test_check_after_a_right_guess_is_shallow_and_a_plain_guess_is_none():
    spec = CorpusSpec(p_check=1.0, p_guess_right=1.0, p_bad_format=0.0)
    assert check_outcome(solution_text(EXAMPLE, random.Random(1), spec), "40") == "shallow"
    guess = " <think> the sum is 38 . </think> <answer> 38 </answer>"
    assert check_outcome(guess, "40") == "none"


def test_corpus_mix_follows_the_spec_and_is_deterministic():
    spec = CorpusSpec(p_check=0.3, p_bad_format=0.0)
    pairs = build_corpus(2000, 0, spec)
    assert pairs == build_corpus(2000, 0, spec)
    share = sum("wait" in s for _, s in pairs) / len(pairs)
    assert 0.25 < share < 0.35
    for _, solution in pairs:
        steps = re.findall(r"(\d+)/(\d+):(\d+)\+(\d+)=(\d+)", solution)
        assert all(int(a) + int(b) == int(c) for _, _, a, b, c in steps)


def test_corpus_and_facts_use_train_problems_only():
    test_prompts = {e["prompt"] for e in generate_repeat(10_000, split="test")}
    pairs = build_corpus(500, 3, CorpusSpec())
    assert not any(p.split("User: ", 1)[1].split(".")[0] in test_prompts for p, _ in pairs)
    facts = build_facts(200, 3)
    lowered = {p.lower() for p in test_prompts}
    assert not any(f.split(" : ", 1)[0].strip() in lowered for f in facts)
