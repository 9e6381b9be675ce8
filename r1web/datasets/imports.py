"""Large uploads imported by a worker: queue, run, reap, sweep.

A file over ``R1WEB_UPLOAD_TASK_BYTES`` or ``R1WEB_UPLOAD_TASK_ROWS`` is too slow to
import inside a page request. The upload view moves it under ``VAR_DIR/uploads``, makes
a ``DatasetImport`` row and queues ``r1web.import_dataset`` (``workers.tasks``), which
calls ``dataset_import_run``. The page polls the row for progress.

The stored file is removed however the import ends: after success, after a bad row,
after an unexpected error, and, when a worker died in the middle, by the reaper that the
next worker runs (``dataset_imports_reap_stale``). Files that no live job owns (a web
worker killed mid-upload) are swept once they have sat untouched for a while.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from r1web.datasets import jobs
from r1web.datasets.files import arrow_errors, detect_format
from r1web.datasets.models import DatasetImport, DatasetVersion
from r1web.datasets.services import DatasetError, dataset_import_file
from r1web.datasets.uploads import IncomingFile, upload_dir

log = logging.getLogger(__name__)

IMPORT_TASK = "r1web.import_dataset"  # workers.tasks.import_dataset
Status = DatasetImport.Status
ACTIVE = (Status.QUEUED, Status.CHECKING, Status.WRITING)
RUNNING = (Status.CHECKING, Status.WRITING)
PROGRESS_SECONDS = 0.25  # the fewest seconds between two progress writes
# An upload file no live job owns, untouched this long, was left by a killed process:
# no request takes this long to receive a file.
ORPHAN_AFTER = timedelta(hours=6)


def runs_as_task(path: Path, *, fmt: str, file_name: str) -> bool:
    """Whether a stored upload is too large to import within the request."""
    if path.stat().st_size > settings.R1WEB_UPLOAD_TASK_BYTES:
        return True
    return _rows_at_least(path, detect_format(path, file_name) if fmt == "auto" else fmt)


def _rows_at_least(path: Path, fmt: str) -> bool:
    limit = settings.R1WEB_UPLOAD_TASK_ROWS
    if fmt == "parquet":
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(path).metadata.num_rows > limit
        except arrow_errors():  # not Parquet at all: the import itself will say so
            return False
    lines = 0
    with path.open("rb") as stream:  # small by now (under the task size): count newlines
        while chunk := stream.read(2**20):
            lines += chunk.count(b"\n")
    return lines > limit


@transaction.atomic
def dataset_import_queue(
    *, upload: IncomingFile, name: str, fmt: str, split: str, created_by=None
) -> DatasetImport:
    """Keep ``upload`` under ``VAR_DIR/uploads`` and queue its import after commit."""
    job = DatasetImport.objects.create(
        name=name, file_name=upload.name[:255], fmt=fmt, split=split,
        total_bytes=upload.size or 0, created_by=created_by,
    )
    target = upload_dir() / f"import-{job.pk}{Path(upload.name).suffix[:20]}"
    job.path = str(upload.keep_as(target))
    job.save(update_fields=["path"])
    jobs.queue_after_commit(DatasetImport, IMPORT_TASK, job.pk, settings.R1WEB_IMPORT_QUEUE)
    return job


def dataset_import_run(*, import_pk: int) -> DatasetImport | None:
    """The worker's side: claim a queued import, run it, remove its file. Safe to call
    twice (a redelivered task finds the job claimed and does nothing)."""
    dataset_imports_reap_stale()
    if not jobs.claim(DatasetImport, import_pk, Status.CHECKING):
        log.info("import %s not claimable; skipping", import_pk)
        return None
    job = DatasetImport.objects.select_related("created_by").get(pk=import_pk)
    progress = JobProgress(job)
    try:
        dataset_import_file(
            path=job.path, name=job.name, fmt=job.fmt, split=job.split,
            created_by=job.created_by, file_name=job.file_name, progress=progress,
        )
    except DatasetError as exc:
        _fail(job.pk, str(exc))
    except Exception as exc:
        _fail(job.pk, f"the import failed unexpectedly ({type(exc).__name__}); nothing was "
                      "imported")
        raise
    finally:
        progress.close()
        _remove(job.path)
    job.refresh_from_db()
    return job


def _fail(job_pk: int, error: str, *, statuses=ACTIVE, **conditions) -> bool:
    return jobs.fail(DatasetImport, job_pk, error, statuses=statuses, **conditions)


def _remove(path: str) -> None:
    if path:
        Path(path).unlink(missing_ok=True)


class JobProgress:
    """An ``ImportProgress`` that writes to the job row, at most every PROGRESS_SECONDS.

    While examples are written the transaction is open, and what it writes stays unseen
    until it commits. So the row count goes through a second connection of its own
    (PostgreSQL). SQLite takes one writer at a time: there the page shows the writing
    phase without a count until the transaction ends.
    """

    def __init__(self, job: DatasetImport) -> None:
        self.pk = job.pk
        self.total_bytes = job.total_bytes
        self._last = 0.0
        self._side = jobs.SideWriter(DatasetImport, job.pk)

    def _due(self) -> bool:
        now = time.monotonic()
        if now - self._last < PROGRESS_SECONDS:
            return False
        self._last = now
        return True

    def checked(self, rows: int, fraction: float) -> None:
        if self._due():
            DatasetImport.objects.filter(pk=self.pk, status=Status.CHECKING).update(
                rows_checked=rows, bytes_checked=int(self.total_bytes * min(fraction, 1.0)),
                heartbeat_at=timezone.now(),
            )

    def checked_all(self, rows: int) -> None:
        moved = DatasetImport.objects.filter(pk=self.pk, status=Status.CHECKING).update(
            status=Status.WRITING, rows_checked=rows, rows_total=rows,
            bytes_checked=self.total_bytes, heartbeat_at=timezone.now(),
        )
        if not moved:
            raise DatasetError("this import was stopped before its examples were written")

    def written(self, rows: int) -> None:
        if connection.vendor != "sqlite" and self._due():
            self._side.update(Status.WRITING, rows_written=rows, heartbeat_at=timezone.now())

    def finishing(self, version: DatasetVersion) -> None:
        # Inside the examples' transaction: a job reaped meanwhile rolls the version back.
        done = DatasetImport.objects.filter(pk=self.pk, status=Status.WRITING).update(
            status=Status.SUCCEEDED, version=version, rows_written=version.num_examples,
            rows_total=version.num_examples, finished_at=timezone.now(), error="",
        )
        if not done:
            raise DatasetError("this import was stopped while its examples were written")

    def close(self) -> None:
        self._side.close()


def dataset_imports_reap_stale() -> int:
    """Fail every running import whose worker stopped writing progress, and remove its
    file; then sweep orphaned upload files. Run by workers (at start and before each
    import), never by a page view."""
    stale_before = timezone.now() - timedelta(seconds=settings.R1WEB_STALE_AFTER_SECONDS)
    reaped = 0
    stale = DatasetImport.objects.filter(status__in=RUNNING, heartbeat_at__lt=stale_before)
    for job in stale.only("pk", "path"):
        message = "the worker stopped responding during the import; nothing was imported"
        if _fail(job.pk, message, statuses=RUNNING, heartbeat_at__lt=stale_before):
            _remove(job.path)
            log.warning("import %s: %s", job.pk, message)
            reaped += 1
    uploads_sweep()
    return reaped


def uploads_sweep(*, older_than: timedelta = ORPHAN_AFTER) -> int:
    """Remove upload files that no queued or running import owns and that nothing has
    written to for ``older_than``. Returns how many were removed."""
    owned = set(DatasetImport.objects.filter(status__in=ACTIVE).values_list("path", flat=True))
    return jobs.sweep_files(upload_dir(), owned, older_than)
