"""Pass@k, the unbiased estimator of Chen et al. (2021, "Evaluating Large Language Models
Trained on Code"): with n samples of which c are correct, the chance that at least one
of k samples drawn without replacement is correct."""

from __future__ import annotations

import math
from collections.abc import Iterable

PASS_AT = (1, 5, 10)


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n-c, k) / C(n, k), in the numerically stable product form."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n (n={n}, c={c}, k={k})")
    if n - c < k:
        return 1.0
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def pass_at_ks(n: int, c: int, ks: Iterable[int] = PASS_AT) -> dict[str, float]:
    """``{"pass@k": value}`` for each k that n samples allow."""
    return {f"pass@{k}": pass_at_k(n, c, k) for k in ks if k <= n}


def mean_pass_at_k(counts: Iterable[tuple[int, int]], k: int) -> float:
    """The mean over problems of pass@k, from each problem's (n, c)."""
    values = [pass_at_k(n, c, k) for n, c in counts]
    return sum(values) / len(values) if values else 0.0
