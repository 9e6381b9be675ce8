"""Runs, their stages, the checkpoints they produce and the metrics they log.

A ``Run`` is one pipeline made from a recipe (R1-Zero, R1, distillation); it is an
ordered list of ``Stage`` rows. A stage reads a model (a ``Checkpoint``, or the output of
an earlier stage of the same run) and dataset versions, and writes a checkpoint,
dataset versions, metric points and samples.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from r1domain.checkpoints import is_complete
from r1domain.stage_params import P, StageParams, decode, decode_as


class Status(models.TextChoices):
    PENDING = "pending", "pending"  # waits for an earlier stage
    QUEUED = "queued", "queued"
    RUNNING = "running", "running"
    SUCCEEDED = "succeeded", "succeeded"
    FAILED = "failed", "failed"
    CANCELLED = "cancelled", "cancelled"


FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)


class Recipe(models.TextChoices):
    R1_ZERO = "r1-zero", "R1-Zero (GRPO from the base model)"
    COLD_START_SFT = "cold-start-sft", "Cold-start SFT"
    R1 = "r1", "R1 (cold start, reasoning RL, rejection sampling, SFT, two-stage RL)"
    DISTILL = "distill", "Distillation (SFT a small model on a teacher's samples)"
    MIX = "mix", "Dataset mix"
    REJECTION_SAMPLING = "rejection-sampling", "Rejection sampling"
    REWARD_MODEL = "reward-model", "Reward model"
    CUSTOM = "custom", "Custom"
    # Trained by a script elsewhere that logs into r1web (r1web.ingest), or imported logs.
    EXTERNAL = "external", "External (logged by its own training script)"


class StageKind(models.TextChoices):
    GRPO = "grpo", "GRPO"
    SFT = "sft", "SFT"
    EVAL = "eval", "evaluation"
    GENERATE = "generate", "candidate generation"
    REJECTION_SAMPLING = "rejection_sampling", "rejection sampling"
    MIX = "mix", "dataset mix"
    REWARD_MODEL = "reward_model", "reward model"
    BUILD_BASE = "build_base", "tiny base build"
    ADD_COT = "add_cot", "CoT for non-reasoning data"


class Checkpoint(models.Model):
    """A model directory on disk: a base model someone registered, or a stage's output."""

    class Role(models.TextChoices):
        POLICY = "policy", "policy (a causal LM)"
        REWARD_MODEL = "reward_model", "reward model (sequence classifier)"

    name = models.CharField(max_length=200)
    path = models.CharField(max_length=500)
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.POLICY)
    produced_by = models.ForeignKey(
        "Stage", null=True, blank=True, on_delete=models.SET_NULL, related_name="checkpoints"
    )
    step = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["path"], name="checkpoint_path_unique")]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("runs:checkpoint", args=[self.pk])

    def is_base(self) -> bool:
        return self.produced_by_id is None


class Run(models.Model):
    name = models.CharField(max_length=200)
    recipe = models.CharField(max_length=40, choices=Recipe.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    config = models.JSONField(default=dict, blank=True)  # the recipe's arguments
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} (#{self.pk})"

    def get_absolute_url(self) -> str:
        return reverse("runs:detail", args=[self.pk])

    def is_finished(self) -> bool:
        return self.status in FINISHED

    def has_stopped_stages(self) -> bool:
        """A stage failed, was cancelled or lost its worker: the run can resume, even
        while other branches of its graph still run. An external run resumes only when its own
        script opens it again (r1web.ingest)."""
        if self.recipe == Recipe.EXTERNAL:
            return False
        stopped = models.Q(status__in=[Status.FAILED, Status.CANCELLED]) | Stage.lost_filter()
        return self.stages.filter(stopped).exists()


class Stage(models.Model):
    """One node of a run's stage graph.

    A stage is queued once every stage it ``needs`` has succeeded; its inputs (a model
    from ``input_from``, datasets from ``StageInput.from_stage``) are pinned to the
    concrete checkpoint and dataset versions at that moment, so lineage never moves.
    """

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="stages")
    position = models.PositiveSmallIntegerField()
    key = models.SlugField(max_length=60, blank=True)  # the recipe's name for it
    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=30, choices=StageKind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    # Fields of TRL's GRPOConfig / SFTConfig, by their TRL names.
    trl_config = models.JSONField(default=dict, blank=True)
    # Everything that is not TRL's (reward functions, eval k...): the fields of the kind's
    # parameter type that the recipe set (``r1domain.stage_params.dump``); see parameters().
    params = models.JSONField(default=dict, blank=True)
    queue = models.CharField(max_length=40, default="cpu")

    input_checkpoint = models.ForeignKey(
        Checkpoint, null=True, blank=True, on_delete=models.PROTECT, related_name="consumers"
    )
    # "Use whatever that earlier stage produced": resolved when this stage starts.
    input_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="feeds"
    )
    input_datasets = models.ManyToManyField(
        "datasets.DatasetVersion",
        through="StageInput",
        through_fields=("stage", "version"),
        related_name="consumers",
        blank=True,
    )
    output_checkpoint = models.ForeignKey(
        Checkpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    needs = models.ManyToManyField(
        "self", symmetrical=False, related_name="dependents", blank=True
    )
    # An evaluation already computed (same model, data and settings) is reused, not redone.
    cache_key = models.CharField(max_length=64, blank=True, db_index=True)
    reused_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reused_by"
    )

    step = models.PositiveIntegerField(default=0)
    total_steps = models.PositiveIntegerField(default=0)
    attempt = models.PositiveSmallIntegerField(default=0)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=200, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    resumable = models.BooleanField(default=False)
    cancel_requested = models.BooleanField(default=False)
    result = models.JSONField(default=dict, blank=True)  # e.g. an evaluation's scores

    class Meta:
        ordering = ["run", "position"]
        constraints = [
            models.UniqueConstraint(fields=["run", "position"], name="stage_position_unique")
        ]
        indexes = [models.Index(fields=["queue", "status"], name="stage_queue_status")]

    def __str__(self) -> str:
        return f"{self.run.name} / {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("runs:stage", args=[self.pk])

    def is_finished(self) -> bool:
        return self.status in FINISHED

    def parameters(self) -> StageParams:
        """The stored ``params`` as the kind's parameter type (``r1domain.stage_params``),
        defaults filled in; ConfigError when they do not fit it."""
        return decode(self.kind, self.params)

    def progress_percent(self) -> int:
        if self.status == Status.SUCCEEDED:
            return 100
        if not self.total_steps:
            return 0
        return min(100, round(100 * self.step / self.total_steps))

    def is_stale(self, now=None) -> bool:
        """True when a running stage's worker has stopped writing its heartbeat."""
        if self.status != Status.RUNNING or self.heartbeat_at is None:
            return False
        limit = timedelta(seconds=settings.R1WEB_STALE_AFTER_SECONDS)
        return (now or timezone.now()) - self.heartbeat_at > limit

    @staticmethod
    def lost_filter() -> models.Q:
        """``is_stale`` as a filter: running stages whose worker stopped beating."""
        limit = timedelta(seconds=settings.R1WEB_STALE_AFTER_SECONDS)
        return models.Q(status=Status.RUNNING, heartbeat_at__lt=timezone.now() - limit)

    def status_label(self) -> str:
        """Its status as pages write it: a stale running stage has lost its worker. Said
        on read; the stage is failed (resumable) by a worker's reaper or a resume."""
        return "lost" if self.is_stale() else self.status

    def latest_checkpoint(self) -> Checkpoint | None:
        return self.checkpoints.filter(step__isnull=False).order_by("-step").first()

    def resume_checkpoint(self) -> Checkpoint | None:
        """Where a second attempt continues: the newest recorded checkpoint still whole on
        disk (asked on the worker, which holds the files). One deleted or cut short by a
        kill is passed over for the one before; with none, the stage starts over."""
        for checkpoint in self.checkpoints.filter(step__isnull=False).order_by("-step"):
            if is_complete(checkpoint.path):
                return checkpoint
        return None

    def waiting_on(self) -> Stage | None:
        """The first stage this one needs that has not succeeded, if any."""
        return self.needs.exclude(status=Status.SUCCEEDED).order_by("position").first()

    def output_dataset(self):
        return self.outputs.order_by("-pk").first()


def stage_parameters(stage: Stage, cls: type[P]) -> P:
    """``stage.parameters()`` where the caller knows the kind's type (a panel of it)."""
    return decode_as(cls, stage.kind, stage.params)


class StageInput(models.Model):
    """A dataset version a stage reads: one the user gave, or the output of an earlier
    stage (``from_stage``), pinned into ``version`` when the stage is queued."""

    class Role(models.TextChoices):
        TRAIN = "train", "train"
        EVAL = "eval", "eval"
        EXEMPLARS = "exemplars", "exemplars"
        PREFERENCES = "preferences", "preferences"

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="inputs")
    version = models.ForeignKey(
        "datasets.DatasetVersion", null=True, blank=True, on_delete=models.PROTECT
    )
    from_stage = models.ForeignKey(
        Stage, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.TRAIN)
    weight = models.FloatField(null=True, blank=True)  # a mix's share of this source

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stage", "version", "role"], name="stage_input_unique")
        ]


class MetricPoint(models.Model):
    # Indexed by the unique (stage, key, step): a stage-only index made the planner read
    # every key's points and filter, instead of one key's points in step order.
    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="metric_points",
                              db_index=False)
    step = models.PositiveIntegerField()
    key = models.CharField(max_length=200)
    value = models.FloatField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stage", "key", "step"], name="metric_point_unique")
        ]

    def get_absolute_url(self) -> str:
        return reverse("runs:stage", args=[self.stage_id]) + f"#metric-{self.key}"


class MetricRollup(models.Model):
    """Min, max and last value of one metric over a block of ``size`` steps.

    Kept beside the raw points (``r1web.runs.rollups``) so a chart over a million steps
    reads about a thousand summaries instead of a million rows.
    """

    stage = models.ForeignKey(Stage, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=200)
    size = models.PositiveIntegerField()  # steps per block: one of rollups.LEVELS
    block = models.PositiveIntegerField()  # first step = block * size
    low = models.FloatField()
    high = models.FloatField()
    last_step = models.PositiveIntegerField()
    last = models.FloatField()
    count = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stage", "key", "size", "block"], name="metric_rollup_unique")
        ]
        # A stage's newest summary in one index descent (chart_cache.data_stamp).
        indexes = [models.Index(fields=["stage", "id"], name="rollup_stage_newest")]


class Worker(models.Model):
    """A Celery worker that says it is alive: it writes its row when it starts and every
    heartbeat interval after (``workers.tasks``), and deletes it when it stops cleanly.
    Pages learn who listens on a queue from here, without asking the broker."""

    name = models.CharField(max_length=200, unique=True)  # Celery's node name: celery@host
    queues = models.JSONField(default=list)  # the queues it consumes (-Q)
    seen_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
