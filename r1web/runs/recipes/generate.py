"""Cold-start candidate generation: one stage whose samples go to a curation queue.

Launched from the curation pages rather than the recipe list, but built like any recipe.
"""

from __future__ import annotations

from django.conf import settings
from django.db import transaction

from r1web.datasets.models import Dataset, DatasetVersion
from r1web.runs.models import Recipe, Run, StageInput, StageKind
from r1web.runs.recipes.base import DataSpec, StageSpec, create_stages, default_base
from r1web.runs.services import RunError, run_start

METHODS = ("few_shot", "direct")


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
    if method not in METHODS:
        raise RunError(f"unknown generation method {method!r}")
    if method == "few_shot" and exemplars is None:
        raise RunError("few-shot prompting needs a version of exemplars")
    model = model or default_base()
    with transaction.atomic():
        target_dataset = Dataset.objects.filter(name=target).first()
        params = {
            "method": method, "target": target, "limit": limit, "per_prompt": per_prompt,
            "max_new_tokens": max_new_tokens,
            "special_token": target_dataset.special_token if target_dataset else "|special_token|",
        }
        datasets = [DataSpec(StageInput.Role.TRAIN, prompts)]
        if exemplars is not None:
            datasets.append(DataSpec(StageInput.Role.EXEMPLARS, exemplars))
        run = Run.objects.create(
            name=f"{method.replace('_', '-')} candidates from {model.name} on {prompts}",
            recipe=Recipe.CUSTOM,
            created_by=user,
            config={"method": method, "prompts": str(prompts), "target": target},
        )
        spec = StageSpec("generate", StageKind.GENERATE, "generate candidates", model, datasets,
                         params=params)
        create_stages(run, [spec], [{}], queue or settings.CELERY_TASK_DEFAULT_QUEUE)
        run_start(run=run)
        return run
