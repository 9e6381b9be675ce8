"""Distillation: a teacher's rejection-sampled answers SFT a smaller student (no RL),
compared with the same student trained by GRPO directly (the R1 report's table 5)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from r1domain.demo import DEMO_REWARD_FUNCS
from r1domain.formats import COLD_START, R1_ZERO
from r1domain.stage_params import BuildBaseParams, GRPOParams, validate
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

SMALL_BASE = "tiny-base-small"
# The small student learns the teacher's format within 150 steps but not its additions:
# on the repeated-addition demo, 150 steps took its pass@1 from 0.0625 to 0.079, 500 steps
# to 0.40 (the same student by GRPO directly: 0.0675). A user's sft_config still wins.
DISTILL_SFT_DEFAULTS = {"max_steps": 500}


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


def spoken_format(checkpoint: Checkpoint) -> str:
    """How a model answers: as the stage that made it prompted it (SFT teaches the
    cold-start format); a base model answers the R1-Zero template."""
    producer = checkpoint.produced_by
    if producer is None:
        return R1_ZERO
    if producer.kind == StageKind.SFT:
        return COLD_START
    params = producer.parameters()
    return params.completion_format if isinstance(params, GRPOParams) else R1_ZERO


def _teacher(values: dict, prompts) -> tuple[list[StageSpec], Checkpoint | str, str]:
    teacher = values["teacher"] or latest_demo_teacher()
    if teacher is not None:
        return [], teacher, spoken_format(teacher)
    node = stages.grpo("teacher", "train the teacher (R1-Zero GRPO)", default_base(), prompts,
                       {**values, "max_steps": values["teacher_steps"]},
                       reward_funcs=DEMO_REWARD_FUNCS)
    return [node], node.key, R1_ZERO


def _students(values: dict) -> tuple[list[StageSpec], list[Checkpoint | str]]:
    if values["student"]:
        return [], values["student"]
    path = (Path(settings.MODELS_DIR) / SMALL_BASE).resolve()
    registered = Checkpoint.objects.filter(path=str(path)).first()
    if registered is not None and (path / "config.json").is_file():
        return [], [registered]
    node = StageSpec("student-base", "build the student (small tiny base)",
                     validate(BuildBaseParams, {"size": "small", "path": str(path), "seed": 0}))
    return [node], [node.key]


def _student_nodes(student, index: int, prompts, values: dict) -> list[StageSpec]:
    """Evaluate the student, distill it, and train it by GRPO instead, for comparison.
    The first student's labels are plain (``student_base``); others' name the student."""
    suffix = "" if index == 0 else f"-{index + 1}"
    name = "" if index == 0 else f"@{student.name if isinstance(student, Checkpoint) else student}"
    train = StageInput.Role.TRAIN
    return [
        stages.evaluate(f"eval-student-base{suffix}", f"evaluate the student base{suffix}",
                        student, prompts, values, f"student_base{name}"),
        stages.sft(f"distill{suffix}", f"distill: SFT student{suffix} on the teacher's samples",
                   student, DataSpec(train, from_stage="teacher-samples"), values,
                   defaults=DISTILL_SFT_DEFAULTS),
        stages.evaluate(f"eval-distilled{suffix}", f"evaluate the distilled student{suffix}",
                        f"distill{suffix}", prompts, values, f"distilled{name}", COLD_START),
        stages.grpo(f"student-rl{suffix}", f"student{suffix} trained by GRPO directly", student,
                    prompts, values, reward_funcs=DEMO_REWARD_FUNCS),
        stages.evaluate(f"eval-student-rl{suffix}", f"evaluate the RL-trained student{suffix}",
                        f"student-rl{suffix}", prompts, values, f"student_rl{name}"),
    ]


def build(values: dict) -> list[StageSpec]:
    prompts = prompts_dataset(values["dataset"])
    teacher_nodes, teacher, teacher_format = _teacher(values, prompts)
    build_nodes, students = _students(values)
    per_student = [node for index, student in enumerate(students)
                   for node in _student_nodes(student, index, prompts, values)]
    return [
        *teacher_nodes,
        *build_nodes,
        stages.rejection_sampling("teacher-samples", "teacher samples (rejection sampling)",
                                  teacher, prompts, values, completion_format=teacher_format),
        *per_student,
    ]


def run_name(values: dict) -> str:
    teacher = values["teacher"].name if values["teacher"] else "the demo teacher"
    students = ", ".join(s.name for s in values["student"] or []) or SMALL_BASE
    return f"distill {teacher} into {students}"


RECIPE = RecipeSpec(
    name=Recipe.DISTILL,
    label="Distillation: SFT a small student on a teacher's samples",
    description="Rejection-sample a teacher's answers, SFT a smaller student on them, and "
    "compare with the same student trained by GRPO directly.",
    params=(
        Param("name", "str", "Run name"),
        Param("teacher", "model", "Teacher", "blank = the latest R1-Zero/R1 checkpoint "
              "(trained first if there is none)"),
        Param("student", "models", "Students", "one or more student bases, comma-separated; "
              f"blank = {SMALL_BASE} (built if missing)"),
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
        *stages.PROBE_PARAMS,
        *stages.PROCESS_PARAMS,
        GRPO_CONFIG,
        SFT_CONFIG,
    ),
    build=build,
    run_name=run_name,
)
