from __future__ import annotations

import pytest

from r1domain.base import ConfigError, MemorySink, StageCancelled
from workers.stages.sft import run_sft, sampled_record, validate_sft_config


def test_a_settable_sftconfig_field_is_accepted_by_its_trl_name():
    config = validate_sft_config(
        {"max_steps": 3, "gradient_accumulation_steps": 2, "packing": False}
    )
    assert config["gradient_accumulation_steps"] == 2
    assert config["max_steps"] == 3
    # The small-model defaults are stored; the worker's hardware defaults are not.
    assert not {"use_cpu", "report_to", "disable_tqdm"} & set(config)


def test_a_field_that_reaches_the_network_is_refused():
    with pytest.raises(ConfigError, match="push_to_hub cannot be set from r1web"):
        validate_sft_config({"push_to_hub": True})


def test_an_unknown_field_is_refused_by_name():
    with pytest.raises(ConfigError, match="no_such_field"):
        validate_sft_config({"no_such_field": 1})


def test_output_dir_is_not_the_stage_s_to_choose():
    with pytest.raises(ConfigError, match="output_dir"):
        validate_sft_config({"output_dir": "/etc"})


def test_a_generation_in_the_cold_start_format_is_scored_on_its_summary():
    record = sampled_record(
        4,
        0,
        {"prompt": "p", "answer": "7", "key": "k"},
        "|special_token|3 < 7, wait, recheck|special_token|7",
        12,
        "|special_token|",
    )
    assert (record.format_ok, record.correct, record.think, record.answer) == (
        True,
        True,
        "3 < 7, wait, recheck",
        "7",
    )
    assert record.reflection_phrases


def test_a_generation_without_the_format_is_not_format_ok():
    record = sampled_record(4, 0, {"prompt": "p", "answer": "7"}, "7", 1, "|special_token|")
    assert not record.format_ok and not record.correct


class StopAfterFirstStep(MemorySink):
    def should_stop(self) -> bool:
        return bool(self.progress_seen)


def _sft(micro_base, out, sink, **overrides):
    from r1domain.coldstart import to_cold_start

    examples = [{"prompt": f"What is {n} + {n}?", "answer": str(2 * n),
                 "completion": to_cold_start(f"{n} and {n} make {2 * n}", str(2 * n))}
                for n in range(16)]
    return run_sft(model_path=micro_base, examples=examples, output_dir=str(out),
                   trl_config={"max_steps": 3, "per_device_train_batch_size": 4, "max_length": 64},
                   sink=sink, samples_per_eval=1, max_new_tokens=8, **overrides)


@pytest.mark.slow
def test_a_leaving_worker_saves_an_sft_checkpoint_where_it_stops_and_the_next_resumes_there(
    micro_base, tmp_path, leaving, monkeypatch
):
    from r1domain.checkpoints import is_complete
    from workers import shutdown

    leaving.begin(60)
    sink = StopAfterFirstStep()
    with pytest.raises(StageCancelled, match="step 1"):
        _sft(micro_base, tmp_path / "run", sink)
    assert [step for step, _ in sink.checkpoints] == [1]  # SFT saves none by default
    assert is_complete(sink.checkpoints[0][1])

    monkeypatch.setattr(shutdown, "current", shutdown.Shutdown())  # the next worker
    resumed = MemorySink()
    result = _sft(micro_base, tmp_path / "run", resumed,
                  resume_from_checkpoint=sink.checkpoints[0][1])
    assert result.steps == 3
    assert [step for step, _ in resumed.progress_seen] == [2, 3]


@pytest.mark.slow
def test_a_cancelled_sft_stage_stops_at_once_and_saves_nothing(micro_base, tmp_path):
    sink = StopAfterFirstStep()
    with pytest.raises(StageCancelled, match="SFT stopped at step 1"):
        _sft(micro_base, tmp_path / "run", sink)
    assert sink.checkpoints == []
