"""Sampled completions and the flags people put on them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from r1web.accounts.roles import CURATOR, OPERATOR, allows


class Sample(models.Model):
    """One sampled completion, as the stage scored it.

    ``(stage, step, group, index)`` is unique: a retried write of the same batch can
    never store a completion twice. ``run`` is denormalised from the stage because the
    trace browser filters by run over millions of rows.
    """

    # No single-column indexes: (run, id) and (stage, id) below serve every lookup, and a
    # live stage, newer than the table's statistics, made the planner scan its whole
    # single-column index instead (bench/load.py).
    run = models.ForeignKey("runs.Run", on_delete=models.CASCADE, related_name="samples",
                            db_index=False)
    stage = models.ForeignKey("runs.Stage", on_delete=models.CASCADE, related_name="samples",
                              db_index=False)
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
    # A probe prompt's greedy answer (r1domain.probes): step = optimizer steps the
    # policy had taken, group = the probe's place in the set. Not a training sample: it
    # fed no update and stays out of training statistics.
    probe = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["stage", "step", "group", "index", "probe"],
                name="sample_position_unique",
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
            # A run's probe prompts, found without reading its training samples.
            models.Index(fields=["run", "example_key"], condition=models.Q(probe=True),
                         name="sample_run_probe"),
        ]

    def __str__(self) -> str:
        return f"sample {self.pk} (step {self.step}, {self.position()})"

    def get_absolute_url(self) -> str:
        return reverse("traces:sample", args=[self.pk])

    def has_reflection(self) -> bool:
        return self.reflection_count > 0

    def is_kept(self) -> bool:
        return self.verdict == "kept"

    def has_advantage(self) -> bool:
        """Only GRPO compares a completion with its group: an evaluation, a probe or a
        generated sample has no advantage (its stored 0.0 means nothing)."""
        from r1web.runs.models import StageKind

        return self.stage.kind == StageKind.GRPO and not self.probe

    def position(self) -> str:
        """Where GRPO put it, unambiguously: "group 99 · #7", not "99.7"."""
        return f"group {self.group} · #{self.index}"


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

    def removable_by(self, user_pk: int | None, role: str | None) -> bool:
        """The curator who set a flag may remove it; an operator may remove any."""
        return allows(role, OPERATOR) or (self.created_by_id == user_pk and allows(role, CURATOR))

    def display_label(self) -> str:
        return self.custom_label if self.label == FlagLabel.CUSTOM else self.get_label_display()
