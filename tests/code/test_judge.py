"""Judging programs against their tests: one outcome per test, with what a reviewer needs."""

from __future__ import annotations

import pytest

from r1domain.code.judge import judge_completion, judge_program
from r1domain.code.metrics import mean_pass_at_k, pass_at_k, pass_at_ks
from r1domain.code.programs import extract_program
from r1domain.code.specs import call_tests, parse_tests, stdio_tests
from r1domain.sandbox import Limits, Status

ADD = stdio_tests([{"input": "1 2\n", "output": "3"}, {"input": "5 5\n", "output": "10"},
                   {"input": "2 2\n", "output": "4"}])
PAIR_SUM = call_tests("pair_sum", [{"args": [1, 2], "expected": 3},
                                   {"args": [[1], [2]], "expected": [1, 2]}])
HUMANEVAL = parse_tests({
    "format": "humaneval", "entry_point": "add",
    "prompt": 'def add(a: int, b: int) -> int:\n    """Add two numbers."""\n',
    "test": "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(0, 0) == 0\n",
})


def test_a_right_stdio_program_passes_every_test():
    result = judge_program("a, b = map(int, input().split())\nprint(a + b)", ADD)

    assert result.all_passed and result.pass_rate == 1.0 and result.reason == ""


def test_a_partly_right_program_gets_its_share_and_each_failure_is_shown():
    result = judge_program("a, b = map(int, input().split())\nprint(a * b if a == b else a + b)", ADD)

    assert result.passed == 2 and result.total == 3
    assert result.pass_rate == pytest.approx(2 / 3)
    failed = result.outcomes[1].as_dict()
    assert failed == {"test": 1, "outcome": "wrong answer", "reason": "output differs",
                      "expected": "10", "actual": "25\n", "stderr": "",
                      "duration_s": failed["duration_s"]}


def test_a_crash_on_one_input_is_a_runtime_error_with_its_stderr():
    result = judge_program("a, b = map(int, input().split())\nprint(a + b if a != 5 else 1 // 0)", ADD)

    outcome = result.outcomes[1]
    assert outcome.status is Status.RUNTIME_ERROR
    assert "ZeroDivisionError" in outcome.stderr and "ZeroDivisionError" in result.reason


def test_a_slow_case_times_out_alone():
    program = "import time\na, b = map(int, input().split())\nif a == 5:\n    time.sleep(60)\nprint(a + b)"
    result = judge_program(program, ADD, limits=Limits(cpu_seconds=1, wall_seconds=1))

    assert [o.status for o in result.outcomes] == [Status.OK, Status.TIMEOUT, Status.OK]


def test_function_calls_compare_return_values_tuples_as_lists():
    result = judge_program("def pair_sum(a, b):\n    return a + b if isinstance(a, int) else (a + b)", PAIR_SUM)
    tuple_result = judge_program("def pair_sum(a, b):\n    return tuple(a + b) if isinstance(a, list) else a + b", PAIR_SUM)
    wrong = judge_program("def pair_sum(a, b):\n    return 0", PAIR_SUM)

    assert result.all_passed and tuple_result.all_passed
    assert wrong.outcomes[0].status is Status.WRONG_ANSWER
    assert (wrong.outcomes[0].expected, wrong.outcomes[0].actual) == ("3", "0")


def test_a_missing_function_is_a_runtime_error():
    result = judge_program("def other(a, b):\n    return a + b", PAIR_SUM)

    assert result.outcomes[0].status is Status.RUNTIME_ERROR
    assert "KeyError: 'pair_sum'" in result.reason


def test_humaneval_runs_a_body_or_a_whole_function_against_check():
    body = judge_program("    return a + b\n", HUMANEVAL)
    whole = judge_program("def add(a, b):\n    return b + a\n", HUMANEVAL)
    wrong = judge_program("    return a - b\n", HUMANEVAL)

    assert body.all_passed and whole.all_passed
    assert wrong.outcomes[0].status is Status.WRONG_ANSWER
    assert wrong.reason == "a check failed"


def test_humaneval_does_not_pass_a_program_that_exits_before_its_checks():
    # A known reward hack: exit cleanly before check() can fail.
    for exit_call in ("import sys\nsys.exit(0)", "import os\nos._exit(0)"):
        result = judge_program(f"def add(a, b):\n    return 0\n{exit_call}\n", HUMANEVAL)

        assert not result.all_passed
        assert result.outcomes[0].status is Status.RUNTIME_ERROR


def test_humaneval_tells_a_wrong_result_from_a_crash_of_the_function():
    returns_none = judge_program("    return None\n", parse_tests({
        **HUMANEVAL.to_dict(), "test": "def check(candidate):\n    assert candidate(1, 2) - 3 == 0\n"}))
    crashes = judge_program("    return [][1]\n", HUMANEVAL)

    assert returns_none.outcomes[0].status is Status.WRONG_ANSWER
    assert crashes.outcomes[0].status is Status.RUNTIME_ERROR


@pytest.mark.parametrize(
    ("completion", "program"),
    [
        ("<think>easy</think> <answer>print(3)</answer>", "print(3)"),
        ("<think>x</think> <answer>Here:\n```python\nprint(1)\n```\n</answer>", "print(1)\n"),
        ("Try\n```python\nprint(1)\n```\nor better\n```py\nprint(2)\n```", "print(2)\n"),
        ("<think>only thinking</think>", None),
        ("<think>x</think><answer>   </answer>", None),
    ],
)
def test_the_program_is_the_answer_block_or_the_last_fenced_block(completion, program):
    assert extract_program(completion) == program


def test_a_completion_without_a_program_scores_zero_for_that_reason():
    result = judge_completion("<think>I cannot solve this.</think>", ADD)

    assert result.pass_rate == 0.0 and result.reason == "no program"
    assert [o.as_dict()["outcome"] for o in result.outcomes] == ["no program"] * 3


def test_pass_at_k_is_the_unbiased_estimator():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    # 1 - C(7, 5) / C(10, 5) = 1 - 21 / 252
    assert pass_at_k(10, 3, 5) == pytest.approx(1 - 21 / 252)
    assert pass_at_k(10, 6, 5) == 1.0  # fewer than 5 wrong: any 5 hold a right one
    assert pass_at_ks(8, 2) == {"pass@1": pytest.approx(0.25), "pass@5": pytest.approx(1 - 6 / 56)}
    assert mean_pass_at_k([(4, 0), (4, 4)], 1) == 0.5


def test_pass_at_k_refuses_impossible_counts():
    with pytest.raises(ValueError, match="pass@k needs"):
        pass_at_k(5, 6, 1)
    with pytest.raises(ValueError, match="pass@k needs"):
        pass_at_k(5, 2, 6)
