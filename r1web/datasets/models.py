"""Datasets as immutable, content-hashed versions of examples that keep their provenance."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone


class Dataset(models.Model):
    class Kind(models.TextChoices):
        PROMPTS = "prompts", "prompts with reference answers (RL, evaluation)"
        SFT = "sft", "prompt and completion pairs (SFT)"
        PREFERENCE = "preference", "prompt with a chosen and a rejected response (reward model)"

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PROMPTS)
    description = models.TextField(blank=True)
    # The cold-start format |special_token|<reasoning>|special_token|<summary>.
    special_token = models.CharField(max_length=50, default="|special_token|")
    language = models.CharField(max_length=10, default="en")  # target language of the CoT
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("datasets:detail", args=[self.name])

    def latest_version(self) -> DatasetVersion | None:
        return self.versions.order_by("-number").first()


class DatasetVersion(models.Model):
    """A frozen set of examples. Never updated after creation: new content, new version."""

    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="versions")
    number = models.PositiveIntegerField()
    content_hash = models.CharField(max_length=64)
    num_examples = models.PositiveIntegerField()
    splits = models.JSONField(default=dict)  # {"train": 900, "test": 100}
    source = models.CharField(max_length=500, blank=True)  # file, generator or curation
    produced_by = models.ForeignKey(
        "runs.Stage", null=True, blank=True, on_delete=models.SET_NULL, related_name="outputs"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["dataset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["dataset", "number"], name="dataset_version_unique")
        ]

    def __str__(self) -> str:
        return f"{self.dataset.name} v{self.number}"

    def get_absolute_url(self) -> str:
        return reverse("datasets:version", args=[self.dataset.name, self.number])


class Example(models.Model):
    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="examples")
    position = models.PositiveIntegerField()
    split = models.CharField(max_length=20, default="train")
    key = models.CharField(max_length=200)  # stable identity, e.g. "train.jsonl:17"
    prompt = models.TextField()
    answer = models.TextField(blank=True)  # reference answer
    completion = models.TextField(blank=True)  # SFT target; the chosen response of a pair
    rejected = models.TextField(blank=True)  # the rejected response of a preference pair
    task = models.CharField(max_length=50, default="math")
    # Where the example came from: a file line, a sample, a curation item.
    provenance = models.JSONField(default=dict)

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            models.UniqueConstraint(fields=["version", "position"], name="example_position_unique")
        ]
        indexes = [models.Index(fields=["version", "split", "position"], name="example_split")]

    def get_absolute_url(self) -> str:
        return reverse("datasets:example", args=[self.pk])

    def as_record(self) -> dict:
        """The plain dict stage code consumes."""
        return {
            "key": self.key,
            "prompt": self.prompt,
            "answer": self.answer,
            "completion": self.completion,
            "rejected": self.rejected,
            "task": self.task,
            "split": self.split,
            # the target language of the CoT, for the language-consistency reward
            "language": self.version.dataset.language,
        }
