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


def demo_eval_params() -> dict:
    """The demo's evaluation settings as stage params (``problems`` becomes ``limit``)."""
    from workers.stages.demo import DEMO_EVAL

    params = {key: value for key, value in DEMO_EVAL.items() if key != "problems"}
    return {**params, "limit": DEMO_EVAL["problems"]}


def r1_zero_create(*, args: R1ZeroArgs, user=None) -> Run:
    """Create and queue an R1-Zero run: evaluate the base, GRPO, evaluate the result."""
    from workers.stages import demo
    from workers.stages.grpo import validate_grpo_config
    from workers.stages.rewards import get_reward_funcs

    model_dir = check_model_dir(args.model or str(settings.TINY_BASE_DIR))
    trl_config = {**demo.DEMO_GRPO_CONFIG, **args.trl_config}
    if args.max_steps is not None:
        trl_config["max_steps"] = args.max_steps
    trl_config = validate_grpo_config(trl_config)
    get_reward_funcs(args.reward_funcs)
    eval_params = demo_eval_params()
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
    queue = args.queue or settings.CELERY_TASK_DEFAULT_QUEUE
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


@dataclass
class ColdStartSFTArgs:
    dataset: str  # an SFT dataset (e.g. frozen from the curation queue)
    version: int | None = None  # empty means the newest version
    model: str = ""  # a model directory; empty means the demo's tiny base
    max_steps: int | None = None
    trl_config: dict = field(default_factory=dict)  # SFTConfig fields by TRL name
    samples_per_eval: int = 4
    name: str = ""
    queue: str = ""


def resolve_version(name: str, number: int | None) -> DatasetVersion:
    versions = DatasetVersion.objects.filter(dataset__name=name)
    version = versions.filter(number=number).first() if number else versions.order_by("-number").first()
    if version is None:
        label = f"{name} v{number}" if number else name
        raise RunError(f"no dataset version {label}")
    return version


def cold_start_sft_create(*, args: ColdStartSFTArgs, user=None) -> Run:
    """Create and queue a cold-start SFT run: SFT a model on one frozen dataset version."""
    from workers.stages.sft import validate_sft_config

    model_dir = check_model_dir(args.model or str(settings.TINY_BASE_DIR))
    trl_config = dict(args.trl_config)
    if args.max_steps is not None:
        trl_config["max_steps"] = args.max_steps
    trl_config = validate_sft_config(trl_config)
    with transaction.atomic():
        version = resolve_version(args.dataset, args.version)
        if not version.examples.exclude(completion="").exists():
            raise RunError(f"{version} has no completions to train on; SFT needs an SFT dataset")
        base, _ = Checkpoint.objects.get_or_create(path=str(model_dir), defaults={"name": model_dir.name})
        run = Run.objects.create(
            name=args.name or f"cold-start SFT {model_dir.name} on {version}",
            recipe=Recipe.COLD_START_SFT,
            created_by=user,
            config={"model": str(model_dir), "dataset": str(version), "max_steps": trl_config.get("max_steps")},
        )
        params = {
            "special_token": version.dataset.special_token,
            "samples_per_eval": args.samples_per_eval,
        }
        queue = args.queue or settings.CELERY_TASK_DEFAULT_QUEUE
        sft = _stage(run, 0, "cold-start SFT", StageKind.SFT, queue, base, None, trl_config, params)
        StageInput.objects.create(stage=sft, version=version, role=StageInput.Role.TRAIN)
        run_start(run=run)
        return run


def candidate_generation_create(
    *,
    method: str,
    prompts: DatasetVersion,
    target: str,
    model=None,
    exemplars: DatasetVersion | None = None,
    limit: int = 16,
    per_prompt: int = 2,
    max_new_tokens: int = 96,
    user=None,
    queue: str = "",
) -> Run:
    """Create and queue a run with one generation stage whose candidates go to the
    curation queue of dataset ``target``. ``model`` is a Checkpoint (None: tiny base)."""
    from workers.stages.generate import METHODS

    if method not in METHODS:
        raise RunError(f"unknown generation method {method!r}")
    if method == "few_shot" and exemplars is None:
        raise RunError("few-shot prompting needs a version of exemplars")
    if model is None:
        model_dir = check_model_dir(str(settings.TINY_BASE_DIR))
        model, _ = Checkpoint.objects.get_or_create(path=str(model_dir), defaults={"name": model_dir.name})
    with transaction.atomic():
        run = Run.objects.create(
            name=f"{method.replace('_', '-')} candidates from {model.name} on {prompts}",
            recipe=Recipe.CUSTOM,
            created_by=user,
            config={"method": method, "prompts": str(prompts), "target": target},
        )
        target_dataset = Dataset.objects.filter(name=target).first()
        params = {
            "method": method, "target": target, "limit": limit, "per_prompt": per_prompt,
            "max_new_tokens": max_new_tokens,
            "special_token": target_dataset.special_token if target_dataset else "|special_token|",
        }
        stage = _stage(run, 0, "generate candidates", StageKind.GENERATE,
                       queue or settings.CELERY_TASK_DEFAULT_QUEUE, model, None, {}, params)
        StageInput.objects.create(stage=stage, version=prompts, role=StageInput.Role.TRAIN)
        if exemplars is not None:
            StageInput.objects.create(stage=stage, version=exemplars, role=StageInput.Role.EXEMPLARS)
        run_start(run=run)
        return run
