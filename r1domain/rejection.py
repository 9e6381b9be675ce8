"""Rejection sampling's decisions (DeepSeek-R1, section 2.3.3), with no model in sight.

Several samples per prompt; a sample is kept when it is correct, well formed and readable,
and at most ``keep`` per prompt. Correct means the rule check against the reference
answer; where a prompt has no reference, a generative judge compares the response with
the question instead. Every sample gets a verdict: "kept", or the first reason it was
dropped, so each rejected sample can be looked up in the trace browser by its reason.

Plain Python: no torch, no Django (the web process reads the verdict names from here).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from r1domain.base import ConfigError, SampleRecord
from r1domain.coldstart import DEFAULT_TOKEN, readability_issues, to_cold_start

KEPT = "kept"
INCORRECT = "incorrect"
UNJUDGEABLE = "unjudgeable"
JUDGE_UNPARSED = "judge_unparsed"
BAD_FORMAT = "bad_format"
PASS_RATE = "pass_rate"
OVER_QUOTA = "over_quota"

# Every verdict, in the order a sample is checked, with what the stage page says of it.
VERDICTS: dict[str, str] = {
    KEPT: "kept",
    UNJUDGEABLE: "no reference answer and no judge",
    JUDGE_UNPARSED: "the judge gave no verdict",
    INCORRECT: "incorrect answer",
    BAD_FORMAT: "broken completion format",
    "no_reasoning": "no reasoning",
    "no_summary": "no summary",
    "mixed_language": "mixed languages",
    "long_paragraph": "a very long paragraph",
    "code_block": "a code block",
    PASS_RATE: "prompt outside the pass-rate window",
    OVER_QUOTA: "more correct samples than kept per prompt",
}

# Judge verdicts, as stored in SampleRecord.judge["verdict"].
CORRECT = "correct"
UNPARSED = "unparsed"

HISTOGRAM_BINS = 11  # pass rates 0, 0.1, ..., 1.0
MAX_JUDGED_CHARS = 2000  # a judge sees the end of a longer response: the answer is there

JUDGE_TEMPLATE = (
    "You check answers. Compare the response with the reference answer, when there is "
    "one, and decide whether the response answers the question correctly.\n"
    "Question: {question}\n"
    "Reference answer: {reference}\n"
    "Response: {response}\n"
    'Reply with "Verdict: correct" or "Verdict: incorrect".\n'
    "Verdict:"
)
# The judge continues "Verdict:", so its first word is the verdict; a judge that talks
# first may still write "Verdict: ..." (or "**Verdict:** ...") somewhere after.
_LEADING_VERDICT = re.compile(r"\A[\s*:\"'`-]*(incorrect|correct)\b", re.IGNORECASE)
_LABELLED_VERDICT = re.compile(r"verdict[\s*:\"'`-]*(incorrect|correct)\b", re.IGNORECASE)


def check_params(params: dict) -> None:
    """Refuse settings that cannot run, naming the field (ConfigError)."""
    for name in ("samples_per_prompt", "keep_per_prompt"):
        value = params.get(name, 1)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{name} must be a whole number of at least 1, not {value!r}")
    if params.get("samples_per_prompt", 1) > 1 and float(params.get("temperature", 1.0)) <= 0:
        raise ConfigError("temperature must be above 0 to draw several samples per prompt")
    pass_rate_window(params.get("pass_rate_window"))


def pass_rate_window(raw) -> tuple[float, float] | None:
    """``[lo, hi]`` as a checked pair (open-r1 keeps 0.2 < p < 0.8); None when unset."""
    if raw is None:
        return None
    try:
        lo, hi = (float(value) for value in raw)
    except (TypeError, ValueError):
        raise ConfigError(f"pass_rate_window must be [low, high], not {raw!r}") from None
    if not 0.0 <= lo < hi <= 1.0:
        raise ConfigError(f"pass_rate_window needs 0 <= low < high <= 1, not [{lo:g}, {hi:g}]")
    return lo, hi


# --- the generative judge -----------------------------------------------------------

def needs_judge(example: dict) -> bool:
    """Rules can decide only where the example has a reference answer."""
    return not str(example.get("answer") or "").strip()


def judge_prompt(question: str, reference: str, response: str) -> str:
    response = response.strip()
    if len(response) > MAX_JUDGED_CHARS:
        response = "..." + response[-MAX_JUDGED_CHARS:]
    return JUDGE_TEMPLATE.format(
        question=question.strip(), reference=reference.strip() or "none", response=response
    )


def parse_verdict(raw: str) -> str:
    """"correct", "incorrect" or "unparsed" from what the judge wrote after "Verdict:"."""
    match = _LEADING_VERDICT.match(raw) or _LABELLED_VERDICT.search(raw)
    return match.group(1).lower() if match else UNPARSED


def judge_record(prompt: str, raw: str, model: str) -> dict:
    """What SampleRecord.judge holds: enough to see why the judge decided as it did."""
    return {"prompt": prompt, "raw": raw, "verdict": parse_verdict(raw), "model": model}


# --- verdicts -----------------------------------------------------------------------

def sample_verdict(
    record: SampleRecord, *, language: str = "en", special_token: str = DEFAULT_TOKEN
) -> str:
    """The first reason this sample fails on its own; "" when it passes.

    ``record.correct`` must already hold the rule check or the judge's verdict.
    """
    if record.judge:
        if record.judge.get("verdict") == UNPARSED:
            return JUDGE_UNPARSED
    elif not record.reference.strip():
        return UNJUDGEABLE
    if not record.correct:
        return INCORRECT
    # The kept sample is rewritten as token-reasoning-token-summary: a token inside either
    # part could not be split back.
    if not record.format_ok or special_token in record.think or special_token in record.answer:
        return BAD_FORMAT
    issues = readability_issues(record.think, record.answer, language)
    return issues[0].code if issues else ""


def pass_rate(records: Sequence[SampleRecord]) -> float | None:
    """The prompt's share of correct samples; None when none of them could be judged."""
    judged = [r for r in records if r.reference.strip() or r.judge]
    if not judged:
        return None
    return sum(r.correct for r in judged) / len(judged)


def in_window(rate: float | None, window: tuple[float, float] | None) -> bool:
    if window is None or rate is None:
        return True
    return window[0] < rate < window[1]


def decide_group(
    records: Sequence[SampleRecord],
    *,
    keep: int,
    window: tuple[float, float] | None = None,
    language: str = "en",
    special_token: str = DEFAULT_TOKEN,
) -> float | None:
    """Set the verdict of every sample of one prompt; returns the prompt's pass rate.

    A sample that passes on its own is dropped for the prompt's pass rate (outside the
    window), then for the quota: the first ``keep`` by sample index are kept.
    """
    rate = pass_rate(records)
    kept = 0
    for record in sorted(records, key=lambda r: r.index):
        verdict = sample_verdict(record, language=language, special_token=special_token)
        if not verdict and not in_window(rate, window):
            verdict = PASS_RATE
        elif not verdict:
            verdict = KEPT if kept < keep else OVER_QUOTA
            kept += verdict == KEPT
        record.verdict = verdict
    return rate


def verdict_counts(records: Sequence[SampleRecord]) -> dict[str, int]:
    """Samples per verdict, in the order of ``VERDICTS`` (unknown ones last)."""
    counts = Counter(record.verdict for record in records)
    return ordered_counts(counts)


def ordered_counts(counts: dict[str, int]) -> dict[str, int]:
    order = {verdict: i for i, verdict in enumerate(VERDICTS)}
    return dict(sorted(counts.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def pass_rate_histogram(rates: Sequence[float | None], bins: int = HISTOGRAM_BINS) -> list[int]:
    """Prompts per pass rate, rounded to the nearest of ``bins`` evenly spaced values
    from 0 to 1 (11 bins: 0, 0.1, ..., 1.0). Prompts that could not be judged are left out.
    """
    counts = [0] * bins
    for rate in rates:
        if rate is not None:
            counts[min(bins - 1, math.floor(rate * (bins - 1) + 0.5))] += 1
    return counts


# --- the output dataset -------------------------------------------------------------

def kept_example(
    record: SampleRecord,
    example: dict,
    *,
    special_token: str,
    run: int,
    stage: int,
    checkpoint: str,
) -> dict:
    """A kept sample as an SFT record in the cold-start format, with where it came from."""
    origin = record.example_key or f"prompt-{record.group}"
    return {
        "key": f"{origin}#{record.index}",
        "prompt": record.prompt,
        "completion": to_cold_start(record.think, record.answer, special_token),
        "answer": record.reference,
        "task": example.get("task") or "math",
        "split": "train",
        "provenance": {
            "run": run,
            "stage": stage,
            "step": record.step,
            "group": record.group,
            "index": record.index,
            "checkpoint": checkpoint,
            "example_key": record.example_key,
            "verdict": record.verdict,
        },
    }
