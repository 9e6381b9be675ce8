"""``{% lineage obj %}``: the lineage box for a dataset version, a stage or a run."""

from __future__ import annotations

from django import template

from r1web.datasets.models import DatasetVersion
from r1web.datasets.selectors import lineage_for_run, lineage_for_stage, lineage_for_version
from r1web.runs.models import Run, Stage

register = template.Library()


@register.inclusion_tag("_lineage.html")
def lineage(obj, stages=None) -> dict:
    """``stages``: a run's stages from ``runs.selectors.stages_of``, already read."""
    if isinstance(obj, DatasetVersion):
        return {"lineages": [(None, lineage_for_version(obj))]}
    if isinstance(obj, Stage):
        return {"lineages": [(None, lineage_for_stage(obj))]}
    if isinstance(obj, Run):
        return {"lineages": lineage_for_run(obj, stages)}
    raise template.TemplateSyntaxError(
        f"lineage needs a DatasetVersion, Stage or Run, not {type(obj).__name__}"
    )
