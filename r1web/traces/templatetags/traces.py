from __future__ import annotations

from django import template

from r1web.traces.highlight import highlight_reflection as _highlight

register = template.Library()


@register.filter
def highlight_reflection(text: str):
    """Escaped text with the detector's reflection phrases wrapped in <mark>."""
    return _highlight(str(text))
