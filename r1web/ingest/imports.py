"""Rollout logs imported by a worker: the row limit, queue, run, reap, sweep.

Logs over ``R1WEB_UPLOAD_TASK_BYTES`` or ``R1WEB_UPLOAD_TASK_ROWS`` are too slow to import
inside a page request (a 337 kB Parquet file can hold a million rows). The import view
moves them under ``VAR_DIR/uploads/rollouts``, makes a ``RolloutImport`` row and queues
``r1web.import_rollouts`` (``workers.tasks``), which calls ``rollout_import_run``: every
row is checked, then written in one transaction. The page polls the row for progress.
This is the machinery of dataset uploads (``r1web.datasets.imports`` and ``jobs``).

No import takes more than ``R1WEB_IMPORT_MAX_ROWS`` completions, wherever it comes from.
The stored files are removed however the import ends, and by the reaper when a worker
died in the middle.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from r1web.datasets import jobs
from r1web.datasets.imports import ORPHAN_AFTER, PROGRESS_SECONDS
from r1web.datasets.uploads import IncomingFile, upload_dir
from r1web.ingest.logfiles import LogFile, LogFileError, count_rows, read_rollouts
from r1web.ingest.models import ExternalRun, RolloutImport
from r1web.ingest.services import IngestError, rollouts_import

log = logging.getLogger(__name__)

IMPORT_TASK = "r1web.import_rollouts"  # workers.tasks.import_rollouts
SOURCES = {"trl": ExternalRun.Source.TRL_PARQUET, "verl": ExternalRun.Source.VERL}
Status = RolloutImport.Status
ACTIVE = (Status.QUEUED, Status.CHECKING, Status.WRITING)
RUNNING = (Status.CHECKING, Status.WRITING)


def rollout_dir() -> Path:
    # A folder of its own: the dataset uploads' sweep leaves folders alone.
    path = upload_dir() / "rollouts"
    path.mkdir(parents=True, exist_ok=True)
    return path


def rows_within_limit(files: list[LogFile], fmt: str) -> int:
    """How many completions ``files`` hold; ``LogFileError`` past the row limit."""
    rows = count_rows(files, fmt)
    limit = settings.R1WEB_IMPORT_MAX_ROWS
    if rows > limit:
        raise LogFileError(
            f"these logs hold {rows} completions; an import takes at most {limit} "
            "(R1WEB_IMPORT_MAX_ROWS): split them, or ask an administrator to raise it"
        )
    return rows


def runs_as_task(files: list[LogFile], fmt: str) -> bool:
    """Whether stored logs are too large to import within the request."""
    if sum(path.stat().st_size for _, path in files) > settings.R1WEB_UPLOAD_TASK_BYTES:
        return True
    return rows_within_limit(files, fmt) > settings.R1WEB_UPLOAD_TASK_ROWS


@transaction.atomic
def rollout_import_queue(
    *, uploads: list[IncomingFile], fmt: str, name: str, num_generations: int | None,
    completion_format: str, created_by,
) -> RolloutImport:
    """Keep ``uploads`` under ``VAR_DIR/uploads/rollouts`` and queue their import after
    commit."""
    job = RolloutImport.objects.create(
        name=name, fmt=fmt, num_generations=num_generations,
        completion_format=completion_format, created_by=created_by,
        total_bytes=sum(upload.size or 0 for upload in uploads),
    )
    folder = rollout_dir()
    job.files = [
        [upload.name, str(upload.keep_as(folder / f"import-{job.pk}-{number}.log"))]
        for number, upload in enumerate(uploads)
    ]
    job.save(update_fields=["files"])
    jobs.queue_after_commit(RolloutImport, IMPORT_TASK, job.pk, settings.R1WEB_IMPORT_QUEUE)
    return job


def rollout_import_run(*, import_pk: int) -> RolloutImport | None:
    """The worker's side: claim a queued import, run it, remove its files. Safe to call
    twice (a redelivered task finds the job claimed and does nothing)."""
    rollout_imports_reap_stale()
    if not jobs.claim(RolloutImport, import_pk, Status.CHECKING):
        log.info("rollout import %s not claimable; skipping", import_pk)
        return None
    job = RolloutImport.objects.select_related("created_by").get(pk=import_pk)
    progress = RolloutProgress(job)
    try:
        _import(job, progress)
    except (LogFileError, IngestError) as exc:
        _fail(job.pk, f"{exc}; nothing was imported")
    except Exception as exc:
        _fail(job.pk, f"the import failed unexpectedly ({type(exc).__name__}); nothing was "
                      "imported")
        raise
    finally:
        progress.close()
        _remove(job.files)
    job.refresh_from_db()
    return job


def _import(job: RolloutImport, progress: RolloutProgress) -> None:
    files = [(name, Path(path)) for name, path in job.files]
    progress.counted(rows_within_limit(files, job.fmt))
    checked = 0
    for checked, _ in enumerate(read_rollouts(files, job.fmt, job.num_generations), 1):
        progress.checked(checked)
    progress.checked_all(checked)
    with transaction.atomic():
        external = rollouts_import(
            user=job.created_by, name=job.name, source=SOURCES[job.fmt],
            samples=read_rollouts(files, job.fmt, job.num_generations),
            completion_format=job.completion_format, on_written=progress.written,
        )
        progress.finishing(external)


class RolloutProgress:
    """Progress and heartbeat written to the job row, at most every PROGRESS_SECONDS;
    while the completions are written (one open transaction), through a connection of
    its own (``jobs.SideWriter``)."""

    def __init__(self, job: RolloutImport) -> None:
        self.pk = job.pk
        self.rows_written = 0
        self._last = 0.0
        self._side = jobs.SideWriter(RolloutImport, job.pk)

    def _due(self) -> bool:
        now = time.monotonic()
        if now - self._last < PROGRESS_SECONDS:
            return False
        self._last = now
        return True

    def _checking(self, **fields) -> int:
        return RolloutImport.objects.filter(pk=self.pk, status=Status.CHECKING).update(
            heartbeat_at=timezone.now(), **fields
        )

    def counted(self, rows: int) -> None:
        self._checking(rows_total=rows)

    def checked(self, rows: int) -> None:
        if self._due():
            self._checking(rows_checked=rows)

    def checked_all(self, rows: int) -> None:
        if not self._checking(status=Status.WRITING, rows_checked=rows, rows_total=rows):
            raise IngestError("this import was stopped before its completions were written")

    def written(self, rows: int) -> None:
        self.rows_written = rows
        if self._due():
            self._side.update(Status.WRITING, rows_written=rows, heartbeat_at=timezone.now())

    def finishing(self, external: ExternalRun) -> None:
        # Inside the completions' transaction: a job reaped meanwhile rolls the run back.
        done = RolloutImport.objects.filter(pk=self.pk, status=Status.WRITING).update(
            status=Status.SUCCEEDED, external=external, rows_written=self.rows_written,
            finished_at=timezone.now(), error="",
        )
        if not done:
            raise IngestError("this import was stopped while its completions were written")

    def close(self) -> None:
        self._side.close()


def _fail(job_pk: int, error: str, *, statuses=ACTIVE, **conditions) -> bool:
    return jobs.fail(RolloutImport, job_pk, error, statuses=statuses, **conditions)


def _remove(files: list[list[str]]) -> None:
    for _, path in files:
        Path(path).unlink(missing_ok=True)


def rollout_imports_reap_stale() -> int:
    """Fail every running import whose worker stopped writing progress, and remove its
    files; then sweep files no import owns. Run by workers, never by a page view."""
    stale_before = timezone.now() - timedelta(seconds=settings.R1WEB_STALE_AFTER_SECONDS)
    reaped = 0
    stale = RolloutImport.objects.filter(status__in=RUNNING, heartbeat_at__lt=stale_before)
    for job in stale.only("pk", "files"):
        message = "the worker stopped responding during the import; nothing was imported"
        if _fail(job.pk, message, statuses=RUNNING, heartbeat_at__lt=stale_before):
            _remove(job.files)
            log.warning("rollout import %s: %s", job.pk, message)
            reaped += 1
    owned = {
        path for files in RolloutImport.objects.filter(status__in=ACTIVE)
        .values_list("files", flat=True) for _, path in files
    }
    jobs.sweep_files(rollout_dir(), owned, ORPHAN_AFTER)
    return reaped
