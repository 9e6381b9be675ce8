"""``{{ stage|stage_progress }}``: a running stage's step of total, rate and time left, in
the words ``run_recipe --wait`` prints."""

from __future__ import annotations

from django import template

from r1web.runs.waiting import stage_progress as progress

register = template.Library()


@register.filter
def stage_progress(stage) -> str:
    return str(progress(stage))
