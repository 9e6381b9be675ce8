"""Numbers as a person reads them: integers as integers, rates to three places, and
durations in hours, minutes and seconds."""

from __future__ import annotations

from datetime import timedelta

from django import template

register = template.Library()


@register.filter
def number(value, places: int = 3) -> str:
    """``8`` for an integer (not ``8.000``), ``0.448`` for a float; text stays as it is.

    JSON keeps 8 and 8.0 apart, so a count stored as an integer prints as one.
    """
    if isinstance(value, bool) or value is None:
        return "–" if value is None else str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{int(places)}f}"
    return str(value)


@register.filter
def duration(value: timedelta | None) -> str:
    """``1h 04m``, ``3m 12s``, ``45s``; a dash for a run that has not started."""
    if value is None:
        return "–"
    seconds = max(0, int(value.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {seconds:02d}s"
    return f"{seconds}s"
