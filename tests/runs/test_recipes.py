"""Launching a recipe: bad input is refused before anything is written, with a clear
message; a good one becomes a stage graph whose ready stages are queued."""

from __future__ import annotations

import json

import pytest

from r1domain.base import ConfigError
from r1web.datasets.models import Dataset
from r1web.runs.models import Checkpoint, Run, Stage
from r1web.runs.recipes import RECIPES, launch
from r1web.runs.services import RunError

pytestmark = pytest.mark.django_db


@pytest.fixture
def models_dir(tmp_path, settings):
    settings.MODELS_DIR = tmp_path / "models"
    settings.MODELS_DIR.mkdir()
    return settings.MODELS_DIR


@pytest.fixture
def model_dir(models_dir):
    folder = models_dir / "base"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    return folder


def nothing_written() -> bool:
    return not Run.objects.exists() and not Stage.objects.exists()


def test_a_model_folder_that_does_not_exist_is_refused(models_dir):
    with pytest.raises(RunError, match="is not available"):
        launch("r1-zero", {"model": "nope"})
    assert nothing_written()


def test_a_model_outside_the_models_directory_gets_the_same_refusal(tmp_path, models_dir):
    # A real model folder elsewhere on the server: the message must not reveal it exists.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "config.json").write_text("{}")
    for value in (str(outside), "../elsewhere", "/etc", str(tmp_path / "missing")):
        with pytest.raises(RunError) as refused:
            launch("r1-zero", {"model": value})
        assert "is not available" in str(refused.value)
        assert "config.json" not in str(refused.value)
    assert nothing_written()
    assert not Checkpoint.objects.exists()


def test_a_model_under_the_models_directory_or_a_registered_checkpoint_is_accepted(model_dir):
    run = launch("r1-zero", {"model": "base"})
    checkpoint = run.stages.get(key="grpo").input_checkpoint
    assert checkpoint.path == str(model_dir)
    again = launch("r1-zero", {"model": str(checkpoint.pk)})
    assert again.stages.get(key="grpo").input_checkpoint == checkpoint


def test_a_reward_model_is_not_accepted_as_a_policy(model_dir):
    rm = Checkpoint.objects.create(name="rm", path=str(model_dir),
                                   role=Checkpoint.Role.REWARD_MODEL)
    with pytest.raises(RunError, match="is not available"):
        launch("r1-zero", {"model": str(rm.pk)})


def test_an_unknown_trl_field_is_refused_by_name(model_dir):
    with pytest.raises(ConfigError, match="learning_rat"):
        launch("r1-zero", {"model": "base", "grpo_config": {"learning_rat": 1e-5}})
    assert nothing_written()


@pytest.mark.parametrize("field, value", [
    ("trust_remote_code", True),
    ("model_init_kwargs", {"trust_remote_code": True}),
    ("push_to_hub", True),
    ("report_to", "wandb"),
    ("vllm_server_base_url", "http://10.0.0.1:8000"),
    ("deepspeed", "/etc/ds.json"),
    ("learning_rate", -1.0),
    ("per_device_train_batch_size", 10**9),
])
def test_fields_that_run_code_reach_out_or_make_no_sense_are_refused(model_dir, field, value):
    with pytest.raises(ConfigError, match=field):
        launch("r1-zero", {"model": "base", "grpo_config": {field: value}})
    assert nothing_written()


def test_a_secret_is_refused_without_being_stored_or_echoed(model_dir):
    with pytest.raises(ConfigError) as refused:
        launch("r1-zero", {"model": "base", "grpo_config": {"hub_token": "hf_SECRET123"}})
    assert "hf_SECRET123" not in str(refused.value)
    assert nothing_written()


def test_an_unknown_dataset_is_refused(model_dir):
    with pytest.raises(RunError, match="no dataset version missing"):
        launch("r1-zero", {"model": "base", "dataset": "missing"})
    assert nothing_written()
    assert not Dataset.objects.exists()


def test_an_unknown_reward_function_is_refused(model_dir):
    with pytest.raises(ConfigError, match="helpfulness"):
        launch("r1-zero", {"model": "base", "reward_funcs": "accuracy,helpfulness"})
    assert nothing_written()


def test_an_unknown_recipe_parameter_is_refused(model_dir):
    with pytest.raises(RunError, match="no parameter"):
        launch("r1-zero", {"model": "base", "temperature_of_the_room": 3})
    assert nothing_written()


def test_a_valid_request_stores_only_what_was_set_and_queues_the_ready_stages(model_dir):
    run = launch("r1-zero", {"model": "base", "max_steps": 7,
                             "grpo_config": {"learning_rate": 2e-5}})
    stages = list(run.stages.order_by("position"))
    assert [s.kind for s in stages] == ["eval", "grpo", "eval"]
    # The base evaluation and GRPO need nothing; the last evaluation needs GRPO's model.
    assert [s.status for s in stages] == ["queued", "queued", "pending"]
    assert list(stages[2].needs.all()) == [stages[1]]
    assert stages[2].waiting_on() == stages[1]
    grpo = stages[1].trl_config
    assert grpo["max_steps"] == 7 and grpo["learning_rate"] == 2e-5
    # Hardware is the worker's business: nothing the web process guessed is stored.
    for name in ("use_cpu", "bf16", "report_to", "disable_tqdm"):
        assert name not in grpo
    run.refresh_from_db()
    assert run.status == "queued"


def test_every_recipe_declares_a_name_label_and_parameters():
    assert {"r1-zero", "cold-start-sft", "r1", "distill"} <= set(RECIPES)
    for recipe in RECIPES.values():
        assert recipe.label and recipe.params


def test_a_queue_no_worker_listens_on_is_refused(model_dir):
    with pytest.raises(RunError, match="queue 'celery-admin' is not one of cpu, gpu"):
        launch("r1-zero", {"model": "base"}, queue="celery-admin")
    assert nothing_written()


def test_distill_samples_the_teacher_in_the_format_it_was_trained_to_answer(model_dir, make_run):
    from r1web.runs.models import StageKind

    sft = make_run(name="cold start", status="succeeded", kind=StageKind.SFT)
    teacher = Checkpoint.objects.create(name="teacher", path=str(model_dir / "t"), produced_by=sft)
    student = Checkpoint.objects.create(name="student", path=str(model_dir))
    run = launch("distill", {"teacher": str(teacher.pk), "student": str(student.pk)})
    sampling = run.stages.get(key="teacher-samples")
    assert sampling.params["completion_format"] == "cold-start"
    assert sampling.input_checkpoint == teacher
    # The student base is R1-Zero-prompted; the distilled student answers as it was taught.
    formats = dict(run.stages.filter(kind="eval").values_list("key", "params__completion_format"))
    assert formats == {"eval-student-base": "r1-zero", "eval-distilled": "cold-start",
                       "eval-student-rl": "r1-zero"}


@pytest.fixture
def two_sft_sets(db):
    from r1web.datasets.services import dataset_version_create

    for name in ("reasoning", "general"):
        dataset_version_create(name=name, kind="sft", source="test", records=[
            {"key": f"{name}{i}", "prompt": f"p{i}", "completion": f"c{i}"} for i in range(4)])


@pytest.mark.parametrize("proportions, message", [
    ("0.5,0.4", "must sum to 1"),
    ("0.5,x", "numbers separated by commas"),
    ("1.5,-0.5", "positive"),
    ("1", "2 sources need 2 proportions"),
])
def test_mix_proportions_that_do_not_make_a_whole_are_refused(two_sft_sets, proportions, message):
    with pytest.raises(RunError, match=message):
        launch("mix", {"sources": "reasoning,general", "proportions": proportions})
    assert nothing_written()


def test_a_mix_pins_every_source_with_its_share(two_sft_sets):
    run = launch("mix", {"sources": "reasoning,general@1", "proportions": "0.75,0.25"})
    stage = run.stages.get()
    shares = list(stage.inputs.order_by("pk").values_list("version__dataset__name", "weight"))
    assert shares == [("reasoning", 0.75), ("general", 0.25)]
    assert stage.status == "queued"


@pytest.mark.parametrize("param", ["judge", "reward_model", "teacher"])
def test_a_judge_reward_model_or_teacher_that_does_not_exist_is_refused(model_dir, param):
    recipe = "distill" if param == "teacher" else "r1"
    with pytest.raises(RunError, match="is not available"):
        launch(recipe, {param: "9999", **({"model": "base"} if recipe == "r1" else {})})
    assert nothing_written()


@pytest.mark.parametrize("param, field", [
    ("sft_config", "warp_speed"), ("reward_config", "center_rewards_coefficent"),
    ("grpo_config", "trust_remote_code"),
])
def test_any_trl_config_of_the_r1_recipe_is_checked(model_dir, param, field):
    with pytest.raises(ConfigError, match=field):
        launch("r1", {"model": "base", param: {field: 1}})
    assert nothing_written()


def test_distill_trains_and_evaluates_every_student_it_is_given(model_dir, models_dir):
    other = models_dir / "other"
    other.mkdir()
    (other / "config.json").write_text("{}")
    teacher = Checkpoint.objects.create(name="teacher", path=str(model_dir / "t"))
    run = launch("distill", {"teacher": str(teacher.pk), "student": "base, other"})
    labels = set(run.stages.filter(kind="eval").values_list("params__label", flat=True))
    assert labels == {"student_base", "distilled", "student_rl", "student_base@other",
                      "distilled@other", "student_rl@other"}
    assert run.stages.filter(kind="sft").count() == 2


def test_r1_can_add_a_cot_to_the_non_reasoning_data_before_mixing(model_dir):
    run = launch("r1", {"model": "base", "non_reasoning_cot": True})
    cot = run.stages.get(kind="add_cot")
    assert cot.input_from == run.stages.get(key="reasoning-rl")
    mix_sources = run.stages.get(kind="mix").inputs.order_by("pk")
    assert [link.from_stage.key for link in mix_sources] == ["rejection-sampling",
                                                             "non-reasoning-cot"]


def test_rejection_sampling_runs_on_its_own_from_any_checkpoint(model_dir):
    run = launch("rejection-sampling", {"model": "base", "completion_format": "cold-start",
                                        "samples_per_prompt": 8, "keep_per_prompt": 2,
                                        "pass_rate_min": 0.2, "pass_rate_max": 0.8})
    stage = run.stages.get()
    assert stage.kind == "rejection_sampling" and stage.status == "queued"
    assert stage.params["pass_rate_window"] == [0.2, 0.8]
    assert (stage.params["samples_per_prompt"], stage.params["keep_per_prompt"]) == (8, 2)


def test_a_reward_model_needs_preference_pairs(model_dir, two_sft_sets):
    with pytest.raises(RunError, match="needs preference"):
        launch("reward-model", {"model": "base", "preferences": "reasoning"})
    assert nothing_written()


def test_distill_trains_its_student_longer_than_a_cold_start_unless_the_user_says(model_dir):
    # On the demo task 150 SFT steps taught the small student the format but not the
    # additions (pass@1 0.0625 -> 0.079); distillation's own default is longer.
    teacher = Checkpoint.objects.create(name="teacher", path=str(model_dir / "t"))
    student = Checkpoint.objects.create(name="student", path=str(model_dir))
    values = {"teacher": str(teacher.pk), "student": str(student.pk)}
    distilled = launch("distill", values).stages.get(key="distill")
    assert distilled.trl_config["max_steps"] == 500
    assert distilled.trl_config["learning_rate"] == 1e-3  # the demo's SFT settings otherwise
    chosen = launch("distill", {**values, "sft_config": {"max_steps": 40}})
    assert chosen.stages.get(key="distill").trl_config["max_steps"] == 40
    cold_start = launch("r1", {"model": "base"}).stages.get(key="cold-start-sft")
    assert cold_start.trl_config["max_steps"] == 150
