from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r1domain.base import ConfigError
from r1domain.mixing import largest_total, mix, mix_counts, realised_shares


def source(name: str, n: int) -> list[dict]:
    return [
        {"key": f"{name}{i}", "prompt": f"{name} {i}", "completion": "c", "task": name,
         "split": "test" if i % 5 == 0 else "train", "provenance": {"line": i}}
        for i in range(n)
    ]


def test_a_75_25_mix_takes_every_example_the_smaller_share_allows():
    reasoning, general = source("r", 600), source("g", 400)
    mixed = mix([reasoning, general], [0.75, 0.25])
    # 600 reasoning examples at 75% cap the mix at 800: 600 + 200.
    assert len(mixed) == 800
    assert realised_shares(mixed, 2) == [0.75, 0.25]


def test_no_example_is_repeated_and_each_keeps_its_fields_and_source():
    mixed = mix([source("r", 50), source("g", 50)], [0.5, 0.5], seed=3)
    assert len({record["key"] for record in mixed}) == len(mixed)
    record = next(r for r in mixed if r["key"] == "1:g7")
    assert (record["prompt"], record["task"], record["split"]) == ("g 7", "g", "train")
    assert record["provenance"] == {"source": 1, "source_key": "g7",
                                    "source_provenance": {"line": 7}}


def test_the_same_seed_gives_the_same_mix_and_another_seed_another():
    sources = [source("r", 100), source("g", 100)]
    assert mix(sources, [0.6, 0.4], seed=1) == mix(sources, [0.6, 0.4], seed=1)
    assert mix(sources, [0.6, 0.4], seed=1) != mix(sources, [0.6, 0.4], seed=2)


# Named awkward cases (tiny mixes, extreme shares), then Hypothesis for the rest.
SIZES = [(100, 100), (137, 1000), (999, 101), (7, 10_000), (250, 250, 250), (1000, 30, 512),
         (100_000, 3_000, 40_000)]
SHARES = [(0.75, 0.25), (0.9, 0.1), (1 / 3, 2 / 3), (0.01, 0.99), (0.5, 0.3, 0.2),
          (0.123, 0.456, 0.421), (0.7, 0.2, 0.1)]
CASES = [(sizes, shares) for sizes in SIZES for shares in SHARES if len(sizes) == len(shares)]


@pytest.mark.parametrize(("sizes", "shares"), CASES)
def test_realised_shares_are_within_one_percent_of_those_asked(sizes, shares):
    sources = [source(str(i), n) for i, n in enumerate(sizes)]
    total = largest_total(list(sizes), list(shares))
    mixed = mix(sources, list(shares))
    assert len(mixed) == total
    for asked, got in zip(shares, realised_shares(mixed, len(sizes))):
        # Largest remainder: off by less than one example, so under 1% from 100 examples.
        assert abs(got - asked) < 1 / total
        if total >= 100:
            assert abs(got - asked) <= 0.01


@st.composite
def sources_and_shares(draw):
    n = draw(st.integers(min_value=1, max_value=4))
    sizes = draw(st.lists(st.integers(min_value=1, max_value=3000), min_size=n, max_size=n))
    weights = draw(st.lists(st.integers(min_value=1, max_value=100), min_size=n, max_size=n))
    shares = [weight / sum(weights) for weight in weights]
    return [source(str(i), size) for i, size in enumerate(sizes)], shares


@settings(max_examples=200, deadline=None)
@given(sources_and_shares(), st.integers(min_value=0, max_value=2**32))
def test_any_mix_realises_every_share_within_one_example_and_never_repeats(case, seed):
    sources, shares = case
    total = largest_total([len(s) for s in sources], shares)
    mixed = mix(sources, shares, seed=seed)
    assert len(mixed) == total == len({r["key"] for r in mixed})
    for asked, got in zip(shares, realised_shares(mixed, len(sources))):
        assert abs(got - asked) < 1 / total
        if total >= 100:
            assert abs(got - asked) <= 0.01


@pytest.mark.parametrize("total", [1, 2, 3, 10, 99, 100, 101, 997, 1000])
def test_counts_add_up_to_the_total_and_round_each_quota(total):
    shares = [0.5, 0.3, 0.2]
    counts = mix_counts(total, shares)
    assert sum(counts) == total
    assert all(abs(count - total * share) < 1 for count, share in zip(counts, shares))


def test_an_explicit_total_smaller_than_the_sources_is_honoured():
    mixed = mix([source("r", 500), source("g", 500)], [0.75, 0.25], total=200)
    assert realised_shares(mixed, 2) == [0.75, 0.25] and len(mixed) == 200


@pytest.mark.parametrize(
    ("proportions", "message"),
    [
        ([0.5, 0.6], "sum to 1, not 1.1"),
        ([1.0, 0.0], "proportion 1 must be positive"),
        ([1.5, -0.5], "proportion 1 must be positive"),
        ([1.0], "needs 2 proportion"),
        (["a", 0.5], "must be a number"),
    ],
)
def test_bad_proportions_are_refused_with_a_clear_message(proportions, message):
    with pytest.raises(ConfigError, match=message):
        mix([source("r", 10), source("g", 10)], proportions)


def test_a_total_the_sources_cannot_give_without_repeats_is_refused():
    with pytest.raises(ConfigError, match="source 1 has 10 examples .* needs 50"):
        mix([source("r", 100), source("g", 10)], [0.5, 0.5], total=100)


def test_an_empty_source_is_refused():
    with pytest.raises(ConfigError, match="source 0 of the mix has no examples"):
        mix([[], source("g", 10)], [0.5, 0.5])
