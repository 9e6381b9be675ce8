"""Launch-time checks of a GRPO stage's reward models (``params["reward_models"]``).

Each entry is ``{"model": <stage key of the same run, or a checkpoint pk>, "scope":
"summary"|"response", "weight": float, "name": str}``; the worker resolves and loads
them (``workers.runners.reward_model``). Checked here, torch-free, so a bad entry is
refused before anything is stored.
"""

from __future__ import annotations

import math
import re

from r1domain.base import ConfigError
from r1domain.preferences import REWARD_MODEL_SCOPES
from r1web.runs.models import Checkpoint

# The name becomes a metric key (rewards/<name>/mean) and a per-sample reward's label.
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,60}$")


def check_reward_models(entries: object, rules: list[str]) -> None:
    """Raises ``ConfigError`` naming the first bad entry; ``rules`` are the stage's rule
    reward functions, whose names a reward model may not take."""
    if entries is None:
        return
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise ConfigError("reward_models must be a list of objects")
    names = set(rules)
    for i, entry in enumerate(entries, start=1):
        _check_scope(entry.get("scope", "response"), i)
        _check_weight(entry.get("weight", 1.0), i)
        _check_model(entry.get("model"), i)
        name = entry.get("name", f"reward_model_{i}")
        if not isinstance(name, str) or not _NAME.match(name):
            raise ConfigError(f"reward model {i}: name must be 1 to 60 letters, digits, _ or -")
        if name in names:
            raise ConfigError(f"reward model {i}: the name {name!r} is already used")
        names.add(name)


def _check_scope(scope: object, i: int) -> None:
    if scope not in REWARD_MODEL_SCOPES:
        known = " or ".join(REWARD_MODEL_SCOPES)
        raise ConfigError(f"reward model {i}: scope must be {known}, not {scope!r}")


def _check_weight(weight: object, i: int) -> None:
    number = isinstance(weight, (int, float)) and not isinstance(weight, bool)
    if not number or not math.isfinite(weight):
        raise ConfigError(f"reward model {i}: weight must be a finite number, not {weight!r}")


def _check_model(model: object, i: int) -> None:
    """A stage key (resolved when the stage runs) or the pk of a reward-model checkpoint."""
    if isinstance(model, str) and model.strip():
        return
    if not isinstance(model, int) or isinstance(model, bool):
        raise ConfigError(f"reward model {i}: model must be a stage key or a checkpoint id")
    role = Checkpoint.objects.filter(pk=model).values_list("role", flat=True).first()
    if role is None:
        raise ConfigError(f"reward model {model} does not exist")
    if role != Checkpoint.Role.REWARD_MODEL:
        raise ConfigError(f"checkpoint {model} is not a reward model")
