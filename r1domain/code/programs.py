"""Which program a completion gives: R1's ``<answer>`` block, or its last fenced block.

Inside an answer block the program is the last fenced block when there is one (models
often fence their answer), else the block's whole text. A completion with neither has
no program, and scores 0 for that reason.
"""

from __future__ import annotations

import re

from r1domain.formats import from_column

_FENCE = re.compile(r"```[ \t]*([\w+#.-]*)[ \t]*\n(.*?)```", re.DOTALL)


def last_fenced_block(text: str) -> str | None:
    blocks = _FENCE.findall(text)
    return blocks[-1][1] if blocks else None


def extract_program(text: str, completion_format: str | None = None) -> str | None:
    """The program a completion answers with, or None when it gives none."""
    answer = from_column(completion_format).parse(text).answer
    program: str | None
    if answer.strip():
        fenced = last_fenced_block(answer)
        program = fenced if fenced is not None else answer
    else:
        program = last_fenced_block(text)
    return program if program is not None and program.strip() else None
