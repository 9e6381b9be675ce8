"""What running a program in the sandbox gave: one verdict per test case."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from r1domain.errors import R1WebError

EXCERPT_CHARS = 2000


class SandboxError(R1WebError):
    """The sandbox itself could not run (bubblewrap missing, user namespaces disabled, a
    bad limit or language): never the program's fault, so never scored as a failure of
    it; the message says what to fix."""


class Status(StrEnum):
    OK = "ok"
    WRONG_ANSWER = "wrong answer"
    RUNTIME_ERROR = "runtime error"
    TIMEOUT = "timeout"
    MEMORY = "memory"
    OUTPUT_LIMIT = "output limit"
    COMPILE_ERROR = "compile error"
    NO_PROGRAM = "no program"


class Limit(StrEnum):
    CPU = "cpu"
    WALL = "wall"
    MEMORY = "memory"
    OUTPUT = "output"
    FILE_SIZE = "file size"


class Ending(StrEnum):
    """How a Python program's own code ended, as the harness saw it from inside."""

    COMPLETED = "completed"  # ran to its end (and its function call returned)
    EXITED = "exited"  # sys.exit() / SystemExit
    ASSERTION = "assertion"  # an AssertionError escaped
    EXCEPTION = "exception"  # any other exception escaped
    MEMORY = "memory"  # MemoryError
    UNKNOWN = "unknown"  # killed, os._exit, or not a Python program


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The head of a long text, marked as cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters]"


@dataclass(frozen=True)
class Verdict:
    """One run of a program on one input.

    ``stdout`` is the whole output up to the output limit (comparisons need all of it);
    ``value`` is the ``repr`` of a called function's result. ``reason`` says in words why
    it is not ``ok``.
    """

    status: Status
    limit: Limit | None = None
    exit_code: int | None = None
    signal: int | None = None
    stdout: str = field(default="", repr=False)
    stderr: str = field(default="", repr=False)
    duration_s: float = 0.0
    cpu_s: float = 0.0
    ending: Ending = Ending.UNKNOWN
    value: str | None = None
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.status is Status.OK

    def as_dict(self) -> dict[str, Any]:
        """The verdict as JSON would show it, outputs as excerpts."""
        return {
            "status": str(self.status),
            "limit": str(self.limit) if self.limit else None,
            "exit_code": self.exit_code,
            "signal": self.signal,
            "reason": self.reason,
            "ending": str(self.ending),
            "stdout": excerpt(self.stdout),
            "stderr": excerpt(self.stderr),
            "duration_s": round(self.duration_s, 4),
            "cpu_s": round(self.cpu_s, 4),
        }
