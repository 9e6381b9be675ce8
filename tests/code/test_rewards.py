"""The code rewards in the registry, called as TRL calls them: the example's columns as
keyword lists, the tests in its ``answer`` column."""

from __future__ import annotations

from r1domain.code.specs import stdio_tests, to_json
from r1domain.rewards import REWARD_FUNCS, _judged, code_results, get_reward_funcs

TESTS = to_json(stdio_tests([{"input": "2\n", "output": "4"}, {"input": "3\n", "output": "6"},
                             {"input": "0\n", "output": "0"}]))
COMPLETIONS = [
    "<think>double it</think> <answer>print(2 * int(input()))</answer>",
    "<think>square?</think> <answer>n = int(input())\nprint(n * n)</answer>",  # 2 of 3
    "<think>no idea</think>",
    "<think>math</think> <answer>4</answer>",
]
COLUMNS = {"answer": [TESTS, TESTS, TESTS, "4"], "task": ["code", "code", "code", "math"]}


def test_code_pass_rate_and_code_passed_score_each_completion():
    rates = REWARD_FUNCS["code_pass_rate"]([""] * 4, COMPLETIONS, **COLUMNS)
    passed = REWARD_FUNCS["code_passed"]([""] * 4, COMPLETIONS, **COLUMNS)

    assert rates == [1.0, 2 / 3, 0.0, 0.0]
    assert passed == [1.0, 0.0, 0.0, 0.0]


def test_code_rewards_sit_beside_the_others_in_a_stage_list():
    funcs = get_reward_funcs(["code_pass_rate", "format"])

    assert [f.__name__ for f in funcs] == ["code_pass_rate", "format"]


def test_per_test_outcomes_are_there_for_the_caller_and_each_program_runs_once():
    _judged.cache_clear()
    REWARD_FUNCS["code_pass_rate"]([""] * 4, COMPLETIONS, **COLUMNS)
    results = code_results(COMPLETIONS, **COLUMNS)

    assert _judged.cache_info().misses == 3  # the math example never reaches the sandbox
    assert results[3] is None
    assert results[2].reason == "no program"
    assert [t["outcome"] for t in results[1].as_dict()["tests"]] == [
        "passed", "wrong answer", "passed"]
    assert results[1].outcomes[1].expected == "6" and results[1].outcomes[1].actual == "9\n"
