from __future__ import annotations

import pytest

from r1domain.base import ConfigError, MemorySink, StageCancelled
from r1domain.synthetic import generate
from workers.stages.grpo import run_grpo, validate_grpo_config

TINY_RUN = {
    "max_steps": 3,
    "per_device_train_batch_size": 4,
    "num_generations": 2,
    "max_completion_length": 12,
    "learning_rate": 1e-3,
    "save_steps": 2,
    "seed": 0,
}


def test_a_settable_grpo_field_is_accepted_by_its_trl_name_and_stored_as_set():
    fields = validate_grpo_config({"max_steps": 5, "num_generations": 4, "epsilon_high": 0.28})
    # Hardware defaults (use_cpu, bf16, report_to...) are the worker's, never stored.
    assert fields == {"max_steps": 5, "num_generations": 4, "epsilon_high": 0.28}


def test_the_worker_builds_with_its_hardware_defaults_under_the_user_s_fields(tmp_path):
    import torch
    from trl import GRPOConfig

    from workers.stages.trl_config import build_stage_config

    fields = validate_grpo_config({"num_generations": 4, "logging_steps": 5})
    config = build_stage_config(GRPOConfig, fields, str(tmp_path))
    assert config.use_cpu is not torch.cuda.is_available()
    assert (config.report_to, config.disable_tqdm, config.logging_steps) == ([], True, 5)
    assert config.output_dir == str(tmp_path)


@pytest.mark.parametrize(
    "fields, named",
    [
        ({"learnig_rate": 1e-3}, "learnig_rate"),
        ({"max_steps": "ten"}, "max_steps"),
        ({"per_device_train_batch_size": 6, "num_generations": 4}, "num_generations"),
        ({"num_iterations": 2}, "num_iterations"),
        ({"output_dir": "/elsewhere"}, "output_dir"),
        ({"trust_remote_code": True}, "trust_remote_code"),
        ({"use_cpu": True}, "use_cpu"),  # stored configs used to carry it; now the worker's
        ({"lr_scheduler_type": "sideways"}, "sideways"),
    ],
)
def test_a_bad_grpo_config_is_refused_naming_the_field(fields, named):
    with pytest.raises(ConfigError, match=named):
        validate_grpo_config(fields)


def test_an_unknown_reward_function_is_refused_before_training(tmp_path):
    with pytest.raises(ConfigError, match="lenght"):
        run_grpo(
            model_path=str(tmp_path), train_examples=[], output_dir=str(tmp_path),
            trl_config=TINY_RUN, reward_funcs=["lenght"], sink=MemorySink(),
        )


def _run(micro_base, out, sink, **overrides):
    config = {**TINY_RUN, **overrides.pop("config", {})}
    return run_grpo(
        model_path=micro_base, train_examples=generate(32, split="train"), output_dir=str(out),
        trl_config=config, reward_funcs=["accuracy", "format"], sink=sink, **overrides,
    )


@pytest.mark.slow
def test_grpo_records_every_completion_of_every_step_exactly_once(micro_base, tmp_path):
    sink = MemorySink()
    result = _run(micro_base, tmp_path / "run", sink)

    assert result.steps == 3 and result.completions_per_step == 4
    records = sink.sample_records
    assert len(records) == result.steps * result.completions_per_step
    assert len({(r.step, r.group, r.index) for r in records}) == len(records)
    assert {r.step for r in records} == {1, 2, 3}
    assert all(set(r.rewards) == {"accuracy", "format"} for r in records)
    assert all(r.correct == (r.rewards["accuracy"] == 1.0) for r in records)
    # The group-normalised advantage sums to zero inside each group.
    for step in (1, 2, 3):
        for group in (0, 1):
            advantages = [r.advantage for r in records if (r.step, r.group) == (step, group)]
            assert sum(advantages) == pytest.approx(0.0, abs=1e-4)

    metric_names = {name for _, name, _ in sink.metric_points}
    assert {"reflection_rate", "reward", "rewards/accuracy/mean", "loss"} <= metric_names
    assert sink.progress_seen[-1] == (3, 3)
    assert [step for step, _ in sink.checkpoints] == [2, 3]


@pytest.mark.slow
def test_resuming_from_a_checkpoint_does_not_record_earlier_steps_again(micro_base, tmp_path):
    first = MemorySink()
    _run(micro_base, tmp_path / "run", first)
    checkpoint = dict(first.checkpoints)[2]

    resumed = MemorySink()
    result = _run(micro_base, tmp_path / "run", resumed, resume_from_checkpoint=checkpoint)

    assert result.steps == 3
    assert {r.step for r in resumed.sample_records} == {3}
    assert len(resumed.sample_records) == result.completions_per_step


@pytest.mark.slow
def test_resuming_from_the_last_step_s_checkpoint_trains_no_step_past_max_steps(
    micro_base, tmp_path
):
    # A worker killed after the last checkpoint, before it saved the final model:
    # transformers' Trainer, resumed there, would take (and sample) one step more.
    first = MemorySink()
    _run(micro_base, tmp_path / "run", first)
    last = dict(first.checkpoints)[3]
    (tmp_path / "run" / "config.json").unlink()  # died before the final model was saved

    resumed = MemorySink()
    result = _run(micro_base, tmp_path / "run", resumed, resume_from_checkpoint=last)

    assert result.steps == 3
    assert resumed.sample_records == []
    assert (tmp_path / "run" / "config.json").is_file()  # the final model, for the eval


class LaggingSink(MemorySink):
    """A sink whose checkpoint records are still queued: it has pruned nothing yet."""

    def checkpoint_saved(self, step: int, path: str, keep: int | None = None) -> None:
        self.checkpoints.append((step, path))


@pytest.mark.slow
def test_save_total_limit_deletes_old_checkpoints_only_once_the_sink_has_recorded_a_newer(
    micro_base, tmp_path
):
    # Left to the Trainer, checkpoint-1 would be gone before the database knew about
    # checkpoint-2; a worker killed then could not resume (tests/integration).
    limited = {"save_steps": 1, "save_total_limit": 1}
    _run(micro_base, tmp_path / "lagging", LaggingSink(), config=limited)
    saved = sorted(path.name for path in (tmp_path / "lagging").glob("checkpoint-*"))
    assert saved == ["checkpoint-1", "checkpoint-2", "checkpoint-3"]

    _run(micro_base, tmp_path / "recorded", MemorySink(), config=limited)
    assert [path.name for path in (tmp_path / "recorded").glob("checkpoint-*")] == ["checkpoint-3"]


class StopAfterFirstStep(MemorySink):
    def should_stop(self) -> bool:
        return bool(self.progress_seen)


@pytest.mark.slow
def test_a_stop_request_ends_training_after_the_current_step(micro_base, tmp_path):
    sink = StopAfterFirstStep()
    with pytest.raises(StageCancelled):
        _run(micro_base, tmp_path / "run", sink)
    assert {r.step for r in sink.sample_records} == {1}


def test_the_demo_config_is_a_valid_recordable_grpo_config():
    from trl import GRPOConfig

    from r1domain.demo import DEMO_GRPO_CONFIG
    from workers.stages.grpo import completions_per_step
    from workers.stages.trl_config import build_stage_config

    fields = validate_grpo_config(DEMO_GRPO_CONFIG)
    assert fields == DEMO_GRPO_CONFIG
    assert completions_per_step(build_stage_config(GRPOConfig, fields, "/tmp/unused")) == 32


@pytest.mark.slow
def test_a_leaving_worker_saves_a_checkpoint_where_it_stops_and_the_next_resumes_there(
    micro_base, tmp_path, leaving, monkeypatch
):
    from r1domain.checkpoints import is_complete
    from workers import shutdown

    leaving.begin(60)
    sink = StopAfterFirstStep()
    with pytest.raises(StageCancelled):
        _run(micro_base, tmp_path / "run", sink)
    # save_steps is 2: this checkpoint exists only because the worker is leaving.
    assert [step for step, _ in sink.checkpoints] == [1]
    assert is_complete(sink.checkpoints[0][1])

    monkeypatch.setattr(shutdown, "current", shutdown.Shutdown())  # the next worker
    resumed = MemorySink()
    result = _run(micro_base, tmp_path / "run", resumed,
                  resume_from_checkpoint=sink.checkpoints[0][1])
    assert result.steps == 3
    assert {r.step for r in resumed.sample_records} == {2, 3}
