from __future__ import annotations

import pytest

from r1domain.base import ConfigError
from workers.stages.sft import sampled_record, validate_sft_config


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
