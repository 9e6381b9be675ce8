"""Dataset imports and exports telling a terminal how far they got (``import_dataset``,
``export_dataset``); the browser's import and export pages read their job rows."""

from __future__ import annotations

from typing import TextIO

from r1domain.progress import TerminalProgress
from r1web.datasets.models import DatasetVersion


class TerminalImport:
    """An ``ImportProgress`` that writes each phase's progress to a terminal.

    While the file is checked its row count is not known yet: the total shown is
    estimated from the share of the file read so far.
    """

    def __init__(self, stream: TextIO) -> None:
        self.checking = TerminalProgress(stream, "checking", unit="row")
        self.writing = TerminalProgress(stream, "writing", unit="row")
        self.total = 0

    def checked(self, rows: int, fraction: float) -> None:
        estimate = round(rows / fraction) if fraction > 0 else None
        self.checking(rows, max(estimate, rows) if estimate else None)

    def checked_all(self, rows: int) -> None:
        self.total = rows
        self.checking(rows, rows)
        self.checking.close()

    def written(self, rows: int) -> None:
        self.writing(rows, self.total or None)

    def finishing(self, version: DatasetVersion) -> None:
        self.writing.close()


def terminal_rows(stream: TextIO, label: str):
    """``on_progress(rows_done, rows_total)`` for ``write_examples``, to a terminal."""
    line = TerminalProgress(stream, label, unit="row")

    def on_progress(done: int, total: int) -> None:
        line(done, total)
        if done >= total:
            line.close()

    return on_progress
