"""Who did what to which row: one row per write a person makes (Zulip's RealmAuditLog)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone


class Action(models.TextChoices):
    RUN_LAUNCH = "run.launch", "launched"
    RUN_CANCEL = "run.cancel", "cancelled"
    RUN_RESUME = "run.resume", "resumed"
    SAMPLE_FLAG = "sample.flag", "flagged"
    SAMPLE_UNFLAG = "sample.unflag", "unflagged"
    SAMPLES_PROMOTE = "curation.promote", "promoted samples to"
    CURATION_EDIT = "curation.edit", "edited"
    CURATION_ACCEPT = "curation.accept", "accepted"
    CURATION_REJECT = "curation.reject", "rejected"
    DATASET_FREEZE = "curation.freeze", "froze"
    TOKEN_CREATE = "token.create", "created API token"
    TOKEN_REVOKE = "token.revoke", "revoked API token"


class AuditEvent(models.Model):
    created_at = models.DateTimeField(default=timezone.now)
    # Null for what no signed-in person did (a command line, a stage of a run).
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    # Kept as text too: the log must still name who did it after the account is gone.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=40, choices=Action.choices)
    target_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    target_id = models.PositiveBigIntegerField()
    target = GenericForeignKey("target_type", "target_id")
    # What the target was called then; the row itself may be deleted later.
    target_label = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
            models.Index(fields=["actor", "id"], name="audit_actor"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_name or 'system'} {self.get_action_display()} {self.target_label}"
