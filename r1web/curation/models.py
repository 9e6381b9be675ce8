"""Cold-start candidates waiting for a curator, and the history of what curators did.

A ``CurationItem`` belongs to the dataset it may end up in. A curator holds an item
through a lease (``claimed_by`` until ``claim_expires_at``); only the holder may save
it, and every save is kept as a ``CurationEdit``.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Source(models.TextChoices):
    PROMOTED = "promoted", "promoted sample"
    FEW_SHOT = "few_shot", "few-shot prompting"
    DIRECT = "direct", "direct prompting"


class ItemStatus(models.TextChoices):
    PENDING = "pending", "pending"
    ACCEPTED = "accepted", "accepted"
    REJECTED = "rejected", "rejected"


class CurationItem(models.Model):
    dataset = models.ForeignKey(
        "datasets.Dataset", on_delete=models.PROTECT, related_name="curation_items"
    )
    status = models.CharField(max_length=20, choices=ItemStatus.choices, default=ItemStatus.PENDING)
    source = models.CharField(max_length=20, choices=Source.choices)
    example_key = models.CharField(max_length=200, blank=True)
    task = models.CharField(max_length=50, default="math")
    prompt = models.TextField()
    reference = models.TextField(blank=True)  # the reference answer, when the prompt had one
    original = models.TextField()  # the completion as the model wrote it
    reasoning = models.TextField(blank=True)
    summary = models.TextField(blank=True)
    correct = models.BooleanField(null=True)
    # run, stage, step, model, checkpoint and sample the candidate came from
    provenance = models.JSONField(default=dict)
    sample = models.ForeignKey(
        "traces.Sample", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stage = models.ForeignKey(
        "runs.Stage", null=True, blank=True, on_delete=models.SET_NULL, related_name="candidates"
    )
    claimed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    claim_expires_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    reject_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        constraints = [
            # Promoting the same sample twice into one dataset is a no-op, not a duplicate.
            models.UniqueConstraint(
                fields=["dataset", "sample"],
                condition=models.Q(sample__isnull=False),
                name="curation_item_sample_unique",
            )
        ]
        indexes = [models.Index(fields=["dataset", "status", "id"], name="curation_queue")]

    def __str__(self) -> str:
        return f"candidate {self.pk} for {self.dataset}"

    def get_absolute_url(self) -> str:
        return reverse("curation:item", args=[self.pk])

    def is_held_by(self, user, now=None) -> bool:
        return (
            self.status == ItemStatus.PENDING
            and self.claimed_by_id == user.pk
            and self.claim_expires_at is not None
            and self.claim_expires_at > (now or timezone.now())
        )

    def text(self) -> str:
        """The item in the dataset's cold-start format."""
        from r1domain.coldstart import to_cold_start

        return to_cold_start(self.reasoning, self.summary, self.dataset.special_token)

    def issues(self):
        from r1domain.coldstart import readability_issues

        return readability_issues(self.reasoning, self.summary, self.dataset.language)


class CurationEdit(models.Model):
    class Action(models.TextChoices):
        EDIT = "edit", "edited"
        ACCEPT = "accept", "accepted"
        REJECT = "reject", "rejected"

    item = models.ForeignKey(CurationItem, on_delete=models.CASCADE, related_name="edits")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    action = models.CharField(max_length=10, choices=Action.choices)
    reasoning = models.TextField(blank=True)
    summary = models.TextField(blank=True)
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["item", "id"]

    def get_absolute_url(self) -> str:
        return reverse("curation:item", args=[self.item_id]) + f"#edit-{self.pk}"
