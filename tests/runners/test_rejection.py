"""The rejection-sampling runner: from a claimed stage to a new dataset version."""

from __future__ import annotations

import pytest

from r1domain.base import ConfigError
from r1domain.stage_params import replace
from r1web.datasets.models import Dataset, Example
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Checkpoint, Recipe, Run, Stage, Status
from r1web.runs.recipes.base import create_stages
from r1web.runs.recipes.stages import rejection_sampling
from r1web.runs.services import stage_claim
from r1web.traces.models import Sample
from tests.workers.scripted_model import READABLE, WRONG, ScriptedModel
from workers.runner import execute
from workers.runners.rejection import run_rejection_stage

PROMPTS = [
    {"key": "p0", "prompt": "Find the largest of 3 9 1", "answer": "9", "task": "largest"},
    {"key": "p1", "prompt": "Find the largest of 3 9 2", "answer": "9", "task": "largest"},
    {"key": "p2", "prompt": "Find the largest of 3 9 4", "answer": "9", "task": "largest"},
    {"key": "t0", "prompt": "Find the largest of 3 9 5", "answer": "9", "task": "largest",
     "split": "test"},
]


@pytest.fixture
def launch(db, alice):
    """A claimed rejection-sampling stage built by the recipes' own node."""
    prompts = dataset_version_create(name="prompts", records=PROMPTS, source="test")
    policy = Checkpoint.objects.create(name="policy", path="/models/policy")

    def make(values: dict | None = None, **params) -> Stage:
        values = {"samples_per_prompt": 4, "keep_per_prompt": 2, "rs_prompts": 2,
                  **(values or {})}
        spec = rejection_sampling("rejection-sampling", "rejection sampling", policy, prompts,
                                  values)
        spec.params = replace(spec.params, **params)
        run = Run.objects.create(name="rs", recipe=Recipe.R1, created_by=alice)
        create_stages(run, [spec], [{}], "cpu")
        stage = run.stages.get()
        Stage.objects.filter(pk=stage.pk).update(status=Status.QUEUED)
        return stage_claim(stage_pk=stage.pk, worker="test")

    return make


def test_kept_samples_become_a_dataset_version_with_their_provenance(launch, monkeypatch):
    ScriptedModel({PROMPTS[0]["prompt"]: [READABLE, WRONG],
                   PROMPTS[1]["prompt"]: [WRONG]}).install(monkeypatch)
    stage = launch()
    result = run_rejection_stage(stage, stage.parameters())

    version = stage.output_dataset()
    assert result["dataset"] == str(version) == f"run-{stage.run_id}-rejection-sampling v1"
    assert (result["kept"], result["samples"], result["prompts"], result["examples"]) == (
        2, 8, 2, 2)
    assert result["rejected"] == {"incorrect": 6}
    assert version.dataset.kind == Dataset.Kind.SFT
    assert version.source == f"rejection sampling, stage {stage.pk}"
    example = Example.objects.filter(version=version).order_by("position").first()
    assert example.completion == (
        "|special_token|9 is bigger than 3 and 1 .|special_token|9"
    )
    assert (example.prompt, example.answer, example.split) == (PROMPTS[0]["prompt"], "9", "train")
    assert example.provenance == {
        "run": stage.run_id, "stage": stage.pk, "step": 0, "group": 0, "index": 0,
        "checkpoint": "/models/policy", "example_key": "p0", "verdict": "kept",
    }


def test_every_sample_kept_or_not_is_stored_with_its_verdict(launch, monkeypatch):
    ScriptedModel({PROMPTS[0]["prompt"]: [READABLE, WRONG],
                   PROMPTS[1]["prompt"]: [WRONG]}).install(monkeypatch)
    stage = launch()
    run_rejection_stage(stage, stage.parameters())

    verdicts = list(Sample.objects.filter(stage=stage).order_by("group", "index")
                    .values_list("verdict", flat=True))
    assert verdicts == ["kept", "incorrect", "kept", "incorrect"] + ["incorrect"] * 4
    # The test split is not sampled, and prompt_limit (rs_prompts) caps the train prompts.
    assert set(Sample.objects.values_list("example_key", flat=True)) == {"p0", "p1"}


def test_the_output_uses_the_stage_special_token_and_target_name(launch, monkeypatch):
    ScriptedModel({p["prompt"]: [READABLE] for p in PROMPTS}).install(monkeypatch)
    stage = launch(target="rs-out", special_token="<sep>")
    run_rejection_stage(stage, stage.parameters())

    dataset = Dataset.objects.get(name="rs-out")
    assert dataset.special_token == "<sep>"
    assert Example.objects.filter(version__dataset=dataset).first().completion.startswith(
        "<sep>9 is bigger")


def test_a_judge_checkpoint_judges_prompts_without_reference(launch, monkeypatch, alice):
    open_prompts = dataset_version_create(
        name="open", records=[{"key": "o", "prompt": "Say why 9 is big", "answer": ""}],
        source="test",
    )
    judge = Checkpoint.objects.create(name="judge", path="/models/judge")
    ScriptedModel({"Say why 9 is big": [READABLE, WRONG]},
                  verdicts={"9 is bigger": " correct"}).install(monkeypatch)
    stage = launch({"judge": judge})
    stage.inputs.update(version=open_prompts)
    result = run_rejection_stage(stage, stage.parameters())

    assert result["kept"] == 2 and result["rejected"] == {"judge_unparsed": 2}
    judged = Sample.objects.filter(stage=stage, verdict="kept").first()
    assert judged.judge["model"] == "/models/judge" and judged.judge["raw"] == " correct"


def test_a_stage_that_keeps_nothing_fails_saying_why_and_its_samples_stay(launch, monkeypatch):
    ScriptedModel({p["prompt"]: [WRONG] for p in PROMPTS}).install(monkeypatch)
    stage = launch()
    execute(stage)

    stage.refresh_from_db()
    assert stage.status == Status.FAILED
    assert "kept none of its 8 samples (incorrect 8)" in stage.error
    assert Sample.objects.filter(stage=stage, verdict="incorrect").count() == 8
    assert not Dataset.objects.filter(name__startswith="run-").exists()


def test_a_target_that_is_not_an_sft_set_is_refused_before_sampling(launch, monkeypatch):
    ScriptedModel({p["prompt"]: [READABLE] for p in PROMPTS}).install(monkeypatch)
    stage = launch(target="prompts")
    with pytest.raises(ConfigError, match="'prompts' is a prompts dataset"):
        run_rejection_stage(stage, stage.parameters())
    assert not Sample.objects.exists()
