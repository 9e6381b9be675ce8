"""Mix: merge dataset versions at given proportions into a new version with lineage to
every source (R1 trained on about 600k reasoning and 200k non-reasoning examples)."""

from __future__ import annotations

import math
import re

from r1domain.stage_params import MixParams, validate
from r1web.runs.models import Recipe, StageInput
from r1web.runs.recipes.base import DataSpec, Param, RecipeSpec, StageSpec, parse_dataset_ref
from r1web.runs.services import RunError

slug_re = re.compile(r"[-a-zA-Z0-9_]+")


def _shares(text: str) -> list[float]:
    try:
        shares = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise RunError(f"proportions must be numbers separated by commas, not {text!r}") from None
    if not all(math.isfinite(share) and share > 0 for share in shares):
        raise RunError("every proportion must be a positive number")
    if abs(sum(shares) - 1.0) > 1e-6:
        raise RunError(f"proportions must sum to 1, not {sum(shares):g}")
    return shares


def _dataset_name(name: str) -> str:
    if not slug_re.fullmatch(name) or len(name) > 100:
        raise RunError(f"{name[:100]!r} is not a dataset name (letters, digits, - and _)")
    return name


def build(values: dict) -> list[StageSpec]:
    refs = [ref for ref in (values["sources"] or "").split(",") if ref.strip()]
    if len(refs) < 2:
        raise RunError("a mix needs two or more source datasets (name or name@version)")
    shares = _shares(values["proportions"] or "")
    if len(shares) != len(refs):
        raise RunError(f"{len(refs)} sources need {len(refs)} proportions, not {len(shares)}")
    datasets = [DataSpec(StageInput.Role.TRAIN, parse_dataset_ref(ref), weight=share)
                for ref, share in zip(refs, shares)]
    params = {"proportions": shares, "seed": values["seed"]}
    if values["total"]:
        params["total"] = values["total"]
    if values["target"]:
        params["target"] = _dataset_name(values["target"])
    return [StageSpec("mix", "mix", validate(MixParams, params), None, datasets)]


def run_name(values: dict) -> str:
    return f"mix {values['sources']} at {values['proportions']}"


RECIPE = RecipeSpec(
    name=Recipe.MIX,
    label="Mix datasets at given proportions",
    description="Merge SFT dataset versions (e.g. reasoning and non-reasoning data) at the "
    "proportions you give into a new immutable version that keeps each example's source.",
    params=(
        Param("name", "str", "Run name"),
        Param("sources", "str", "Sources", "dataset names or name@version, comma-separated"),
        Param("proportions", "str", "Proportions", "one per source, summing to 1, e.g. 0.75,0.25"),
        Param("total", "int", "Examples", "blank = as many as the sources allow", low=1,
              high=100_000_000),
        Param("target", "str", "Output dataset name", "blank = run-<run>-mix"),
        Param("seed", "int", "Seed", default=0, low=0, high=2**32 - 1),
    ),
    build=build,
    run_name=run_name,
)
