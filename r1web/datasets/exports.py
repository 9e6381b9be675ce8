"""Dataset versions written to a file for download: at once for a small version, by a
worker behind a progress page for a large one (the mirror of ``imports``).

A large export makes a ``DatasetExport`` row and queues ``r1web.export_dataset``
(``workers.tasks``), which calls ``dataset_export_run``; the page polls the row. The file
is kept under ``VAR_DIR/exports`` for ``KEEP_FOR``, then swept by the workers' reaper,
which also fails an export whose worker stopped writing progress.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from r1web.datasets import jobs
from r1web.datasets.files import WriteProgress, write_examples
from r1web.datasets.models import DatasetExport, DatasetVersion
from r1web.datasets.selectors import version_records

log = logging.getLogger(__name__)

EXPORT_TASK = "r1web.export_dataset"  # workers.tasks.export_dataset
Status = DatasetExport.Status
PROGRESS_SECONDS = 0.25  # the fewest seconds between two progress writes
KEEP_FOR = timedelta(days=1)


def export_dir() -> Path:
    path = Path(settings.VAR_DIR) / "exports"
    path.mkdir(parents=True, exist_ok=True)
    return path


def needs_worker(version: DatasetVersion) -> bool:
    """Whether a version is too large to write within a page request."""
    return version.num_examples > settings.R1WEB_UPLOAD_TASK_ROWS


def export_file(
    version: DatasetVersion, fmt: str, directory: Path, on_progress: WriteProgress | None = None
) -> Path:
    """The version as a ``fmt`` file in ``directory`` (hf: a zipped save_to_disk folder)."""
    target = directory / f"{version.dataset.name}-v{version.number}"
    target = write_examples(version_records(version), target, fmt=fmt, on_progress=on_progress)
    if fmt == "hf":
        folder, target = target, Path(shutil.make_archive(str(target), "zip", root_dir=target))
        shutil.rmtree(folder)
    return target


@transaction.atomic
def dataset_export_queue(*, version: DatasetVersion, fmt: str, created_by=None) -> DatasetExport:
    """Make an export job for ``version`` and queue it after commit. The caller checks
    ``fmt`` is a known format."""
    job = DatasetExport.objects.create(
        version=version, fmt=fmt, created_by=created_by, rows_total=version.num_examples
    )
    jobs.queue_after_commit(DatasetExport, EXPORT_TASK, job.pk, settings.R1WEB_IMPORT_QUEUE)
    return job


def dataset_export_run(*, export_pk: int) -> DatasetExport | None:
    """The worker's side: claim a queued export and write its file. Safe to call twice
    (a redelivered task finds the job claimed and does nothing)."""
    dataset_exports_reap_stale()
    if not jobs.claim(DatasetExport, export_pk, Status.WRITING):
        log.info("export %s not claimable; skipping", export_pk)
        return None
    job = DatasetExport.objects.select_related("version__dataset").get(pk=export_pk)
    work = Path(tempfile.mkdtemp(prefix=f"export-{job.pk}-", dir=export_dir()))
    try:
        written = export_file(job.version, job.fmt, work, on_progress=JobRows(job.pk))
        _succeed(job.pk, written)
    except Exception as exc:
        shutil.rmtree(work, ignore_errors=True)
        _fail(job.pk, f"the export failed ({type(exc).__name__}); try again")
        raise
    job.refresh_from_db()
    return job


def _succeed(job_pk: int, written: Path) -> None:
    done = DatasetExport.objects.filter(pk=job_pk, status=Status.WRITING).update(
        status=Status.SUCCEEDED,
        path=str(written),
        finished_at=timezone.now(),
        rows_written=F("rows_total"),
    )
    if not done:  # reaped meanwhile: nobody will ask for this file
        shutil.rmtree(written.parent, ignore_errors=True)


def _fail(job_pk: int, error: str, **conditions) -> bool:
    statuses = (Status.QUEUED, Status.WRITING)
    return jobs.fail(DatasetExport, job_pk, error, statuses=statuses, **conditions)


class JobRows:
    """``on_progress`` for ``write_examples`` that writes to the job row (its heartbeat
    too), at most every PROGRESS_SECONDS."""

    def __init__(self, job_pk: int) -> None:
        self.pk = job_pk
        self._last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self._last < PROGRESS_SECONDS and done < total:
            return
        self._last = now
        DatasetExport.objects.filter(pk=self.pk, status=Status.WRITING).update(
            rows_written=done, heartbeat_at=timezone.now()
        )


def dataset_exports_reap_stale() -> int:
    """Fail every export whose worker stopped writing progress; remove the files of
    exports older than KEEP_FOR. Run by workers, never by a page view."""
    stale_before = timezone.now() - timedelta(seconds=settings.R1WEB_STALE_AFTER_SECONDS)
    reaped = 0
    for job in DatasetExport.objects.filter(status=Status.WRITING, heartbeat_at__lt=stale_before):
        message = "the worker stopped responding during the export; export again"
        reaped += _fail(job.pk, message, heartbeat_at__lt=stale_before)
    expired = DatasetExport.objects.filter(
        status=Status.SUCCEEDED, finished_at__lt=timezone.now() - KEEP_FOR
    )
    for job in expired.exclude(path=""):
        shutil.rmtree(Path(job.path).parent, ignore_errors=True)
        DatasetExport.objects.filter(pk=job.pk).update(path="")
    return reaped
