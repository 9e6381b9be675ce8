"""Building a TRL config on the worker from a user's checked fields.

What a user may set, and in what range, is decided torch-free by
``r1domain.trl_fields`` (the web process runs that check too). This side adds
what only the worker knows, its hardware, and proves the config builds with TRL.
"""

from __future__ import annotations

import tempfile
import warnings
from typing import Any

import torch

from r1domain.base import ConfigError
from r1domain.trl_fields import check_trl_config


def hardware_defaults() -> dict[str, Any]:
    """What this worker needs unless the user says otherwise: no CUDA and no bf16 on a CPU
    (slow or unsupported), no experiment trackers, no progress bars in worker logs, a
    metric point every step. Applied when building, never stored with the stage."""
    on_gpu = torch.cuda.is_available()
    return {
        "use_cpu": not on_gpu,
        "bf16": on_gpu,
        "report_to": "none",
        "logging_steps": 1,
        "disable_tqdm": True,
    }


def validate_trl_config(fields: object, config_class: type, label: str) -> dict[str, Any]:
    """The user's fields, normalised by the allow-list and proven to build
    ``config_class`` on this worker; only what the user set comes back."""
    user_fields = check_trl_config(fields, label)
    build_stage_config(config_class, user_fields, tempfile.gettempdir())
    return user_fields


def build_stage_config(config_class: type, user_fields: dict[str, Any], output_dir: str) -> Any:
    """The config a stage trains with: the user's fields over ``hardware_defaults()``."""
    return build_config(config_class, {**hardware_defaults(), **user_fields}, output_dir)


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
