"""What one sandboxed program may use, per test case."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from r1domain.sandbox.verdict import SandboxError

MIB = 2**20


@dataclass(frozen=True)
class Limits:
    """Resource limits of one case of a program (a compile step has its own).

    ``cpu_seconds`` is CPU time (RLIMIT_CPU, whole seconds, rounded up); ``wall_seconds``
    is elapsed time, after which every process of the case is killed. ``memory_mb`` caps
    the address space of each process, ``processes`` the processes and threads of the
    sandbox, ``file_mb`` the size of one written file and ``scratch_mb`` the whole scratch
    directory. Past ``output_kb`` of standard output (or as much on standard error) the
    case is killed; ``stderr_kb`` is how much of standard error is kept.
    """

    cpu_seconds: float = 5.0
    wall_seconds: float = 10.0
    memory_mb: int = 512
    processes: int = 32
    file_mb: int = 16
    output_kb: int = 1024
    stderr_kb: int = 64
    scratch_mb: int = 64
    open_files: int = 64

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise SandboxError(f"limit {field.name} must be a positive number, not {value!r}")
        if self.wall_seconds < self.cpu_seconds:
            raise SandboxError("limit wall_seconds must be at least cpu_seconds")

    def for_harness(self) -> dict[str, int | float]:
        """The limits as the in-sandbox harness applies them (bytes, whole seconds)."""
        return {
            "cpu": max(1, math.ceil(self.cpu_seconds)),
            "wall": float(self.wall_seconds),
            "memory": self.memory_mb * MIB,
            "processes": self.processes,
            "file": self.file_mb * MIB,
            "files_open": self.open_files,
            "output": self.output_kb * 1024,
            "stderr": self.stderr_kb * 1024,
        }

    def as_dict(self) -> dict[str, int | float]:
        return asdict(self)


# A compiler needs more than the programs it builds.
COMPILE_LIMITS = Limits(cpu_seconds=30, wall_seconds=60, memory_mb=2048, processes=16)
