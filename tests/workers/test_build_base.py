from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from r1domain.base import ConfigError
from r1domain.stage_params import BuildBaseParams
from r1web.runs.models import MetricPoint, Recipe, Run, Stage, StageKind
from workers.runner import execute
from workers.runners.build_base import base_dir, run_build_base_stage
from workers.stages import tiny_base
from workers.stages.tiny_base import ModelSpec, TrainSpec

MICRO = (
    ModelSpec(hidden_size=32, intermediate_size=64, num_hidden_layers=1, num_attention_heads=2,
              num_key_value_heads=1),
    TrainSpec(n_examples=64, batch_size=32, warmup_steps=1),
)


@pytest.fixture
def models_dir(settings, tmp_path) -> Path:
    settings.MODELS_DIR = tmp_path / "models"
    return settings.MODELS_DIR


def build_stage(**params) -> Stage:
    run = Run.objects.create(name="distill", recipe=Recipe.DISTILL, status="running")
    return Stage.objects.create(run=run, position=0, key="student-base", name="student base",
                                kind=StageKind.BUILD_BASE, status="running", params=params)


@pytest.mark.parametrize("path", ["/etc/elsewhere", "{models}/../outside", "{models}"])
def test_a_path_outside_the_models_dir_is_refused(models_dir, path):
    with pytest.raises(ConfigError, match="a base model is built inside"):
        base_dir(BuildBaseParams(size="small", path=path.format(models=models_dir)))


def test_without_a_path_each_size_has_its_own_directory(models_dir):
    assert base_dir(BuildBaseParams(size="small")) == models_dir.resolve() / "tiny-base-small"
    assert base_dir(BuildBaseParams()) == models_dir.resolve() / "tiny-base"


@pytest.mark.django_db
def test_the_stage_refuses_an_unknown_size_before_building(models_dir):
    stage = build_stage(size="huge", path=str(models_dir / "x"))
    execute(stage)
    stage.refresh_from_db()
    assert stage.status == "failed"
    assert "size: Input should be 'default' or 'small'" in stage.error
    assert not models_dir.exists()


@pytest.mark.django_db
def test_the_stage_builds_the_model_and_makes_it_its_output(models_dir, monkeypatch):
    # The real small preset takes minutes; the stage's wiring is the same with a micro one.
    monkeypatch.setitem(tiny_base.SIZES, "small", MICRO)
    stage = build_stage(size="small", path=str(models_dir / "tiny-base-small"), seed=0)
    result = run_build_base_stage(stage, stage.parameters())
    stage.refresh_from_db()
    path = models_dir.resolve() / "tiny-base-small"
    assert (path / "config.json").is_file()
    assert [p.name for p in models_dir.iterdir()] == ["tiny-base-small"]  # no scratch left
    assert stage.output_checkpoint.path == str(path) and result["built"] is True
    assert (stage.step, stage.total_steps) == (2, 2)
    assert MetricPoint.objects.filter(stage=stage, key="train/loss").exists()


@pytest.mark.django_db
def test_a_model_already_built_there_is_adopted_not_rebuilt(models_dir, micro_base):
    path = models_dir / "tiny-base-small"
    shutil.copytree(micro_base, path)
    before = (path / "model.safetensors").stat().st_mtime_ns
    stage = build_stage(size="small", path=str(path))
    result = run_build_base_stage(stage, stage.parameters())
    stage.refresh_from_db()
    assert result["built"] is False and result["parameters"] > 0
    assert stage.output_checkpoint.path == str(path.resolve())
    assert (path / "model.safetensors").stat().st_mtime_ns == before
