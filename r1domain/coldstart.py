"""The cold-start output format and the readability checks the R1 report filters with.

Format (DeepSeek-R1, section 2.3.1): ``|special_token|<reasoning_process>|special_token|<summary>``,
the special token configurable per dataset. Candidates sampled in the R1-Zero form
(``<think>..</think><answer>..</answer>``) are converted to it for editing.

Plain Python: no Django, no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from r1domain.errors import R1WebError
from r1domain.parsing import extract_answer, extract_think
from r1domain.rewards import language_shares

DEFAULT_TOKEN = "|special_token|"
# The report gives no numbers; these are the thresholds a curator sees flagged.
MAX_PARAGRAPH_WORDS = 200
MIN_LANGUAGE_SHARE = 0.95

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_CODE_FENCE = re.compile(r"^\s*(```|~~~)", re.MULTILINE)


class ColdStartFormatError(R1WebError):
    """Text that is not ``token reasoning token summary``."""


@dataclass(frozen=True)
class Issue:
    code: str  # mixed_language, no_summary, no_reasoning, long_paragraph, code_block
    message: str


def from_think_answer(completion: str) -> tuple[str, str]:
    """(reasoning, summary) of an R1-Zero completion; the answer block becomes the summary."""
    return extract_think(completion), extract_answer(completion)


def to_cold_start(reasoning: str, summary: str, token: str = DEFAULT_TOKEN) -> str:
    """``token reasoning token summary``; a token inside either part is refused, since the
    text could not be split back."""
    if not token:
        raise ColdStartFormatError("the special token must not be empty")
    for name, part in (("reasoning", reasoning), ("summary", summary)):
        if token in part:
            raise ColdStartFormatError(f"the {name} contains the special token {token!r}")
    return f"{token}{reasoning.strip()}{token}{summary.strip()}"


def parse_cold_start(text: str, token: str = DEFAULT_TOKEN) -> tuple[str, str]:
    """The inverse of ``to_cold_start``."""
    parts = text.split(token)
    if len(parts) != 3 or parts[0].strip():
        raise ColdStartFormatError(
            f"expected {token}<reasoning>{token}<summary>, found the token {len(parts) - 1} time(s)"
        )
    return parts[1].strip(), parts[2].strip()


def readability_issues(reasoning: str, summary: str, language: str = "en") -> list[Issue]:
    """What the R1 report filters out of cold-start and rejection-sampled data."""
    issues: list[Issue] = []
    if not reasoning.strip():
        issues.append(Issue("no_reasoning", "the reasoning is empty"))
    if not summary.strip():
        issues.append(Issue("no_summary", "there is no summary"))
    mixed = _mixed_language(reasoning, language)
    if mixed:
        issues.append(Issue("mixed_language", mixed))
    longest = max((len(p.split()) for p in _PARAGRAPH_BREAK.split(reasoning)), default=0)
    if longest > MAX_PARAGRAPH_WORDS:
        issues.append(
            Issue(
                "long_paragraph", f"a paragraph has {longest} words (limit {MAX_PARAGRAPH_WORDS})"
            )
        )
    if _CODE_FENCE.search(reasoning) or _CODE_FENCE.search(summary):
        issues.append(Issue("code_block", "the text contains a code block"))
    return issues


def _mixed_language(text: str, language: str) -> str:
    counts = language_shares(text)
    total = sum(counts.values())
    if not total:
        return ""
    share = counts.get(language, 0) / total
    if share >= MIN_LANGUAGE_SHARE:
        return ""
    others = ", ".join(f"{lang} {n}" for lang, n in counts.items() if lang != language and n)
    return f"only {share:.0%} of the words are {language} ({others or 'none'})"
