from __future__ import annotations

from r1domain.synthetic import generate


def test_examples_carry_prompt_answer_task_split_and_a_key():
    example = generate(1, split="train", seed=3)[0]
    assert set(example) == {"key", "prompt", "answer", "task", "split"}
    digits = [int(d) for d in example["prompt"].split() if d.isdigit()]
    expected = max(digits) if example["task"] == "largest" else min(digits)
    assert example["answer"] == str(expected)


def test_the_same_seed_gives_the_same_problems():
    assert generate(50, split="test", seed=1) == generate(50, split="test", seed=1)
    assert generate(50, split="test", seed=1) != generate(50, split="test", seed=2)


def test_no_test_problem_appears_in_any_train_draw():
    test_keys = {e["key"] for e in generate(1000, split="test", seed=0)}
    for seed in range(3):
        train_keys = {e["key"] for e in generate(3000, split="train", seed=seed)}
        assert not test_keys & train_keys
