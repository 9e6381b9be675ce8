"""Reflection phrases and search hits highlighted in untrusted model text.

The text is split around the matches and every piece is escaped on its own; only our
own ``<mark>`` tags are markup. Nothing the model wrote is ever marked safe.
"""

from __future__ import annotations

import re

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

# The detector's own matcher, so what is highlighted is exactly what was counted.
from r1domain.reflection import REFLECTION_PATTERN

ELLIPSIS = "…"


def _marked(text: str, pattern: re.Pattern, css_class: str) -> SafeString:
    pieces: list[tuple[str]] = []
    start = 0
    for match in pattern.finditer(text):
        pieces.append((text[start : match.start()],))
        pieces.append(
            (format_html('<mark class="{}">{}</mark>', css_class, match.group(0)),)
        )
        start = match.end()
    pieces.append((text[start:],))
    # format_html_join escapes plain str pieces and keeps the <mark> fragments as built.
    return format_html_join("", "{}", pieces)


def highlight_reflection(text: str) -> SafeString:
    return _marked(text, REFLECTION_PATTERN, "reflection")


def highlight_hits(text: str, query: str, width: int = 140) -> SafeString:
    """At most ``width`` characters of ``text`` around the first hit of ``query``
    (case-insensitive, as the browser's text filter), every hit in ``<mark class="hit">``.

    Without a query, or without a hit in this text, the text's start, escaped.
    """
    found = re.search(re.escape(query), text, re.IGNORECASE) if query else None
    start = 0
    if found and found.end() > width - 1:
        # The hit in view, a third of the window before it for context.
        start = max(0, min(found.start() - width // 3, len(text) - width + 1))
    end = start + width - 1
    window = text[start:end]
    if query:
        window = _marked(window, re.compile(re.escape(query), re.IGNORECASE), "hit")
    return format_html(
        "{}{}{}", ELLIPSIS if start else "", window, ELLIPSIS if end < len(text) else ""
    )
