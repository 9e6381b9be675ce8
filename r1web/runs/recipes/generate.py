"""Cold-start candidate generation: one stage whose samples go to a curation queue.

Launched from the curation pages rather than the recipe list, through the same launch
service as every recipe (``run_launch``: graph check, audit row).
"""

from __future__ import annotations

from r1domain.coldstart import DEFAULT_TOKEN
from r1domain.stage_params import GenerateParams, validate
from r1web.datasets.models import Dataset, DatasetVersion
from r1web.runs.models import Recipe, Run, StageInput
from r1web.runs.recipes.base import DataSpec, StageSpec, default_base, run_launch
from r1web.runs.services import RunError

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
    if method == "few_shot" and exemplars is None:
        raise RunError("few-shot prompting needs a version of exemplars")
    model = model or default_base()
    target_dataset = Dataset.objects.filter(name=target).first()
    params = validate(GenerateParams, {
        "method": method, "target": target, "limit": limit, "per_prompt": per_prompt,
        "max_new_tokens": max_new_tokens,
        "special_token": target_dataset.special_token if target_dataset else DEFAULT_TOKEN,
    })
    datasets = [DataSpec(StageInput.Role.TRAIN, prompts)]
    if exemplars is not None:
        datasets.append(DataSpec(StageInput.Role.EXEMPLARS, exemplars))
    spec = StageSpec("generate", "generate candidates", params, model, datasets)
    return run_launch(
        name=f"{method.replace('_', '-')} candidates from {model.name} on {prompts}",
        recipe=Recipe.CUSTOM,
        config={"method": method, "prompts": str(prompts), "target": target},
        specs=[spec], user=user, queue=queue,
    )
