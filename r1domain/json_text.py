"""Text that JSON can carry but nothing after it can: lone surrogates.

``json.loads`` turns an escape such as ``"\\ud800"`` (half of a UTF-16 pair, alone) into
a ``str`` that cannot be encoded as UTF-8, so it fails wherever it goes next: PostgreSQL,
a page, a log line. JSON that comes in (API bodies, rollout dumps, dataset files, TRL
configs typed into a form) is checked once, where it is read, and refused with the path
of the first such key or text.

Plain Python: no Django.
"""

from __future__ import annotations

import re
from typing import Any

# Only a \uD800-\uDFFF escape makes a surrogate: JSON text without one needs no walk.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
PROBLEM = "text that is not valid Unicode (a lone surrogate such as \\ud800)"


def is_unicode(text: str) -> bool:
    """False for a ``str`` holding a lone surrogate."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def printable(text: str) -> str:
    """``text`` with any lone surrogate written as its escape, safe in any message."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def invalid_text_path(value: Any, source: str | None = None) -> str | None:
    """The path (``samples[3].completion``) of the first key or text in the JSON value
    ``value`` that is not valid Unicode; None when there is none. Given the JSON
    ``source`` it was parsed from, a source with no surrogate escape is not walked."""
    if source is not None and not _SURROGATE_ESCAPE.search(source):
        return None
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            if not is_unicode(item):
                return path or "(the value)"
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                where = f"{path}.{printable(key)[:60]}" if path else printable(key)[:60]
                if not is_unicode(key):
                    return where
                children.append((child, where))
            stack.extend(reversed(children))  # first in the document, first checked
        elif isinstance(item, list):
            stack.extend((item[i], f"{path}[{i}]") for i in range(len(item) - 1, -1, -1))
    return None
