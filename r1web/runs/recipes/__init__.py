"""The recipe registry: every pipeline r1web can launch, by name.

``recipe_launch`` (``base.py``) launches any of them; each module declares one recipe's
parameters and stage graph.
"""

from __future__ import annotations

from r1web.runs.recipes import cold_start, distill, mix, r1, r1_zero, single
from r1web.runs.recipes.base import (
    Param,
    RecipeSpec,
    StageSpec,
    recipe_launch,
    resolve_model,
    resolve_version,
)
from r1web.runs.services import RunError

RECIPES: dict[str, RecipeSpec] = {
    spec.name: spec for spec in (
        r1_zero.RECIPE, cold_start.RECIPE, r1.RECIPE, distill.RECIPE, mix.RECIPE,
        single.REJECTION_SAMPLING, single.REWARD_MODEL,
    )
}


def get_recipe(name: str) -> RecipeSpec:
    try:
        return RECIPES[name]
    except KeyError:
        known = ", ".join(RECIPES)
        raise RunError(f"unknown recipe {str(name)[:40]!r} (known: {known})") from None


def launch(name: str, values: dict, *, user=None, queue: str = ""):
    """``recipe_launch`` by recipe name, blank values dropped."""
    values = {key: value for key, value in values.items() if value not in (None, "", {})}
    return recipe_launch(recipe=get_recipe(name), values=values, user=user, queue=queue)


__all__ = [
    "RECIPES", "Param", "RecipeSpec", "StageSpec", "get_recipe", "launch", "recipe_launch",
    "resolve_model", "resolve_version",
]
