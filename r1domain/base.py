"""What a stage reports while it runs, independent of where it is stored.

Stage code calls a ``StageSink``; the worker passes one that writes to the database
(``workers.recording``), tests pass an in-memory one. Keeping the stage code ignorant of
Django is what lets it run, and be tested, with no database and no broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from r1domain.checkpoints import prune_checkpoints
from r1domain.errors import R1WebError


@dataclass
class SampleRecord:
    """One sampled completion with everything the trace browser shows about it.

    ``(step, group, index)`` is unique within a stage: a retried write of the same
    record must never create a second row.
    """

    step: int
    group: int  # which prompt of the step's batch (the GRPO group)
    index: int  # position of the completion inside its group
    prompt: str
    completion: str
    think: str
    answer: str
    reference: str
    rewards: dict[str, float]
    reward: float
    advantage: float
    length_tokens: int
    correct: bool
    format_ok: bool
    reflection_phrases: list[str] = field(default_factory=list)
    example_key: str = ""  # provenance: which dataset example the prompt came from
    verdict: str = ""  # rejection sampling: "kept" or why the sample was dropped
    judge: dict = field(default_factory=dict)  # a generative judge's prompt and raw verdict
    # A probe prompt's answer (``r1domain.probes``): never part of a policy update
    # nor of the training statistics.
    probe: bool = False


class StageCancelled(Exception):
    """Raised inside stage code when the sink says the stage should stop."""


class StageSink(Protocol):
    def samples(self, records: list[SampleRecord]) -> None: ...

    def metrics(self, step: int, values: dict[str, float]) -> None: ...

    def progress(self, step: int, total: int) -> None: ...

    def checkpoint_saved(self, step: int, path: str, keep: int | None = None) -> None:
        """Record a checkpoint; with ``keep`` (TRL's ``save_total_limit``), then delete
        all but the newest ``keep`` checkpoints up to it
        (``r1domain.checkpoints.prune_checkpoints``), never before the record."""
        ...

    def should_stop(self) -> bool: ...


class MemorySink:
    """A sink that keeps everything in lists: for tests, benchmarks and the CLI."""

    def __init__(self) -> None:
        self.sample_records: list[SampleRecord] = []
        self.metric_points: list[tuple[int, str, float]] = []
        self.progress_seen: list[tuple[int, int]] = []
        self.checkpoints: list[tuple[int, str]] = []
        self.stop_requested = False

    def samples(self, records: list[SampleRecord]) -> None:
        self.sample_records.extend(records)

    def metrics(self, step: int, values: dict[str, float]) -> None:
        self.metric_points.extend((step, key, value) for key, value in values.items())

    def progress(self, step: int, total: int) -> None:
        self.progress_seen.append((step, total))

    def checkpoint_saved(self, step: int, path: str, keep: int | None = None) -> None:
        self.checkpoints.append((step, path))
        if keep:
            prune_checkpoints(path, keep)

    def should_stop(self) -> bool:
        return self.stop_requested


class ConfigError(R1WebError):
    """A stage configuration that cannot run; raised before any work starts.

    The message names the offending field so it can be shown to the user as is.
    """
