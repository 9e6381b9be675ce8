"""API tokens, and what makes a run external: where its records came from.

An external run is an ordinary ``Run`` (recipe ``external``) with one training stage that
no worker runs: a training script somewhere else fills it through the ingestion API
(``r1web_client``), or an import of existing logs does. Every run page reads it as it
reads r1web's own runs.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from r1web.datasets.models import CheckedImport, WorkerJob


class ApiToken(models.Model):
    """A per-user secret for the ingestion API. Only its SHA-256 is kept: the token
    itself is shown once, when it is made. A token acts with its user's current role."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)  # the first characters, to recognise it by
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"token {self.name} ({self.prefix}…)"

    def is_active(self) -> bool:
        return self.revoked_at is None


class ExternalRun(models.Model):
    class Source(models.TextChoices):
        API = "api", "ingestion API"
        TRL_PARQUET = "trl-parquet", "TRL completions parquet"
        VERL = "verl", "verl rollout dump"

    run = models.OneToOneField("runs.Run", on_delete=models.CASCADE, related_name="external")
    # The client's name for the run: opening the same key again continues it, so a
    # replayed or retried "open" never makes a second run.
    key = models.CharField(max_length=64, unique=True)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.API)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    token = models.ForeignKey(
        ApiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs"
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"external run {self.key}"


class RolloutImport(CheckedImport, WorkerJob):
    """Rollout logs too large to import within a page request, imported by a worker
    (``r1web.ingest.imports``): their stored files, how far it got, how it ended.

    Every row is checked first (``checking``), then the completions are written in one
    transaction (``writing``): a failure at any point leaves no run behind.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "waiting for a worker"
        CHECKING = "checking", "checking every row"
        WRITING = "writing", "writing the completions"
        SUCCEEDED = "succeeded", "imported"
        FAILED = "failed", "failed"

    name = models.CharField(max_length=200)  # the run's
    fmt = models.CharField(max_length=10)  # trl or verl
    num_generations = models.PositiveIntegerField(null=True, blank=True)
    completion_format = models.CharField(max_length=40)
    # [name, stored path] of each file, kept under VAR_DIR/uploads/rollouts until the
    # import ends either way.
    files = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    total_bytes = models.PositiveBigIntegerField(default=0)
    rows_checked = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)  # known once counted
    external = models.ForeignKey(
        ExternalRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"import of {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("ingest:import_job", args=[self.pk])

    def file_names(self) -> list[str]:
        return [name for name, _ in self.files]

    def progress_percent(self) -> int:
        """Checking is the first half, writing the second (both by rows)."""
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.rows_total:
            return 0
        if self.status == self.Status.CHECKING:
            return min(50, 50 * self.rows_checked // self.rows_total)
        if self.status == self.Status.WRITING:
            return 50 + min(50, 50 * self.rows_written // self.rows_total)
        return 0
