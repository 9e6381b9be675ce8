"""Trainer checkpoints on disk: which one a stage may resume from, and which it may delete.

TRL's ``save_total_limit`` deletes old checkpoints as soon as a new one is written, but
the database learns about a checkpoint a moment later (the sink writes on a thread of its
own). A worker killed in between leaves the latest *recorded* checkpoint deleted, and the
resume fails. So stages hand the limit to their sink, which prunes only after the newer
checkpoint is recorded (``prune_checkpoints``), and a resume takes the newest recorded
checkpoint that is still whole (``is_complete``).
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

_NAME = re.compile(r"checkpoint-(\d+)")
# Written last by ``Trainer._save_checkpoint``, after the weights and optimizer state.
STATE_FILE = "trainer_state.json"


def checkpoint_number(path: str | Path) -> int | None:
    match = _NAME.fullmatch(Path(path).name)
    return int(match.group(1)) if match else None


def is_complete(path: str | Path) -> bool:
    """Whether a Trainer checkpoint folder was written to the end."""
    return (Path(path) / STATE_FILE).is_file()


def prune_checkpoints(path: str | Path, keep: int) -> list[Path]:
    """Delete the checkpoints beside ``path`` (the one just recorded) that are older than
    the newest ``keep`` up to it; newer ones, written but not yet recorded, stay.
    Returns what was deleted."""
    path = Path(path)
    upto = checkpoint_number(path)
    if upto is None or keep < 1 or not path.parent.is_dir():
        return []
    older = sorted(
        (entry for entry in path.parent.iterdir()
         if entry.is_dir() and (number := checkpoint_number(entry)) is not None and number <= upto),
        key=checkpoint_number,
    )
    doomed = older[:-keep]
    for entry in doomed:
        shutil.rmtree(entry, ignore_errors=True)
    return doomed
