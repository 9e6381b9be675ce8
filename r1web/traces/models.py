"""Sampled completions and the flags people put on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Sample(models.Model):
    """One sampled completion, as the stage scored it.

    ``(stage, step, group, index)`` is unique: a retried write of the same batch can
    never store a completion twice. ``run`` is denormalised from the stage because the
    trace browser filters by run over millions of rows.
    """

    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="samples")
    stage = models.ForeignKey("runs.Stage", on_delete=models.CASCADE, related_name="samples")
    step = models.PositiveIntegerField()
    group = models.PositiveIntegerField()
    index = models.PositiveSmallIntegerField()
    example = models.ForeignKey(
        "datasets.Example", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    example_key = models.CharField(max_length=200, blank=True)
    prompt = models.TextField()
    completion = models.TextField()
    think = models.TextField(blank=True)
    answer = models.TextField(blank=True)
    reference = models.TextField(blank=True)
    rewards = models.JSONField(default=dict)
    reward = models.FloatField()
    advantage = models.FloatField(default=0.0)
    length_tokens = models.PositiveIntegerField()
    correct = models.BooleanField()
    format_ok = models.BooleanField()
    reflection_phrases = models.JSONField(default=list)
    reflection_count = models.PositiveSmallIntegerField(default=0)
    # Rejection sampling's verdict: kept, or the reason it was dropped ("incorrect",
    # "mixed_language", ...). Blank for samples no filter judged.
    verdict = models.CharField(max_length=40, blank=True)
    # A generative judge's prompt and raw answer, where rules could not decide.
    judge = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stage", "step", "group", "index"], name="sample_position_unique"
            )
        ]
        indexes = [
            models.Index(fields=["run", "id"], name="sample_run_id"),
            models.Index(fields=["stage", "id"], name="sample_stage_id"),
            models.Index(fields=["run", "reward", "id"], name="sample_run_reward"),
            models.Index(fields=["stage", "example_key", "step"], name="sample_evolution"),
            # Keyset paging of the trace browser's sorts, within a run and across runs.
            models.Index(fields=["run", "step", "id"], name="sample_run_step"),
            models.Index(fields=["run", "length_tokens", "id"], name="sample_run_length"),
            models.Index(fields=["stage", "step", "id"], name="sample_stage_step"),
            models.Index(fields=["reward", "id"], name="sample_reward"),
            models.Index(fields=["step", "id"], name="sample_step"),
            models.Index(fields=["length_tokens", "id"], name="sample_length"),
            models.Index(fields=["stage", "verdict", "id"], name="sample_stage_verdict"),
        ]

    def __str__(self) -> str:
        return f"sample {self.pk} (step {self.step}, group {self.group}.{self.index})"

    def get_absolute_url(self) -> str:
        return reverse("traces:sample", args=[self.pk])

    def has_reflection(self) -> bool:
        return self.reflection_count > 0

    def is_kept(self) -> bool:
        return self.verdict == "kept"


class FlagLabel(models.TextChoices):
    REFLECTION = "reflection", "reflection"
    AHA = "aha", "aha moment"
    NOT_REFLECTION = "not_reflection", "not reflection"
    CUSTOM = "custom", "custom"


class Flag(models.Model):
    sample = models.ForeignKey(Sample, on_delete=models.CASCADE, related_name="flags")
    # Denormalised so the run's chart can count flags per step without a join.
    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="flags")
    step = models.PositiveIntegerField()
    label = models.CharField(max_length=20, choices=FlagLabel.choices)
    custom_label = models.CharField(max_length=100, blank=True)
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sample", "created_by", "label", "custom_label"], name="flag_unique"
            )
        ]
        indexes = [models.Index(fields=["run", "step"], name="flag_run_step")]

    def get_absolute_url(self) -> str:
        return reverse("traces:sample", args=[self.sample_id]) + f"#flag-{self.pk}"

    def display_label(self) -> str:
        return self.custom_label if self.label == FlagLabel.CUSTOM else self.get_label_display()
