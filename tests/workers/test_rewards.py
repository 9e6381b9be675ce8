from __future__ import annotations

import pytest

from r1domain.base import ConfigError
from r1domain.rewards import (
    REWARD_FUNCS,
    accuracy,
    format,
    get_reward_funcs,
    is_equivalent,
    language_consistency,
)

GOOD = "<think> half of one </think> <answer> {} </answer>"


def test_math_answers_are_compared_for_equivalence_not_spelling():
    assert is_equivalent("0.5", "1/2", "math")
    assert is_equivalent("1,000", "1000", "gsm8k")
    assert not is_equivalent("0.4", "1/2", "math")


def test_synthetic_answers_must_match_exactly():
    assert is_equivalent(" 7 ", "7", "largest")
    assert not is_equivalent("7.0", "7", "largest")


def test_accuracy_reads_the_reference_and_task_columns():
    completions = [GOOD.format("1/2"), GOOD.format("0.3"), "the answer is 1/2"]
    rewards = accuracy(["p"] * 3, completions, answer=["0.5"] * 3, task=["math"] * 3)
    assert rewards == [1.0, 0.0, 0.0]


def test_accuracy_accepts_conversational_completions():
    completion = [{"role": "assistant", "content": GOOD.format("4")}]
    assert accuracy(["p"], [completion], answer=["4"]) == [1.0]


def test_format_rewards_only_the_strict_layout():
    assert format(["p", "p"], [GOOD.format("1"), "<think> x </think> 1"]) == [1.0, 0.0]


def test_language_consistency_is_the_share_of_target_language_words():
    mixed = "<think> first 我们 compute </think> <answer> 1 </answer>"
    assert language_consistency(["p"], [mixed]) == [pytest.approx(2 / 4)]
    assert language_consistency(["p"], [mixed], language=["zh"]) == [pytest.approx(2 / 4)]
    chinese = "<think> 我们计算 </think> <answer> 1 </answer>"
    assert language_consistency(["p"], [chinese], language=["zh"]) == [1.0]
    assert language_consistency(["p"], [chinese]) == [0.0]


def test_reward_funcs_are_looked_up_by_name_in_order():
    assert get_reward_funcs(["format", "accuracy"]) == [REWARD_FUNCS["format"], accuracy]


def test_an_unknown_reward_name_is_a_config_error_that_names_it():
    with pytest.raises(ConfigError, match="lenght"):
        get_reward_funcs(["accuracy", "lenght"])
