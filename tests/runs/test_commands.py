"""The command-line entry points refuse bad input before writing anything."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import CommandError, call_command

from r1web.runs.management.commands.run_recipe import parse_overrides
from r1web.runs.models import Run

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def models_dir(tmp_path, settings):
    settings.MODELS_DIR = tmp_path
    return tmp_path


def test_run_recipe_refuses_a_model_path_that_does_not_exist(tmp_path):
    with pytest.raises(CommandError, match="is not available"):
        call_command("run_recipe", "r1-zero", "--model", str(tmp_path / "missing"))
    assert not Run.objects.exists()


def test_run_recipe_refuses_an_unknown_trl_field(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    with pytest.raises(CommandError, match="num_generation"):
        call_command("run_recipe", "r1-zero", "--model", str(tmp_path), "--config", "num_generation=4")
    assert not Run.objects.exists()


def test_run_recipe_reads_config_values_as_json_when_they_parse():
    assert parse_overrides(["learning_rate=1e-6", "use_vllm=true", "optim=adamw_torch"]) == {
        "learning_rate": 1e-6, "use_vllm": True, "optim": "adamw_torch",
    }
    with pytest.raises(CommandError, match="key=value"):
        parse_overrides(["learning_rate"])


def test_run_recipe_queues_a_run_and_says_so(tmp_path, capsys):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    call_command("run_recipe", "r1-zero", "--model", str(tmp_path), "--max-steps", "3")
    run = Run.objects.get()
    assert f"run {run.pk} queued" in capsys.readouterr().out
    assert run.stages.get(kind="grpo").trl_config["max_steps"] == 3


def test_create_user_if_missing_keeps_an_existing_password(django_user_model):
    call_command("create_user", "demo", "--role", "operator", "--password", "first-password")
    call_command("create_user", "demo", "--role", "operator", "--password", "other", "--if-missing")
    assert django_user_model.objects.get(username="demo").check_password("first-password")


def test_run_recipe_takes_any_recipe_parameter_and_refuses_unknown_ones(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    with pytest.raises(CommandError, match="takes no warp"):
        call_command("run_recipe", "r1-zero", "--model", str(tmp_path), "--param", "warp=9")
    call_command("run_recipe", "r1-zero", "--model", str(tmp_path), "--param",
                 "reward_funcs=accuracy", "--queue", "gpu")
    grpo = Run.objects.get().stages.get(kind="grpo")
    assert grpo.params["reward_funcs"] == ["accuracy"] and grpo.queue == "gpu"


def test_rollup_samples_fills_in_the_statistics_of_samples_loaded_by_hand(make_run, make_samples):
    from r1web.runs.models import MetricPoint

    stage = make_run()
    make_samples(stage, steps=3)
    MetricPoint.objects.filter(key__startswith="samples/").delete()  # as after a COPY
    out = io.StringIO()
    call_command("rollup_samples", stdout=out)
    assert f"stage {stage.pk}: 3 steps" in out.getvalue()
    assert MetricPoint.objects.filter(stage=stage, key="samples/count").count() == 3
    call_command("rollup_samples", stdout=(again := io.StringIO()))
    assert "0 stage(s) done" in again.getvalue()  # nothing left to do
