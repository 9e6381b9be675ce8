"""Turn a recipe and its arguments into a run with stages.

Everything a recipe needs is checked before the first row is written: a missing model,
an unknown dataset or an unknown TRL field is refused with a message and leaves the
database as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from r1web.datasets.models import Dataset, DatasetVersion
from r1web.runs.models import Checkpoint, Recipe, Run, Stage, StageInput, StageKind
from r1web.runs.services import RunError, run_start


@dataclass
class R1ZeroArgs:
    model: str = ""  # a model directory; empty means the demo's tiny base
    dataset: str = ""  # a dataset name; empty means the demo's synthetic tasks
    max_steps: int | None = None
    trl_config: dict = field(default_factory=dict)
    reward_funcs: list[str] = field(default_factory=lambda: ["accuracy", "format"])
    eval_k: int | None = None
    eval_limit: int | None = None  # evaluate on at most this many test problems
    name: str = ""
    queue: str = ""


def check_model_dir(path: str) -> Path:
    model_dir = Path(path).expanduser()
    if not (model_dir / "config.json").is_file():
        raise RunError(f"model {path!r} is not a Hugging Face model directory (no config.json)")
    return model_dir.resolve()


def resolve_dataset(name: str) -> DatasetVersion:
    if not name:
        from r1web.datasets.services import synthetic_dataset_ensure

        return synthetic_dataset_ensure()
    dataset = Dataset.objects.filter(name=name).first()
    version = dataset.latest_version() if dataset else None
    if version is None:
        raise RunError(f"no dataset named {name!r}; import one with `manage.py import_dataset`")
    if not version.splits.get("train") or not version.splits.get("test"):
        raise RunError(
            f"dataset {name!r} v{version.number} needs a train and a test split, has {version.splits}"
        )
    return version


def r1_zero_create(*, args: R1ZeroArgs, user=None) -> Run:
    """Create and queue an R1-Zero run: evaluate the base, GRPO, evaluate the result."""
    from workers.stages import demo
    from workers.stages.grpo import validate_grpo_config
    from workers.stages.rewards import get_reward_funcs

    model_dir = check_model_dir(args.model or str(settings.TINY_BASE_DIR))
    trl_config = {**demo.GRPO_CONFIG, **args.trl_config}
    if args.max_steps is not None:
        trl_config["max_steps"] = args.max_steps
    trl_config = validate_grpo_config(trl_config)
    get_reward_funcs(args.reward_funcs)
    eval_params = {**demo.EVAL_PARAMS}
    if args.eval_k:
        eval_params["k"] = args.eval_k
    if args.eval_limit:
        eval_params["limit"] = args.eval_limit
    with transaction.atomic():
        version = resolve_dataset(args.dataset)
        return _r1_zero_rows(args, model_dir, version, trl_config, eval_params, user)


def _r1_zero_rows(args, model_dir, version, trl_config, eval_params, user) -> Run:
    base, _ = Checkpoint.objects.get_or_create(path=str(model_dir), defaults={"name": model_dir.name})
    run = Run.objects.create(
        name=args.name or f"r1-zero {model_dir.name} on {version}",
        recipe=Recipe.R1_ZERO,
        created_by=user,
        config={"model": str(model_dir), "dataset": str(version), "max_steps": trl_config.get("max_steps")},
    )
    queue = args.queue or settings.CELERY_DEFAULT_QUEUE
    before = _stage(run, 0, "evaluate base", StageKind.EVAL, queue, base, None, {}, {**eval_params, "label": "before"})
    grpo = _stage(
        run, 1, "GRPO", StageKind.GRPO, queue, base, None, trl_config, {"reward_funcs": args.reward_funcs}
    )
    after = _stage(run, 2, "evaluate trained", StageKind.EVAL, queue, None, grpo, {}, {**eval_params, "label": "after"})
    StageInput.objects.create(stage=before, version=version, role=StageInput.Role.EVAL)
    StageInput.objects.create(stage=grpo, version=version, role=StageInput.Role.TRAIN)
    StageInput.objects.create(stage=after, version=version, role=StageInput.Role.EVAL)
    run_start(run=run)
    return run


def _stage(run, position, name, kind, queue, checkpoint, input_from, trl_config, params) -> Stage:
    return Stage.objects.create(
        run=run,
        position=position,
        name=name,
        kind=kind,
        queue=queue,
        input_checkpoint=checkpoint,
        input_from=input_from,
        trl_config=trl_config,
        params=params,
    )
