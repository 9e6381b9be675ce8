"""The build-base stage: train a tiny base model from code (the distillation recipe's
small student), or adopt the one already built at the same path.

``BuildBaseParams``: ``size`` (a ``tiny_base.SIZES`` name), ``path`` (under
``settings.MODELS_DIR``; default ``MODELS_DIR/tiny-base[-<size>]``) and ``seed``. The
model is trained in a scratch directory beside ``path`` and moved into place whole, so
a build that dies or is cancelled never leaves a half-written model where the next run
would take it for a finished one.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from django.conf import settings

from r1domain.base import ConfigError
from r1domain.stage_params import BuildBaseParams
from r1web.runs.models import Stage
from r1web.runs.services import checkpoint_record
from workers.recording import DatabaseSink, write_retrying


def default_base_name(size: str) -> str:
    return "tiny-base" if size == "default" else f"tiny-base-{size}"


def base_dir(params: BuildBaseParams) -> Path:
    """Where the stage builds; ConfigError for a path outside ``MODELS_DIR``."""
    models = Path(settings.MODELS_DIR).resolve()
    path = Path(params.path or models / default_base_name(params.size)).resolve()
    if path == models or not path.is_relative_to(models):
        raise ConfigError(f"a base model is built inside {models}, not at {path}")
    return path


def is_built(path: Path) -> bool:
    return (path / "config.json").is_file()


def _build(stage: Stage, path: Path, size: str, seed: int) -> dict:
    from workers.stages.tiny_base import build_tiny_base

    scratch = path.with_name(f".{path.name}.building-{stage.pk}")
    shutil.rmtree(scratch, ignore_errors=True)
    try:
        with DatabaseSink(stage) as sink:
            summary = build_tiny_base(scratch, seed=seed, size=size, sink=sink)
        try:
            os.replace(scratch, path)
        except OSError:
            if not is_built(path):  # not another stage's finished build: a real failure
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return summary


def _summary(path: Path) -> dict:
    summary = path / "tiny_base.json"
    return json.loads(summary.read_text()) if summary.is_file() else {}


def run_build_base_stage(stage: Stage, params: BuildBaseParams) -> dict:
    path = base_dir(params)
    built = not is_built(path)
    if built:
        path.parent.mkdir(parents=True, exist_ok=True)
        summary = _build(stage, path, params.size, params.seed)
    else:
        summary = _summary(path)
    write_retrying(checkpoint_record, stage_pk=stage.pk, step=0, path=str(path), final=True)
    return {
        "size": params.size,
        "path": str(path),
        "built": built,
        **{key: summary[key] for key in ("parameters", "final_loss", "seconds") if key in summary},
    }
