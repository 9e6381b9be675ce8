"""Datasets as immutable, content-hashed versions of examples that keep their provenance."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone

from r1domain.coldstart import DEFAULT_TOKEN
from r1domain.progress import Progress, measured

MAX_ID = 2**63 - 1
# Provenance keys that name a row, with the page that shows it and the link's words.
PROVENANCE_LINKS = (
    ("run_id", "runs:detail", "run"),
    ("stage_id", "runs:stage", "stage"),
    ("sample_id", "traces:sample", "sample"),
    ("curation_item_id", "curation:item", "curation history"),
)


def provenance_id(provenance: Any, key: str) -> int | None:
    """The id ``provenance[key]`` when it is one. Provenance may come from an imported
    file, which can put anything there: text, a list or a huge number is data, not an id."""
    value = provenance.get(key) if isinstance(provenance, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID:
        return value
    return None


class Dataset(models.Model):
    class Kind(models.TextChoices):
        PROMPTS = "prompts", "prompts with reference answers (RL, evaluation)"
        SFT = "sft", "prompt and completion pairs (SFT)"
        PREFERENCE = "preference", "prompt with a chosen and a rejected response (reward model)"
        CODE = "code", "programming problems with their tests (code rewards, evaluation)"

    name = models.SlugField(max_length=100, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.PROMPTS)
    description = models.TextField(blank=True)
    # The cold-start format |special_token|<reasoning>|special_token|<summary>.
    special_token = models.CharField(max_length=50, default=DEFAULT_TOKEN)
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

    def provenance_items(self) -> list[tuple[str, Any]]:
        """The provenance as shown: key and value, whatever a file stored there."""
        if isinstance(self.provenance, dict):
            return list(self.provenance.items())
        return [("provenance", self.provenance)]

    def provenance_links(self) -> list[tuple[str, str]]:
        """(words, url) for each row the provenance names by a valid id."""
        links = []
        for key, url_name, words in PROVENANCE_LINKS:
            pk = provenance_id(self.provenance, key)
            if pk is not None:
                name = self.provenance.get(key.removesuffix("_id"))
                shown = name if isinstance(name, str) and name else pk
                text = f"{words} {shown}" if words != "curation history" else words
                links.append((text, reverse(url_name, args=[pk])))
        return links

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


class WorkerJob(models.Model):
    """What a dataset import and an export share: who asked for it, when a worker ran it,
    how many rows it wrote and how it ended. Subclasses define ``Status`` with at least
    ``succeeded`` and ``failed``."""

    rows_written = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        abstract = True

    def is_finished(self) -> bool:
        return self.status in ("succeeded", "failed")


class CheckedImport:
    """What the page of an import that checks every row, then writes them, shows besides
    its ``progress_percent()``: the time left and the checking pace. For a ``WorkerJob``
    with a ``checking`` status and ``rows_checked`` (dataset and rollout imports)."""

    def seconds_left(self) -> float | None:
        """Time left at the pace so far (both phases as one), once it can be told."""
        return measured(self.progress_percent(), 100, self.started_at,
                        self.heartbeat_at).seconds_left

    def rows_per_second(self) -> float | None:
        if self.status != "checking":
            return None
        return measured(self.rows_checked, None, self.started_at, self.heartbeat_at).rate


class DatasetImport(CheckedImport, WorkerJob):
    """A large upload imported by a worker: its stored file, how far it got, how it ended.

    The file is checked whole first (``checking``), then its examples are written in one
    transaction (``writing``): a failure at any point leaves no version behind.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "waiting for a worker"
        CHECKING = "checking", "checking the file"
        WRITING = "writing", "writing the examples"
        SUCCEEDED = "succeeded", "imported"
        FAILED = "failed", "failed"

    name = models.SlugField(max_length=100)  # the dataset it becomes a version of
    file_name = models.CharField(max_length=255)
    fmt = models.CharField(max_length=10, default="auto")
    split = models.CharField(max_length=20, default="train")  # for rows that name none
    # The upload, stored under VAR_DIR/uploads until the import ends either way.
    path = models.CharField(max_length=1000, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    total_bytes = models.PositiveBigIntegerField(default=0)
    bytes_checked = models.PositiveBigIntegerField(default=0)
    rows_checked = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(null=True, blank=True)  # known once checked
    version = models.ForeignKey(
        DatasetVersion, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"import of {self.file_name} as {self.name}"

    def get_absolute_url(self) -> str:
        return reverse("datasets:import", args=[self.pk])

    def progress_percent(self) -> int:
        """Checking is the first half (by bytes read), writing the second (by rows)."""
        if self.status == self.Status.SUCCEEDED:
            return 100
        if self.status == self.Status.CHECKING and self.total_bytes:
            return min(50, 50 * self.bytes_checked // self.total_bytes)
        if self.status == self.Status.WRITING and self.rows_total:
            return 50 + min(50, 50 * self.rows_written // self.rows_total)
        return 0


class DatasetExport(WorkerJob):
    """A version written to a file by a worker, for download: how far it got, how it
    ended. Only versions too large to write within a request (``R1WEB_UPLOAD_TASK_ROWS``)
    are exported this way; the file is kept under ``VAR_DIR/exports`` for a day."""

    class Status(models.TextChoices):
        QUEUED = "queued", "waiting for a worker"
        WRITING = "writing", "writing the file"
        SUCCEEDED = "succeeded", "ready to download"
        FAILED = "failed", "failed"

    version = models.ForeignKey(DatasetVersion, on_delete=models.CASCADE, related_name="+")
    fmt = models.CharField(max_length=10)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    path = models.CharField(max_length=1000, blank=True)  # the finished file
    rows_total = models.PositiveIntegerField(default=0)
    def __str__(self) -> str:
        return f"{self.fmt} export of {self.version}"

    def get_absolute_url(self) -> str:
        return reverse("datasets:export", args=[self.pk])

    def download_name(self) -> str:
        version = self.version
        return f"{version.dataset.name}-v{version.number}.{'zip' if self.fmt == 'hf' else self.fmt}"

    def progress_percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        return min(100, 100 * self.rows_written // self.rows_total) if self.rows_total else 0

    def progress(self) -> Progress:
        return measured(self.rows_written, self.rows_total, self.started_at, self.heartbeat_at,
                        unit="row")

    def seconds_left(self) -> float | None:
        return self.progress().seconds_left

    def rows_per_second(self) -> float | None:
        return self.progress().rate
