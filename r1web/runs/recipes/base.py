"""Recipes as stage graphs: the types a recipe declares, and the one service that
launches any of them.

A recipe has parameters (what its launch form and ``run_recipe`` ask for) and a
``build`` function that turns cleaned parameter values into ``StageSpec`` nodes. A
node's inputs are a model and dataset versions the user gave, or the output of an
earlier node of the same run (by its key); those references become the stage's needs.
Everything is checked before the first row is written: a refused launch leaves the
database as it was.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from r1domain.base import ConfigError
from r1domain.errors import R1WebError
from r1domain.stage_params import StageParams, dump
from r1web.audit.models import Action
from r1web.audit.services import audit_record
from r1web.datasets.models import Dataset, DatasetVersion
from r1web.runs.models import Checkpoint, Run, Stage, StageInput
from r1web.runs.registry import stage_kind
from r1web.runs.services import RunError, run_start

MAX_TEXT = 500


@dataclass(frozen=True)
class Param:
    """One thing a recipe asks for; ``kind`` decides how a raw value is read."""

    name: str
    kind: str  # model(s), reward_model, dataset, int, float, str, choice, bool, config
    label: str
    help: str = ""
    default: Any = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    config_class: str = ""  # for kind "config": the TRL config class its fields belong to


@dataclass
class DataSpec:
    role: str
    version: DatasetVersion | None = None
    from_stage: str = ""  # the key of an earlier stage whose dataset this reads
    weight: float | None = None


@dataclass
class StageSpec:
    """One node of a recipe's graph; its parameters' type says which kind of stage it is."""

    key: str
    name: str
    params: StageParams
    model: Checkpoint | str | None = None  # a checkpoint, or an earlier stage's key
    datasets: list[DataSpec] = field(default_factory=list)
    trl_config: dict = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # ordering beyond the inputs

    @property
    def kind(self) -> str:
        return self.params.kind


@dataclass(frozen=True)
class RecipeSpec:
    name: str
    label: str
    description: str
    params: tuple[Param, ...]
    build: Callable[[dict], list[StageSpec]]
    run_name: Callable[[dict], str]

    def param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)


# Values ----------------------------------------------------------------------------

def model_refusal(value: str) -> RunError:
    # One message whether the folder is missing, outside the models directory or not a
    # model: the form must not tell a user what exists on the server.
    return RunError(
        f"model {value!r} is not available: name a registered checkpoint (its number) "
        "or a model folder under the models directory"
    )


def resolve_model(value: str, *, role: str = Checkpoint.Role.POLICY) -> Checkpoint:
    """A registered checkpoint (by number or path) or a model folder under MODELS_DIR."""
    value = str(value).strip()
    if not value or "\x00" in value or len(value) > MAX_TEXT:
        raise model_refusal(value[:80])
    if _is_number_text(value):
        checkpoint = Checkpoint.objects.filter(pk=int(value)).first()
        if checkpoint is None or checkpoint.role != role:
            raise model_refusal(value)
        return checkpoint
    registered = Checkpoint.objects.filter(path=value, role=role).first()
    if registered is not None:
        return registered
    return _model_folder(value, role)


def _model_folder(value: str, role: str) -> Checkpoint:
    models_dir = Path(settings.MODELS_DIR).resolve()
    folder = (models_dir / value).resolve()  # an absolute value replaces models_dir
    inside = folder == models_dir or models_dir in folder.parents
    if not inside or not (folder / "config.json").is_file():
        raise model_refusal(value)
    checkpoint, _ = Checkpoint.objects.get_or_create(
        path=str(folder), defaults={"name": folder.name, "role": role}
    )
    if checkpoint.role != role:
        raise model_refusal(value)
    return checkpoint


def _is_number_text(text: str) -> bool:
    """An id or version number as typed: ASCII digits, short enough for a database
    integer ("²" passes ``isdigit`` but ``int`` refuses it: that was a 500)."""
    return text.isascii() and text.isdecimal() and len(text) <= 9


def default_base() -> Checkpoint:
    """The demo's tiny base, registered on first use (``manage.py tiny_base`` builds it)."""
    path = Path(settings.TINY_BASE_DIR).resolve()
    if not (path / "config.json").is_file():
        raise RunError(f"the demo's tiny base is not built yet: run `manage.py tiny_base` ({path})")
    checkpoint, _ = Checkpoint.objects.get_or_create(path=str(path), defaults={"name": path.name})
    return checkpoint


def resolve_version(name: str, number: int | None = None) -> DatasetVersion:
    versions = DatasetVersion.objects.filter(dataset__name=name).select_related("dataset")
    newest = versions.order_by("-number")
    version = versions.filter(number=number).first() if number else newest.first()
    if version is None:
        label = f"{name} v{number}" if number else name
        raise RunError(f"no dataset version {label}; import one with `manage.py import_dataset`")
    return version


def parse_dataset_ref(value: str) -> DatasetVersion:
    """``name`` (its newest version, pinned now) or ``name@3`` / ``name v3``."""
    text = str(value).strip()
    name, number = text, None
    for sep in ("@", " v"):
        if sep in text:
            name, _, raw = text.rpartition(sep)
            if not _is_number_text(raw.strip()):
                raise RunError(f"dataset {text[:100]!r}: a version is a number, as in "
                               f"{name[:100]}@2")
            number = int(raw)
            break
    if not name or len(name) > 100:
        raise RunError(f"no dataset named {text[:100]!r}")
    return resolve_version(name.strip(), number)


def clean_value(param: Param, raw: Any) -> Any:
    """A raw form or command-line value, read and range-checked as ``param`` says."""
    if raw is None or raw == "":
        return param.default
    if param.kind == "int":
        return _number(param, raw, int)
    if param.kind == "float":
        return _number(param, raw, float)
    if param.kind == "bool":
        return raw in (True, "true", "on", "1", 1, "yes")
    text = str(raw).strip() if not isinstance(raw, dict) else raw
    if isinstance(text, str) and ("\x00" in text or len(text) > MAX_TEXT):
        raise RunError(f"{param.label}: too long or not text")
    if param.kind == "choice" and text not in param.choices:
        raise RunError(f"{param.label} must be one of {', '.join(param.choices)}, not {text!r}")
    if param.kind == "config":
        return _config(param, raw)
    if param.kind == "model":
        return resolve_model(text)
    if param.kind == "models":
        return [resolve_model(part) for part in text.split(",") if part.strip()] or None
    if param.kind == "reward_model":
        return resolve_model(text, role=Checkpoint.Role.REWARD_MODEL)
    if param.kind == "dataset":
        return parse_dataset_ref(text)
    return text


def _cleaned(param: Param, raw: Any) -> Any:
    """``clean_value``, with a refusal naming the parameter it concerns."""
    try:
        return clean_value(param, raw)
    except R1WebError as exc:
        exc.field = exc.field or param.name
        raise


def _number(param: Param, raw: Any, kind: type) -> int | float:
    if isinstance(raw, bool):
        raise RunError(f"{param.label} must be a number, not {raw!r}")
    try:
        value = kind(raw) if not isinstance(raw, str) else kind(raw.strip())
    except (TypeError, ValueError):
        raise RunError(f"{param.label} must be {'an integer' if kind is int else 'a number'}, "
                       f"not {str(raw)[:40]!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise RunError(f"{param.label} must be a finite number")
    if param.low is not None and value < param.low or param.high is not None and value > param.high:
        raise RunError(f"{param.label} must be between {param.low:g} and {param.high:g}")
    return value


def _config(param: Param, raw: Any) -> dict:
    if not isinstance(raw, dict):
        raise RunError(f"{param.label} must be an object of {param.config_class} fields")
    from r1domain.trl_fields import check_trl_config

    return check_trl_config(raw, param.config_class)


# Launch ----------------------------------------------------------------------------

def recipe_launch(*, recipe: RecipeSpec, values: dict, user=None, queue: str = "") -> Run:
    """Check everything, then create the run and its stage graph and queue what can start.

    ``values`` are raw (form or command line) and keyed by the recipe's parameter
    names; an unknown name is refused.
    """
    unknown = sorted(set(values) - {p.name for p in recipe.params})
    if unknown:
        raise RunError(f"recipe {recipe.name} has no parameter(s) {', '.join(unknown)}")
    with transaction.atomic():
        cleaned = {p.name: _cleaned(p, values.get(p.name)) for p in recipe.params}
        return run_launch(
            name=values.get("name") or recipe.run_name(cleaned), recipe=recipe.name,
            config=_run_config(cleaned), specs=recipe.build(cleaned), user=user, queue=queue,
        )


@transaction.atomic
def run_launch(*, name: str, recipe: str, config: dict, specs: list[StageSpec], user=None,
               queue: str = "") -> Run:
    """The one way a run is made: its graph and every stage's parameters are checked,
    the run and its stages created, what can start queued, and the launch audited.

    The caller guarantees that ``config`` is JSON (what the run was launched with, shown
    on its page). A refused launch leaves the database as it was.
    """
    queue = _clean_queue(queue)
    checked = _check_graph(specs)
    run = Run.objects.create(name=name[:200], recipe=recipe, created_by=user, config=config)
    create_stages(run, specs, checked, queue)
    run_start(run=run)
    audit_record(actor=user, action=Action.RUN_LAUNCH, target=run,
                 detail={"recipe": recipe, "queue": queue})
    return run


def _clean_queue(queue: str) -> str:
    queue = (queue or settings.CELERY_TASK_DEFAULT_QUEUE).strip()
    allowed = queue_choices()
    if queue not in allowed:
        raise RunError(f"queue {queue[:40]!r} is not one of {', '.join(allowed)}")
    return queue


def queue_choices() -> list[str]:
    """The queues workers listen on (``R1WEB_QUEUES``), the default one first."""
    default = settings.CELERY_TASK_DEFAULT_QUEUE
    return [default, *(q for q in settings.R1WEB_QUEUES if q != default)]


def _check_graph(specs: list[StageSpec]) -> list[dict]:
    """Each stage's checked TRL config, in order; refs must name earlier stages."""
    seen: set[str] = set()
    checked = []
    for spec in specs:
        kind = stage_kind(spec.kind)
        refs = [ref for ref in (spec.model, *(d.from_stage for d in spec.datasets))
                if isinstance(ref, str) and ref]
        missing = [ref for ref in (*refs, *spec.needs) if ref not in seen]
        if missing or spec.key in seen:
            raise RunError(f"stage {spec.key}: unknown or later input stage(s) {missing}")
        try:
            checked.append(kind.check_config(spec.trl_config, spec.params))
        except ConfigError as exc:
            raise ConfigError(f"{spec.name}: {exc}") from None
        seen.add(spec.key)
    return checked


def _run_config(cleaned: dict) -> dict:
    """What the run was launched with, as JSON (models and datasets by name)."""
    def plain(value):
        if isinstance(value, list):
            return [plain(item) for item in value]
        if isinstance(value, DatasetVersion):
            return str(value)
        return value.path if isinstance(value, Checkpoint) else value

    return {name: plain(value) for name, value in cleaned.items() if value is not None}


def create_stages(run: Run, specs: list[StageSpec], checked: list[dict], queue: str) -> None:
    by_key: dict[str, Stage] = {}
    for position, (spec, trl_config) in enumerate(zip(specs, checked)):
        source = by_key[spec.model] if isinstance(spec.model, str) else None
        stage = Stage.objects.create(
            run=run, position=position, key=spec.key, name=spec.name[:100], kind=spec.kind,
            queue=queue, trl_config=trl_config, params=dump(spec.params),
            input_checkpoint=spec.model if isinstance(spec.model, Checkpoint) else None,
            input_from=source,
        )
        needs = {source} if source else set()
        for data in spec.datasets:
            origin = by_key[data.from_stage] if data.from_stage else None
            StageInput.objects.create(
                stage=stage, version=data.version, from_stage=origin, role=data.role,
                weight=data.weight,
            )
            if origin is not None:
                needs.add(origin)
        needs |= {by_key[key] for key in spec.needs}
        stage.needs.set(needs)
        by_key[spec.key] = stage


def dataset_kind_check(version: DatasetVersion, kind: str, purpose: str) -> DatasetVersion:
    if version.dataset.kind != kind:
        raise RunError(f"{version} is a {version.dataset.kind} dataset; {purpose} needs {kind}")
    return version


def ensure_prompts_have_splits(version: DatasetVersion) -> DatasetVersion:
    if not version.splits.get("train") or not version.splits.get("test"):
        raise RunError(f"{version} needs a train and a test split, has {version.splits}")
    return version


def prompts_dataset(value: DatasetVersion | None) -> DatasetVersion:
    """The prompts a recipe trains and evaluates on: the given version, or the demo's
    synthetic tasks."""
    if value is None:
        from r1web.datasets.services import synthetic_dataset_ensure

        return synthetic_dataset_ensure()
    return ensure_prompts_have_splits(value)


__all__ = [
    "DataSpec",
    "Dataset",
    "Param",
    "RecipeSpec",
    "StageSpec",
    "default_base",
    "parse_dataset_ref",
    "prompts_dataset",
    "queue_choices",
    "recipe_launch",
    "resolve_model",
    "resolve_version",
    "run_launch",
]
