"""Reflection phrases highlighted in untrusted model text.

The text is split around the matches and every piece is escaped on its own; only our
own ``<mark>`` tags are markup. Nothing the model wrote is ever marked safe.
"""

from __future__ import annotations

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# The detector's own matcher, so what is highlighted is exactly what was counted.
from workers.domain.reflection import REFLECTION_PATTERN


def highlight_reflection(text: str) -> SafeString:
    pieces: list[tuple[str]] = []
    start = 0
    for match in REFLECTION_PATTERN.finditer(text):
        pieces.append((text[start : match.start()],))
        pieces.append((format_html('<mark class="reflection">{}</mark>', match.group(0)),))
        start = match.end()
    pieces.append((text[start:],))
    # format_html_join escapes plain str pieces and keeps the <mark> fragments as built.
    return format_html_join("", "{}", pieces)
