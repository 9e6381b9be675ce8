"""Distillation: a teacher's rejection-sampled answers SFT a smaller student (no RL),
compared with the same student trained by GRPO directly (the R1 report's table 5)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from r1web.runs.models import Checkpoint, Recipe, Stage, StageInput, StageKind, Status
from r1web.runs.recipes import stages
from r1web.runs.recipes.base import (
    DataSpec,
    Param,
    RecipeSpec,
    StageSpec,
    default_base,
    prompts_dataset,
)
from r1web.runs.recipes.cold_start import SFT_CONFIG
from r1web.runs.recipes.r1_zero import GRPO_CONFIG
from workers.domain.demo import DEMO_REWARD_FUNCS
from workers.domain.formats import COLD_START

SMALL_BASE = "tiny-base-small"


def latest_demo_teacher() -> Checkpoint | None:
    """The newest model an R1-Zero or R1 run trained with GRPO and finished."""
    stage = (
        Stage.objects.filter(
            run__recipe__in=[Recipe.R1_ZERO, Recipe.R1], kind=StageKind.GRPO,
            status=Status.SUCCEEDED, output_checkpoint__isnull=False,
        )
        .select_related("output_checkpoint")
        .order_by("-finished_at")
        .first()
    )
    return stage.output_checkpoint if stage else None


def _teacher(values: dict, prompts) -> tuple[list[StageSpec], Checkpoint | str]:
    teacher = values["teacher"] or latest_demo_teacher()
    if teacher is not None:
        return [], teacher
    node = stages.grpo("teacher", "train the teacher (R1-Zero GRPO)", default_base(), prompts,
                       {**values, "max_steps": values["teacher_steps"]},
                       reward_funcs=DEMO_REWARD_FUNCS)
    return [node], node.key


def _student(values: dict) -> tuple[list[StageSpec], Checkpoint | str]:
    if values["student"] is not None:
        return [], values["student"]
    path = (Path(settings.MODELS_DIR) / SMALL_BASE).resolve()
    registered = Checkpoint.objects.filter(path=str(path)).first()
    if registered is not None and (path / "config.json").is_file():
        return [], registered
    node = StageSpec("student-base", StageKind.BUILD_BASE, "build the student (small tiny base)",
                     params={"size": "small", "path": str(path), "seed": 0})
    return [node], node.key


def build(values: dict) -> list[StageSpec]:
    prompts = prompts_dataset(values["dataset"])
    teacher_nodes, teacher = _teacher(values, prompts)
    student_nodes, student = _student(values)
    train = StageInput.Role.TRAIN
    return [
        *teacher_nodes,
        *student_nodes,
        stages.rejection_sampling("teacher-samples", "teacher samples (rejection sampling)",
                                  teacher, prompts, values),
        stages.evaluate("eval-student-base", "evaluate the student base", student, prompts,
                        values, "student_base"),
        stages.sft("distill", "distill: SFT the student on the teacher's samples", student,
                   DataSpec(train, from_stage="teacher-samples"), values),
        stages.evaluate("eval-distilled", "evaluate the distilled student", "distill", prompts,
                        values, "distilled", COLD_START),
        stages.grpo("student-rl", "the same student trained by GRPO directly", student,
                    prompts, values, reward_funcs=DEMO_REWARD_FUNCS),
        stages.evaluate("eval-student-rl", "evaluate the RL-trained student", "student-rl",
                        prompts, values, "student_rl"),
    ]


def run_name(values: dict) -> str:
    teacher = values["teacher"].name if values["teacher"] else "the demo teacher"
    return f"distill {teacher} into {values['student'].name if values['student'] else SMALL_BASE}"


RECIPE = RecipeSpec(
    name=Recipe.DISTILL,
    label="Distillation: SFT a small student on a teacher's samples",
    description="Rejection-sample a teacher's answers, SFT a smaller student on them, and "
    "compare with the same student trained by GRPO directly.",
    params=(
        Param("name", "str", "Run name"),
        Param("teacher", "model", "Teacher", "blank = the latest R1-Zero/R1 checkpoint "
              "(trained first if there is none)"),
        Param("student", "model", "Student base", f"blank = {SMALL_BASE} (built if missing)"),
        Param("dataset", "dataset", "Prompts", "blank = the demo's synthetic tasks"),
        Param("max_steps", "int", "GRPO max_steps (student RL)", low=1, high=1_000_000),
        Param("teacher_steps", "int", "GRPO max_steps of the teacher, when one is trained",
              low=1, high=1_000_000),
        Param("eval_k", "int", "Samples per eval problem (k)", low=1, high=64),
        Param("eval_limit", "int", "Eval problems", low=1, high=100_000),
        Param("samples_per_prompt", "int", "Teacher samples per prompt", default=4, low=1,
              high=64),
        Param("keep_per_prompt", "int", "Kept per prompt", default=2, low=1, high=64),
        Param("rs_prompts", "int", "Prompts to sample", default=600, low=1, high=1_000_000),
        Param("judge", "model", "Generative judge", "blank = rules only"),
        GRPO_CONFIG,
        SFT_CONFIG,
    ),
    build=build,
    run_name=run_name,
)
