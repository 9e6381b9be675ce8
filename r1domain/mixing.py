"""Mixing datasets in fixed proportions (DeepSeek-R1: ~600k reasoning : ~200k
non-reasoning examples for the final SFT).

Sampling is without replacement, so a mix never repeats an example; by default it is as
large as the sources allow. Counts are quotas rounded by largest remainder: each source
gets the floor or the ceiling of ``total * p``, so a realised share is within
``1 / total`` of the one asked for (within ``0.5 / total`` for two sources), hence within
1% for any mix of 100 examples or more.
"""

from __future__ import annotations

import math
import random
from typing import Any

from r1domain.base import ConfigError

Record = dict[str, Any]

SUM_TOLERANCE = 1e-6


def check_proportions(proportions: list[float], n_sources: int) -> list[float]:
    """The proportions as floats; ConfigError unless one positive share per source
    and they sum to 1."""
    if n_sources == 0:
        raise ConfigError("a mix needs at least one source")
    if len(proportions) != n_sources:
        raise ConfigError(
            f"a mix of {n_sources} source(s) needs {n_sources} proportion(s), "
            f"not {len(proportions)}"
        )
    shares = []
    for i, share in enumerate(proportions):
        if isinstance(share, bool) or not isinstance(share, (int, float)):
            raise ConfigError(f"proportion {i} must be a number, not {share!r}")
        if not math.isfinite(share) or share <= 0:
            raise ConfigError(f"proportion {i} must be positive, not {share:g}")
        shares.append(float(share))
    if abs(sum(shares) - 1.0) > SUM_TOLERANCE:
        raise ConfigError(f"mix proportions must sum to 1, not {sum(shares):g}")
    return [share / sum(shares) for share in shares]


def largest_total(sizes: list[int], shares: list[float]) -> int:
    """The biggest mix the sources allow without repeating an example."""
    # The epsilon keeps 7 / 0.7 = 9.999... from losing an example to float error.
    return min(math.floor(size / share + 1e-9) for size, share in zip(sizes, shares))


def mix_counts(total: int, shares: list[float]) -> list[int]:
    """How many examples each source gives: quotas rounded so they sum to ``total``."""
    quotas = [total * share for share in shares]
    counts = [math.floor(q) for q in quotas]
    by_remainder = sorted(range(len(shares)), key=lambda i: (counts[i] - quotas[i], i))
    for i in by_remainder[: max(0, total - sum(counts))]:
        counts[i] += 1
    return counts


def mix(
    sources: list[list[Record]],
    proportions: list[float],
    *,
    total: int | None = None,
    seed: int = 0,
) -> list[Record]:
    """A shuffled sample of ``total`` records, ``proportions[i]`` of them from
    ``sources[i]``; raises ConfigError when a source cannot give its share.

    Each output record keeps its source record's fields, with a key prefixed by the
    source index (``"1:abc"``), split ``"train"`` and a provenance naming the source.
    """
    shares = check_proportions(list(proportions), len(sources))
    sizes = [len(source) for source in sources]
    empty = [i for i, size in enumerate(sizes) if size == 0]
    if empty:
        raise ConfigError(f"source {empty[0]} of the mix has no examples")
    if total is None:
        total = largest_total(sizes, shares)
    if total < 1:
        raise ConfigError(f"a mix needs at least one example, not {total}")
    counts = mix_counts(total, shares)
    for i, (count, size) in enumerate(zip(counts, sizes)):
        if count > size:
            raise ConfigError(
                f"source {i} has {size} examples but a mix of {total} at {shares[i]:.1%} "
                f"needs {count} (examples are never repeated)"
            )
    rng = random.Random(seed)
    mixed = []
    for i, (source, count) in enumerate(zip(sources, counts)):
        for position in sorted(rng.sample(range(len(source)), count)):
            mixed.append(_mixed_record(i, position, source[position]))
    rng.shuffle(mixed)
    return mixed


def _mixed_record(source: int, position: int, record: Record) -> Record:
    key = str(record.get("key") or position)
    provenance = {
        "source": source,
        "source_key": key,
        "source_provenance": record.get("provenance") or {},
    }
    return {**record, "key": f"{source}:{key}", "split": "train", "provenance": provenance}


def realised_shares(mixed: list[Record], n_sources: int) -> list[float]:
    """The share of each source in a mix made by ``mix``."""
    counts = [0] * n_sources
    for record in mixed:
        counts[record["provenance"]["source"]] += 1
    return [count / len(mixed) for count in counts] if mixed else [0.0] * n_sources
