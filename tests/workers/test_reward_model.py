"""The reward-model stage on TRL's RewardTrainer, and reward models as GRPO rewards."""

from __future__ import annotations

import math

import pytest

from r1domain.base import ConfigError, MemorySink, StageCancelled
from r1domain.formats import COLD_START, CompletionFormat
from r1domain.preferences import synthetic_preferences
from r1domain.synthetic import generate
from workers.stages.reward_model import run_reward_model
from workers.stages.reward_models import reward_model_func

FMT = CompletionFormat(COLD_START)
RM_CONFIG = {"max_steps": 30, "learning_rate": 3e-3, "per_device_train_batch_size": 16}
TOKEN = "|special_token|"


def _pairs() -> tuple[list[dict], list[dict]]:
    pairs = synthetic_preferences(train=96, test=24)
    return ([p for p in pairs if p["split"] == "train"],
            [p for p in pairs if p["split"] == "test"])


@pytest.fixture(scope="module")
def trained(micro_base, tmp_path_factory):
    train, test = _pairs()
    sink = MemorySink()
    result = run_reward_model(
        model_path=micro_base, examples=train, eval_examples=test,
        output_dir=str(tmp_path_factory.mktemp("rm")), trl_config=RM_CONFIG, sink=sink,
        completion_format=FMT,
    )
    return result, sink, test


def _points(sink: MemorySink, key: str) -> list[tuple[int, float]]:
    return [(step, value) for step, name, value in sink.metric_points if name == key]


@pytest.mark.slow
def test_training_reports_accuracy_and_margin_on_held_out_pairs_at_several_steps(trained):
    result, sink, _ = trained
    assert result.steps == 30 and sink.progress_seen[-1] == (30, 30)
    accuracy, margin = _points(sink, "eval_accuracy"), _points(sink, "eval_margin")
    assert len(accuracy) >= 3 and [s for s, _ in accuracy] == [s for s, _ in margin]
    assert accuracy[-1] == (30, result.eval_accuracy)
    assert {"loss", "accuracy", "margin", "eval_loss"} <= {k for _, k, _ in sink.metric_points}
    assert all(math.isfinite(v) for _, _, v in sink.metric_points)


@pytest.mark.slow
def test_the_saved_reward_model_prefers_chosen_over_rejected_on_held_out_pairs(trained):
    result, _, test = trained
    score = reward_model_func(result.checkpoint_path, scope="response", name="rm",
                              completion_format=FMT)
    prompts = [FMT.render_prompt(p["prompt"]) for p in test]
    chosen = score(prompts, [p["completion"] for p in test])
    rejected = score(prompts, [p["rejected"] for p in test])
    assert all(math.isfinite(x) for x in chosen + rejected)
    wins = sum(c > r for c, r in zip(chosen, rejected)) / len(test)
    # Measured 1.0 after 30 steps; a model that learned nothing sits near 0.5.
    assert wins >= 0.75
    assert wins == pytest.approx(result.eval_accuracy, abs=1e-6)


@pytest.mark.slow
def test_a_summary_scope_scores_the_final_answer_and_a_response_scope_the_whole(trained):
    result, _, _ = trained
    prompt = FMT.render_prompt("Find the largest of 3 1 4 5")
    polite = f"{TOKEN}Happy to help . the largest is 5 .{TOKEN}5"
    rude = f"{TOKEN}What a stupid question , you fool .{TOKEN}5"
    wrong = f"{TOKEN}Happy to help . the largest is 4 .{TOKEN}4"
    funcs = {scope: reward_model_func(result.checkpoint_path, scope=scope, name=f"rm_{scope}",
                                      completion_format=FMT)
             for scope in ("summary", "response")}
    summary = funcs["summary"]([prompt] * 3, [polite, rude, wrong])
    response = funcs["response"]([prompt] * 3, [polite, rude, wrong])
    # Same summary, other reasoning: the summary scope cannot tell them apart, by design.
    assert summary[0] == pytest.approx(summary[1], abs=1e-5)
    assert summary[0] != pytest.approx(summary[2], abs=1e-5)
    assert response[0] != pytest.approx(response[1], abs=1e-5)
    assert funcs["summary"].__name__ == "rm_summary"


def test_a_stop_request_before_training_cancels_the_stage(tmp_path):
    sink = MemorySink()
    sink.stop_requested = True
    train, _ = _pairs()
    with pytest.raises(StageCancelled):
        run_reward_model(model_path=str(tmp_path), examples=train, output_dir=str(tmp_path),
                         trl_config=RM_CONFIG, sink=sink, completion_format=FMT)


def test_examples_without_a_rejected_response_are_refused_before_training(tmp_path):
    examples = [{"key": "k1", "prompt": "p", "completion": "c", "rejected": ""}]
    with pytest.raises(ConfigError, match="not a preference pair"):
        run_reward_model(model_path=str(tmp_path), examples=examples, output_dir=str(tmp_path),
                         trl_config=RM_CONFIG, sink=MemorySink())


def test_an_unknown_reward_model_scope_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="scope"):
        reward_model_func(str(tmp_path), scope="reasoning", name="rm")


@pytest.mark.slow
def test_grpo_scores_with_reward_models_beside_the_rules_and_records_each(
    trained, micro_base, tmp_path
):
    from workers.stages.grpo import run_grpo

    result, _, _ = trained
    helpful = reward_model_func(result.checkpoint_path, scope="summary", name="helpfulness",
                                completion_format=FMT)
    sink = MemorySink()
    run_grpo(
        model_path=micro_base, train_examples=generate(8, split="train"),
        output_dir=str(tmp_path), sink=sink, reward_funcs=["accuracy", "format"],
        trl_config={"max_steps": 2, "per_device_train_batch_size": 4, "num_generations": 2,
                    "max_completion_length": 12, "save_strategy": "no", "seed": 0},
        completion_format=FMT, extra_reward_funcs=[helpful], reward_weights=[1.0, 1.0, 0.5],
    )
    records = sink.sample_records
    assert records and all(set(r.rewards) == {"accuracy", "format", "helpfulness"}
                           for r in records)
    for r in records:
        expected = r.rewards["accuracy"] + r.rewards["format"] + 0.5 * r.rewards["helpfulness"]
        assert r.reward == pytest.approx(expected, abs=1e-5)
    assert "rewards/helpfulness/mean" in {k for _, k, _ in sink.metric_points}
