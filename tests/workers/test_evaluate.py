from __future__ import annotations

import pytest

from r1domain.base import MemorySink
from r1domain.records import build_record
from r1domain.synthetic import generate
from workers.stages.evaluate import evaluate, majority_answer, summarise


def test_the_majority_groups_equivalent_math_answers():
    assert majority_answer(["0.5", "3", "1/2", "3", "\\frac{1}{2}"], "math") == "0.5"


def test_empty_answers_do_not_vote():
    assert majority_answer(["", "", "7"], "largest") == "7"
    assert majority_answer(["", ""], "largest") == ""


def _record(group: int, index: int, answer: str, reference: str):
    return build_record(
        step=0, group=group, index=index, prompt="p", reference=reference, task="largest",
        completion=f"<think> wait </think> <answer> {answer} </answer>", length_tokens=10,
    )


def test_pass_at_1_averages_samples_while_maj_at_k_votes_per_problem():
    examples = [{"answer": "7", "task": "largest"}, {"answer": "2", "task": "largest"}]
    records = [
        _record(0, 0, "7", "7"), _record(0, 1, "7", "7"), _record(0, 2, "3", "7"),
        _record(1, 0, "2", "2"), _record(1, 1, "5", "2"), _record(1, 2, "5", "2"),
    ]
    result = summarise(records, examples, k=3)
    assert result["pass@1"] == pytest.approx(3 / 6)
    assert result["maj@k"] == 0.5  # problem 0 won by "7", problem 1 lost to "5"
    assert result["reflection_rate"] == 1.0
    assert result["format_rate"] == 1.0


@pytest.mark.slow
def test_evaluation_samples_k_completions_per_problem_and_reports_each(micro_base):
    examples = generate(3, split="test")
    sink = MemorySink()
    result = evaluate(model_path=micro_base, examples=examples, k=2, sink=sink, max_new_tokens=8)
    again = evaluate(model_path=micro_base, examples=examples, k=2, max_new_tokens=8)

    assert [(r.group, r.index) for r in sink.sample_records] == [
        (0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)
    ]
    assert all(r.step == 0 and 0 < r.length_tokens <= 8 for r in sink.sample_records)
    assert sink.progress_seen[-1] == (3, 3)
    assert set(result) >= {"pass@1", "maj@k", "k", "mean_length", "reflection_rate", "format_rate"}
    assert again["mean_length"] == result["mean_length"]  # same seed, same samples
