"""Issue 22: every stage kind's parameters are one type. A launch stores what the recipe
set, and what is stored reads back through the type as exactly that."""

from __future__ import annotations

import json

import pytest

from r1domain.aha_tasks import generate_repeat
from r1domain.stage_params import PARAMS, EvalParams, GRPOParams, dump
from r1web.audit.models import AuditEvent
from r1web.datasets.models import Dataset
from r1web.datasets.services import dataset_version_create
from r1web.runs import recipes
from r1web.runs.models import Checkpoint, Run
from r1web.runs.recipes.generate import candidate_generation_create
from r1web.runs.registry import STAGE_KINDS

pytestmark = pytest.mark.django_db

SMALL_GRPO = {"per_device_train_batch_size": 4, "num_generations": 2}


@pytest.fixture
def base(settings, tmp_path) -> Checkpoint:
    settings.MODELS_DIR = tmp_path / "models"
    settings.TINY_BASE_DIR = settings.MODELS_DIR / "tiny-base"
    settings.TINY_BASE_DIR.mkdir(parents=True)
    (settings.TINY_BASE_DIR / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    small = settings.MODELS_DIR / "tiny-base-small"
    small.mkdir()
    (small / "config.json").write_text("{}")
    return Checkpoint.objects.create(name="tiny-base", path=str(settings.TINY_BASE_DIR))


@pytest.fixture
def datasets(db) -> None:
    rows = generate_repeat(8, split="train", seed=0) + generate_repeat(4, split="test", seed=0)
    dataset_version_create(name="prompts", records=rows, source="test")
    sft = [{"prompt": "Add 1 to 2 once", "completion": "|special_token|1+2=3|special_token|3"}]
    dataset_version_create(name="cold", records=sft, source="test", kind=Dataset.Kind.SFT)
    dataset_version_create(name="general", records=sft, source="test", kind=Dataset.Kind.SFT)
    pairs = [{"prompt": "Say hi", "chosen": "hi", "rejected": "no"}]
    dataset_version_create(name="prefs", records=pairs, source="test",
                           kind=Dataset.Kind.PREFERENCE)


# One launch of every recipe, with values a user would type (strings, as a form sends).
LAUNCHES = {
    "r1-zero": {"dataset": "prompts", "max_steps": "3", "eval_k": "2", "eval_limit": "4",
                "probe_every": "2", "grpo_config": SMALL_GRPO},
    "r1": {"dataset": "prompts", "cold_start": "cold", "non_reasoning": "general",
           "preferences": "prefs", "non_reasoning_cot": "on", "eval_k": "3",
           "samples_per_prompt": "6", "pass_rate_min": "0.2", "pass_rate_max": "0.8",
           "num_processes": "2", "grpo_config": SMALL_GRPO},
    "distill": {"dataset": "prompts", "teacher": "tiny-base", "student": "tiny-base",
                "keep_per_prompt": "3", "eval_limit": "5"},
    "cold-start-sft": {"dataset": "cold", "samples_per_eval": "2"},
    "mix": {"sources": "cold,general", "proportions": "0.25,0.75", "target": "mixed",
            "total": "10"},
    "rejection-sampling": {"model": "tiny-base", "dataset": "prompts", "target": "kept",
                           "completion_format": "cold-start"},
    "reward-model": {"preferences": "prefs"},
}


def launch_capturing(name: str, values: dict, user) -> tuple[Run, dict]:
    """Launch ``name``; return the run and the parameters its recipe built, by stage key."""
    recipe = recipes.RECIPES[name]
    built: dict = {}

    def build(cleaned):
        specs = real(cleaned)
        built.update({spec.key: spec.params for spec in specs})
        return specs

    real = recipe.build
    object.__setattr__(recipe, "build", build)
    try:
        run = recipes.launch(name, values, user=user)
    finally:
        object.__setattr__(recipe, "build", real)
    return run, built


def test_recipes_cover_every_launchable_recipe():
    assert set(LAUNCHES) == set(recipes.RECIPES)


@pytest.mark.parametrize("name", sorted(LAUNCHES))
def test_every_stage_stores_what_its_recipe_set_and_reads_it_back_through_its_type(
    name, base, datasets, alice
):
    run, built = launch_capturing(name, LAUNCHES[name], alice)
    stages = list(run.stages.all())
    assert {stage.key for stage in stages} == set(built)
    for stage in stages:
        params = stage.parameters()
        assert type(params) is STAGE_KINDS[stage.kind].params is PARAMS[stage.kind]
        assert params == built[stage.key]
        # Stored: the fields the recipe set, as JSON; defaults it left alone stay unstored.
        assert stage.params == dump(built[stage.key])
        assert set(stage.params) == built[stage.key].model_fields_set


def test_the_values_a_user_typed_reach_every_stage_they_concern(base, datasets, alice):
    run, _ = launch_capturing("r1", LAUNCHES["r1"], alice)
    evals = [s.parameters() for s in run.stages.filter(kind="eval")]
    assert evals and all(isinstance(p, EvalParams) and p.k == 3 for p in evals)
    grpo = [s.parameters() for s in run.stages.filter(kind="grpo")]
    assert grpo and all(isinstance(p, GRPOParams) and p.num_processes == 2 for p in grpo)
    rejection = run.stages.get(key="rejection-sampling").parameters()
    assert (rejection.samples_per_prompt, rejection.window()) == (6, (0.2, 0.8))


def test_a_stage_that_set_nothing_gets_its_types_defaults(make_run):
    stage = make_run(params={})
    params = stage.parameters()
    assert params == GRPOParams()
    assert (params.reward_funcs, params.completion_format, params.probes().enabled) == (
        ["accuracy", "format"], "r1-zero", False)


def test_candidate_generation_is_launched_like_every_run_with_its_audit_row(
    base, datasets, alice
):
    prompts = recipes.resolve_version("prompts")
    run = candidate_generation_create(method="direct", prompts=prompts, target="curated",
                                      user=alice)
    event = AuditEvent.objects.get(action="run.launch")
    assert (event.actor, event.target) == (alice, run)
    assert run.stages.get().parameters().target == "curated"
