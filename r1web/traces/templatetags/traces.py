from __future__ import annotations

from django import template

from r1web.traces.highlight import highlight_hits as _hits
from r1web.traces.highlight import highlight_reflection as _highlight
from r1web.traces.table import sample_rows as _rows

register = template.Library()


@register.filter
def highlight_reflection(text: str):
    """Escaped text with the detector's reflection phrases wrapped in <mark>."""
    return _highlight(str(text))


@register.filter
def highlight_hits(text: str, query: str):
    """At most 140 escaped characters around the first hit of ``query``, hits marked."""
    return _hits(str(text), str(query or ""))


@register.filter
def about(number: int) -> str:
    """An estimate in two significant figures: 1,234,567 -> "1.2M", 48,321 -> "48k"."""
    rounded = float(f"{int(number):.2g}")
    for size, suffix in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if rounded >= size:
            return f"{rounded / size:g}{suffix}"
    return f"{rounded:g}"


@register.filter
def thousands(number: int) -> str:
    """An exact count with thousands separators: 1234 -> "1,234"."""
    return f"{int(number):,}"


@register.simple_tag
def sample_rows(samples, columns: list[str], query: str, filter_query: str):
    """The trace table's rows (``traces.table``: built in Python, for speed)."""
    return _rows(samples, columns, query or "", filter_query)
