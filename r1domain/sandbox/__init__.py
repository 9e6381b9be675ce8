"""Running untrusted programs (from model completions) isolated for real.

Built on bubblewrap (Linux namespaces) and resource limits, not on Python-level
guards: see ``bwrap`` for what a sandbox sees, ``harness`` for how its cases run,
``runner`` for the verdicts. Plain Python: no Django, no torch.
"""

from __future__ import annotations

from r1domain.processes import host_cores
from r1domain.sandbox.bwrap import LANGUAGES, Runtime, runtime_for
from r1domain.sandbox.limits import Limits
from r1domain.sandbox.pool import SandboxPool, shared_pool
from r1domain.sandbox.runner import Case, run_cases, run_program
from r1domain.sandbox.verdict import Ending, Limit, SandboxError, Status, Verdict, excerpt

__all__ = [
    "LANGUAGES",
    "Case",
    "Ending",
    "Limit",
    "Limits",
    "Runtime",
    "SandboxError",
    "SandboxPool",
    "Status",
    "Verdict",
    "excerpt",
    "host_cores",
    "run_cases",
    "run_program",
    "runtime_for",
    "shared_pool",
]
