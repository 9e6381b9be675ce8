"""Checking a user's TRL config (any ``GRPOConfig``/``SFTConfig`` field by its TRL name)
before a worker spends anything on it."""

from __future__ import annotations

import dataclasses
import difflib
import tempfile
import warnings
from typing import Any

import torch

from workers.stages.base import ConfigError

# Chosen by the stage itself (where files go); a user value would be silently wrong.
RESERVED_FIELDS = frozenset({"output_dir"})


def cpu_defaults() -> dict[str, Any]:
    """What a CPU worker needs unless the user says otherwise: no CUDA, no bf16 (slow or
    unsupported on CPU), no experiment trackers, a metric point every step."""
    on_gpu = torch.cuda.is_available()
    return {
        "use_cpu": not on_gpu,
        "bf16": on_gpu,
        "report_to": "none",
        "logging_steps": 1,
        "disable_tqdm": True,
    }


def _field_names(config_class: type) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(config_class) if f.init}


def _unknown_message(unknown: list[str], known: dict, label: str) -> str:
    hints = []
    for name in unknown:
        close = difflib.get_close_matches(name, known, n=1)
        hints.append(f"{name} (did you mean {close[0]}?)" if close else name)
    return f"unknown {label} field(s): {', '.join(hints)}"


def _check_scalar_type(name: str, value: Any, default: Any) -> None:
    """TRL's dataclasses do not check types; catch the common slips (a string for a
    number, a number for a flag) with a message that names the field."""
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, not {value!r}")
    elif isinstance(default, int) and default is not None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name} must be an integer, not {value!r}")
    elif isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, not {value!r}")


def _check_value(name: str, value: Any, field: dataclasses.Field) -> None:
    if value is None:
        return
    if field.default is not dataclasses.MISSING:
        _check_scalar_type(name, value, field.default)
    choices = field.metadata.get("choices")
    if choices is not None and isinstance(value, str) and value not in choices:
        raise ConfigError(f"{name} must be one of {', '.join(map(str, choices))}, not {value!r}")


def validate_trl_config(fields: dict[str, Any], config_class: type, label: str) -> dict[str, Any]:
    """The user's fields merged over ``cpu_defaults()``, proven to build ``config_class``."""
    if not isinstance(fields, dict):
        raise ConfigError(f"{label} must be a JSON object of {label} fields")
    known = _field_names(config_class)
    reserved = sorted(set(fields) & RESERVED_FIELDS)
    if reserved:
        raise ConfigError(f"{', '.join(reserved)} is set by r1web and cannot be configured")
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise ConfigError(_unknown_message(unknown, known, label))
    for name, value in fields.items():
        _check_value(name, value, known[name])
    merged = {**cpu_defaults(), **fields}
    build_config(config_class, merged, tempfile.gettempdir())
    return merged


def build_config(config_class: type, fields: dict[str, Any], output_dir: str) -> Any:
    """``config_class(output_dir=..., **fields)``; TRL's own checks become ConfigError."""
    try:
        with warnings.catch_warnings():
            # transformers warns about its own field renames on every config it builds,
            # whatever the user set; the noise would hide real messages in worker logs.
            warnings.filterwarnings("ignore", message=".*is deprecated and will be removed in v6",
                                    category=FutureWarning)
            return config_class(output_dir=output_dir, **fields)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid config: {exc}") from exc
