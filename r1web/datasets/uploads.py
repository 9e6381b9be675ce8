"""Receiving an uploaded dataset file: streamed to disk under VAR_DIR, never past the limit.

Django's default handlers keep small files in memory and write large ones to the system
temp folder, where a killed web worker leaves them behind. ``LimitedUploadHandler``
writes every upload to ``VAR_DIR/uploads`` as it arrives and stops writing the moment
it passes ``R1WEB_UPLOAD_MAX_BYTES`` (the rest of the body is read and dropped, so the
page can still say why). The file removes itself when the request closes, unless an
import job keeps it (``IncomingFile.keep_as``); anything a crash leaves there is swept by
``r1web.datasets.imports.uploads_sweep``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile

INCOMING_PREFIX = "incoming-"
# Room for the other form fields and the multipart framing around the file.
FORM_OVERHEAD_BYTES = 64 * 2**10


def upload_dir() -> Path:
    path = Path(settings.VAR_DIR) / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def size_text(size: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def too_large_message(limit: int) -> str:
    return (
        f"This file is larger than the upload limit of {size_text(limit)}; nothing was "
        "imported. Split it into smaller files, or ask an administrator to raise "
        "R1WEB_UPLOAD_MAX_BYTES."
    )


class IncomingFile(UploadedFile):
    """An upload on disk under ``upload_dir()``; deleted on close unless kept."""

    def __init__(self, name: str, content_type: str, charset, content_type_extra=None):
        fd, path = tempfile.mkstemp(prefix=INCOMING_PREFIX, suffix=".part", dir=upload_dir())
        super().__init__(os.fdopen(fd, "w+b"), name, content_type, 0, charset, content_type_extra)
        self.path = Path(path)
        self.kept = False

    def temporary_file_path(self) -> str:
        return str(self.path)

    def keep_as(self, target: Path) -> Path:
        """Move the file to ``target`` (in the same folder tree) and stop owning it."""
        self.file.flush()
        os.replace(self.path, target)
        self.path, self.kept = target, True
        return target

    def close(self) -> None:
        try:
            self.file.close()
        finally:
            if not self.kept:
                self.path.unlink(missing_ok=True)


class LimitedUploadHandler(FileUploadHandler):
    """Streams each file to an ``IncomingFile``; once the files of a request pass
    ``max_bytes`` together, the rest is dropped and ``too_large`` is set for the view to
    explain (together: a hundred files just under the limit fill a disk as well)."""

    def __init__(self, request=None, *, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.received = 0
        self.too_large = False

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        # A body that announces itself as too large is refused before a byte is stored.
        if content_length and content_length > self.max_bytes + FORM_OVERHEAD_BYTES:
            self.too_large = True

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        if self.too_large:
            raise SkipFile()
        self.file = IncomingFile(
            self.file_name, self.content_type, self.charset, self.content_type_extra
        )

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        self.received += len(raw_data)
        if self.received > self.max_bytes:
            self.too_large = True
            raise SkipFile()  # Django closes (so deletes) the file and drops the rest
        self.file.write(raw_data)

    def file_complete(self, file_size: int) -> IncomingFile:
        self.file.flush()
        self.file.seek(0)
        self.file.size = file_size
        return self.file

    def upload_interrupted(self) -> None:
        if getattr(self, "file", None) is not None:
            self.file.close()
