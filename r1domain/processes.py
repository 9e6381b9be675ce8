"""Multi-process stages, the torch-free part: which accelerate configs a stage may name
and how many processes it may ask for. The web process checks launches with it."""

from __future__ import annotations

import os
from pathlib import Path

# Shipped configs; a deployment adds its own as YAML files in this folder.
CONFIG_DIR = Path(__file__).resolve().parent.parent / "workers" / "accelerate"
MAX_PROCESSES = 64


def accelerate_configs() -> tuple[str, ...]:
    """The names a stage may give (a name, never a path)."""
    return tuple(sorted(path.stem for path in CONFIG_DIR.glob("*.yaml")))


def host_cores() -> int:
    """The cores this process may use (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)
