"""Probe prompts: which steps get a round, how a probe answer is scored, the word diff,
and (tiny GRPO runs) that rounds are recorded without touching training."""

from __future__ import annotations

import pytest

from r1domain.base import ConfigError, MemorySink
from r1domain.probes import (
    check_probe_params,
    is_probe_step,
    probe_records,
    probe_settings,
    word_diff,
)
from r1domain.synthetic import generate


def test_rounds_fall_every_n_steps_and_on_the_last_one():
    steps = [step for step in range(26) if is_probe_step(step, 10, 25)]
    assert steps == [0, 10, 20, 25]
    assert not any(is_probe_step(step, 0, 25) for step in range(26))  # 0 turns probes off


def test_a_stage_stored_before_probes_existed_has_them_off():
    assert not probe_settings({}).enabled
    assert probe_settings({"probe_every": 10, "probe_prompts": 4}).enabled
    assert not probe_settings({"probe_every": 10, "probe_prompts": 0}).enabled


@pytest.mark.parametrize(
    "params",
    [{"probe_every": -1}, {"probe_prompts": 65}, {"probe_every": "10"}, {"probe_every": True}],
)
def test_a_probe_setting_that_is_no_usable_count_is_refused_by_name(params):
    with pytest.raises(ConfigError, match=next(iter(params))):
        check_probe_params(params)


def test_a_probe_answer_is_scored_by_the_stage_s_rule_rewards_and_marked_as_probe():
    example = {"prompt": "largest of 3 9 4", "answer": "9", "task": "largest", "key": "k1"}
    right = " <think> the largest is 9 . </think> <answer> 9 </answer>"
    wrong = " the answer is 3"
    records = probe_records(
        step=20,
        examples=[example, {**example, "key": "k2"}],
        completions=[right, wrong],
        lengths=[12, 4],
        reward_funcs=["accuracy", "format"],
        reward_weights=[1.0, 0.5],
    )
    first, second = records
    assert all(r.probe and r.step == 20 and r.index == 0 for r in records)
    assert [r.group for r in records] == [0, 1]
    assert [r.example_key for r in records] == ["k1", "k2"]
    assert first.rewards == {"accuracy": 1.0, "format": 1.0} and first.reward == 1.5
    assert first.correct and first.format_ok and first.answer == "9"
    assert second.rewards == {"accuracy": 0.0, "format": 0.0} and not second.correct


def test_the_word_diff_keeps_both_texts_word_by_word():
    old, new = "the largest is 3 . <answer> 3 </answer>", "the largest is 9 . <answer> 9 </answer>"
    pieces = word_diff(old, new)
    assert "".join(text for op, text in pieces if op != "insert") == old
    assert "".join(text for op, text in pieces if op != "delete") == new
    assert ("delete", "3") in pieces and ("insert", "9") in pieces
    assert word_diff("same words", "same words") == [("equal", "same words")]


TINY_RUN = {
    "max_steps": 3,
    "per_device_train_batch_size": 4,
    "num_generations": 2,
    "max_completion_length": 12,
    "learning_rate": 1e-3,
    "save_steps": 2,
    "seed": 0,
}


def _grpo(micro_base, out, sink, **probes):
    from workers.stages.grpo import run_grpo

    return run_grpo(
        model_path=micro_base,
        train_examples=generate(32, split="train"),
        output_dir=str(out),
        trl_config=TINY_RUN,
        reward_funcs=["accuracy", "format"],
        sink=sink,
        **probes,
    )


@pytest.mark.slow
def test_probe_rounds_follow_the_same_prompts_and_leave_training_as_it_was(micro_base, tmp_path):
    plain, probed = MemorySink(), MemorySink()
    _grpo(micro_base, tmp_path / "plain", plain)
    held_out = generate(3, split="test")
    result = _grpo(micro_base, tmp_path / "probed", probed, probe_examples=held_out, probe_every=2)

    probes = [r for r in probed.sample_records if r.probe]
    trained = [r for r in probed.sample_records if not r.probe]
    # Before training, every 2 steps and after the last (step 3): 3 prompts each.
    assert sorted({r.step for r in probes}) == [0, 2, 3]
    assert result.probe_rounds == 3 and len(probes) == 9
    for step in (0, 2, 3):
        at = [r for r in probes if r.step == step]
        assert [r.example_key for r in at] == [e["key"] for e in held_out]
    # Greedy rounds draw nothing from the random stream: training samples the same.
    assert [(r.step, r.completion) for r in trained] == [
        (r.step, r.completion) for r in plain.sample_records
    ]
    assert result.probe_seconds > 0
