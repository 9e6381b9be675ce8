"""``{{ seconds|duration }}``: a job's time left in the terminal's words
(``r1domain.progress``)."""

from __future__ import annotations

from django import template

from r1domain.progress import duration as duration_text

register = template.Library()


@register.filter
def duration(seconds) -> str:
    try:
        return duration_text(float(seconds))
    except (TypeError, ValueError):
        return ""
