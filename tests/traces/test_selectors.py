from __future__ import annotations

import json
import re

import pytest
from django.db import connection, transaction
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext

from r1web.traces.models import Flag, Sample
from r1web.traces.selectors import Total, filter_samples, neighbours, samples_page


@pytest.fixture
def stage(make_run, make_samples):
    stage = make_run()
    make_samples(stage, steps=4, groups=3, per_group=4)  # 48 samples
    return stage


TRIGRAM_INDEX = pytest.mark.skipif(connection.vendor != "postgresql",
                                   reason="the trigram index is PostgreSQL's")


def q(text: str) -> QueryDict:
    return QueryDict(text)


def test_filters_combine(stage):
    samples = filter_samples(q("step_min=2&step_max=3&correct=yes&reflection=yes"))
    assert samples.count() == 6  # index 0 only: 2 steps x 3 groups
    assert all(s.correct and s.reflection_count and 2 <= s.step <= 3 for s in samples)


def test_reward_range_and_format(stage):
    assert filter_samples(q("reward_min=1.5")).count() == 24
    assert filter_samples(q("reward_max=1.5&format_ok=no")).count() == 0


def test_text_search_looks_in_prompt_and_completion(stage):
    assert filter_samples(q("q=RECHECK")).count() == 48
    assert filter_samples(q("q=(step 3)")).count() == 12
    assert filter_samples(q("q=compare 2.")).count() == 12


def test_flag_filters(stage, bob):
    sample = Sample.objects.first()
    Flag.objects.create(sample=sample, run=sample.run, step=sample.step, label="custom",
                        custom_label="Mixed Language", created_by=bob)
    assert list(filter_samples(q("flagged=any"))) == [sample]
    assert list(filter_samples(q("flagged=custom&flag_label=mixed language"))) == [sample]
    assert not filter_samples(q("flagged=aha")).exists()


def test_invalid_parameters_are_ignored(stage):
    assert filter_samples(q("step_min=abc&sort=sideways&correct=maybe")).count() == 48


@pytest.mark.parametrize("sort", ["newest", "step", "-step", "reward", "-reward", "length", "-length"])
def test_keyset_pages_walk_every_sample_once_in_order(stage, sort):
    params = q(f"sort={sort}")
    expected = list(filter_samples(params).values_list("pk", flat=True))
    seen, cursor = [], None
    while True:
        page_params = params.copy()
        if cursor:
            page_params["after"] = cursor
        page = samples_page(page_params, size=7)
        seen += [s.pk for s in page.samples]
        cursor = page.next_cursor
        if not cursor:
            break
    assert seen == expected


def test_neighbours_follow_the_current_order(stage):
    params = q("sort=-reward")
    ordered = list(filter_samples(params))
    previous, following = neighbours(params, ordered[5])
    assert (previous.pk, following.pk) == (ordered[4].pk, ordered[6].pk)
    assert neighbours(params, ordered[0])[0] is None


def test_a_whole_first_page_is_its_own_exact_count(stage):
    from r1web.traces.selectors import count_samples

    params = q("correct=yes")
    assert count_samples(params, samples_page(params)).value == 24
    assert count_samples(params, samples_page(params, size=5)) == Total(24)  # counted


def test_past_the_exact_limit_the_count_is_an_estimate_or_a_lower_bound(stage, monkeypatch):
    from django.db import connection

    from r1web.traces.selectors import count_samples

    monkeypatch.setattr("r1web.traces.selectors.EXACT_UP_TO", 10)
    total = count_samples(q(""), samples_page(q(""), size=5))
    assert not total.exact
    if connection.vendor == "postgresql":
        assert total.value > 10  # the planner's estimate of the 48 rows
    else:
        assert total == Total(10, exact=False, at_least=True)


def test_the_samples_filter_tells_training_from_evaluation_and_probes(stage, make_samples):
    from r1web.runs.models import Stage

    evaluation = Stage.objects.create(run=stage.run, position=1, name="Eval", kind="eval")
    make_samples(evaluation, steps=1, groups=1, per_group=3)
    make_samples(stage, steps=1, groups=1, per_group=2, probe=True)
    assert filter_samples(q("samples=training")).count() == 48
    assert filter_samples(q(f"run={stage.run_id}&samples=training")).count() == 48
    assert filter_samples(q("samples=evaluation")).count() == 5  # 3 evaluated, 2 probes
    assert filter_samples(q("samples=other")).count() == 0


def test_without_any_filter_the_browser_shows_the_newest_runs_training_samples(
    stage, make_run, make_samples
):
    from r1web.traces.selectors import browser_params

    assert browser_params(q("")).dict() == {"run": str(stage.run_id), "samples": "training"}
    assert browser_params(q("sort=-reward&cols=prompt"))["run"] == str(stage.run_id)
    assert browser_params(q("run=")) == q("run=")  # "all runs", chosen in the form
    make_run(name="queued, nothing sampled yet")  # newer, but no samples: not the default
    assert browser_params(q(""))["run"] == str(stage.run_id)


def test_a_count_that_would_take_too_long_gives_way_to_the_estimate(stage, monkeypatch):
    from django.db import connection

    from r1web.traces import selectors

    if connection.vendor != "postgresql":
        pytest.skip("the planner's estimate and statement_timeout are PostgreSQL's")
    three = list(Sample.objects.values_list("pk", flat=True)[:3])
    slow = Sample.objects.filter(pk__in=three).extra(where=["pg_sleep(0.05) IS NOT NULL"])
    assert selectors._count_within(slow, budget_ms=10) is None
    assert selectors._count_within(slow, budget_ms=5000) == 3  # the timeout did not linger
    monkeypatch.setattr(selectors, "_count_within", lambda samples, budget_ms: None)
    total = selectors.count_samples(q("correct=yes"), samples_page(q("correct=yes"), size=5))
    assert not total.exact and not total.at_least and total.value >= 6


def test_a_stage_and_a_kind_of_samples_that_exclude_each_other_match_nothing(stage):
    from r1web.runs.models import Stage

    evaluation = Stage.objects.create(run=stage.run, position=1, name="Eval", kind="eval")
    assert not filter_samples(q(f"stage={stage.pk}&samples=other")).exists()
    assert not filter_samples(q(f"stage={evaluation.pk}&samples=training")).exists()
    assert filter_samples(q(f"stage={stage.pk}&samples=training")).count() == 48


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="trigram indexes exist on PostgreSQL only")
def test_a_word_searched_in_one_run_is_looked_up_in_that_runs_index_entries(stage):
    # The trigram indexes lead with the run (traces/0008): a rare word searched within a
    # run must read only that run's hits, not every run's (bench/trace_browser.py).
    matching = filter_samples(q(f"run={stage.run_id}&q=reconsider"), bounded=False)[:51]
    sql, params = matching.query.sql_with_params()
    with transaction.atomic(), connection.cursor() as cursor:
        # A 48-row table is read whole, or through a run's btree index; hide both (rolled
        # back) to see what the trigram index can do.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'traces_sample' "
                       "AND indexdef LIKE '%%USING btree (run_id%%'")
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX {name}")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
        transaction.set_rollback(True)
    # The run is found inside a trigram index (the planner may leave the word to a
    # recheck on a table this small); with an integer literal it never can be.
    assert re.search(rf"Bitmap Index Scan on sample_\w+_trgm .*\n\s+Index Cond: \(+run_id = "
                     rf"'{stage.run_id}'::bigint", plan), plan


@pytest.mark.skipif(connection.vendor != "postgresql",
                    reason="the planner's estimates and trigram indexes are PostgreSQL's")
def test_a_rare_word_is_found_through_the_text_index_and_a_common_one_by_walking(
        make_run, make_samples):
    # bench/trace_browser.py: walking the newest-first index for a word in 1 sample of
    # 500 read 27,000 rows of a million-sample run (38 ms); its trigram index, 422 (3 ms).
    from r1domain.base import SampleRecord
    from r1web.traces.services import samples_record

    stage = make_run()
    make_samples(stage, steps=125, groups=3, per_group=8)  # 3,000 samples
    rare = [SampleRecord(step=200 + n, group=0, index=0, prompt="p", completion=f"reconsider {n}",
                         think="", answer="", reference="", rewards={}, reward=0.0,
                         advantage=0.0, length_tokens=2, correct=False, format_ok=False)
            for n in range(3)]
    samples_record(stage=stage, records=rare)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE traces_sample")
    everything = Sample.objects.filter(run=stage.run).order_by("-id")

    with CaptureQueriesContext(connection) as read:
        page = samples_page(q(f"run={stage.run_id}&q=Reconsider"))
    assert page.by_text_index
    # The run's id bounds, the scope's and the search's plan are each read once.
    statements = [query["sql"] for query in read.captured_queries]
    assert len(statements) == len(set(statements))
    assert [s.completion for s in page.samples] == ["reconsider 2", "reconsider 1",
                                                     "reconsider 0"]

    page = samples_page(q(f"run={stage.run_id}&q=recheck"))
    assert not page.by_text_index
    expected = [s.pk for s in everything if "recheck" in s.completion][:50]
    assert [s.pk for s in page.samples] == expected
    assert page.next_cursor == str(expected[-1])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
@pytest.mark.parametrize("field", ["run_id", "stage_id"])
def test_an_older_runs_id_bounds_are_found_without_reading_a_newer_runs_samples(
        make_run, field):
    # bench/load.py: behind a live run of 176,000 samples, the planner walked the primary
    # key back through all of them to find an older run's last id (150-230 ms a page).
    from r1domain.base import SampleRecord
    from r1web.traces.selectors import first_and_last_ids
    from r1web.traces.services import samples_record

    def records(steps: int) -> list[SampleRecord]:
        return [SampleRecord(step=n // 8, group=0, index=n % 8, prompt="p", completion="c",
                             think="", answer="", reference="", rewards={}, reward=0.0,
                             advantage=0.0, length_tokens=1, correct=False, format_ok=False)
                for n in range(steps * 8)]

    older, newer = make_run("older"), make_run("newer")
    samples_record(stage=older, records=records(50))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE traces_sample")
    # A live run, newer than the table's statistics: 20,000 samples, all after the older's.
    samples_record(stage=newer, records=records(2500))
    value = older.run_id if field == "run_id" else older.pk
    with CaptureQueriesContext(connection) as read:
        bounds = first_and_last_ids(field, value)
    ids = Sample.objects.filter(stage=older).values_list("id", flat=True)
    assert bounds == (min(ids), max(ids))
    for query in read.captured_queries:
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {query['sql']}")
            plan = json.dumps(cursor.fetchone()[0])
        read_rows = sum(int(n) for n in re.findall(r'"Rows Removed by Filter": (\d+)', plan))
        assert read_rows < 100, plan


def _searched_through_the_index(stage, monkeypatch, every: int, samples: int, estimate: int):
    """``stage`` with ``samples`` samples, one in ``every`` "reconsider it", the rest
    "go on"; searches read through the trigram index, the planner expecting ``estimate``
    matches."""
    from r1domain.base import SampleRecord
    from r1web.traces import selectors
    from r1web.traces.services import samples_record

    samples_record(stage=stage, records=[
        SampleRecord(step=n // 8, group=0, index=n % 8, prompt="p",
                     completion="reconsider it" if n % every == 7 else "go on", think="",
                     answer="", reference="", rewards={}, reward=0.0, advantage=0.0,
                     length_tokens=2, correct=False, format_ok=False)
        for n in range(samples)])
    plan = selectors.SearchPlan(matches=estimate, rows=samples, by_text_index=True)
    monkeypatch.setattr(selectors, "_search_plan", lambda params, size: plan)
    return stage


@TRIGRAM_INDEX
@pytest.mark.parametrize("epoch", [100, 400, 65536])
def test_a_rare_words_pages_read_epoch_by_epoch_are_those_of_the_whole_search(
        make_run, monkeypatch, epoch):
    # 60 matches in 3,000 samples. Epochs of 100 ids: the first page needs 25 of them,
    # past the four read one by one; of 400: five; of 65,536 (traces/0009): one.
    from r1web.traces import selectors

    monkeypatch.setattr(selectors, "EPOCH", epoch)
    stage = _searched_through_the_index(make_run(), monkeypatch, every=50, samples=3000,
                                        estimate=3000)
    expected = list(Sample.objects.filter(run=stage.run, completion="reconsider it")
                    .order_by("-id").values_list("id", flat=True))
    assert len(expected) == 60

    first = samples_page(q(f"run={stage.run_id}&q=reconsider"))
    second = samples_page(q(f"run={stage.run_id}&q=reconsider&after={first.next_cursor}"))

    assert [s.pk for s in first.samples] == expected[:50]
    assert [s.pk for s in second.samples] == expected[50:]
    assert second.next_cursor is None


@TRIGRAM_INDEX
def test_a_rare_word_in_the_newest_epoch_is_read_there_only_and_its_count_estimated(
        make_run, monkeypatch):
    # At 10M samples the trigram index gave all of a run's 3,986 matches of a word and
    # each was read from the table to show 51 (24 ms); the newest epoch held 64 (1.6 ms).
    from r1web.traces import selectors

    monkeypatch.setattr(selectors, "EPOCH", 1000)
    stage = _searched_through_the_index(make_run(), monkeypatch, every=10, samples=4000,
                                        estimate=40)
    params = q(f"run={stage.run_id}&q=reconsider")
    with CaptureQueriesContext(connection) as read:
        page = selectors.samples_page(params)
    reads = [query["sql"] for query in read.captured_queries if "LIKE" in query["sql"]]
    newest = list(Sample.objects.filter(run=stage.run, completion="reconsider it")
                  .order_by("-id").values_list("id", flat=True)[:51])  # a page and one
    # The epochs that hold them (one or two, as the ids fall), each read on its own,
    # nothing older.
    epochs = newest[0] // 1000 - newest[-1] // 1000 + 1
    assert len(reads) == epochs <= 2 and all("/ 1000) = " in sql for sql in reads)
    total = selectors.count_samples(params, page)
    # 51 matches in the newest ids: about 400 in the run (the planner expected 40), and
    # no count that would read all of them through the index.
    assert not total.exact and 350 <= total.value <= 450


@TRIGRAM_INDEX
def test_a_rare_word_is_not_counted_when_reading_its_page_took_the_whole_budget(
        make_run, monkeypatch):
    # At 10M samples a rare word's page took 40 ms through the trigram index; its count,
    # which reads every match, was cancelled at 10 ms every time: 14 ms for nothing.
    from r1web.traces import selectors

    stage = _searched_through_the_index(make_run(), monkeypatch, every=10, samples=800,
                                        estimate=80)
    params = q(f"run={stage.run_id}&q=reconsider")

    monkeypatch.setattr(selectors, "COUNT_BUDGET_MS", 10_000)
    page = samples_page(params)
    assert selectors.count_samples(params, page) == Total(80)  # counted within budget

    monkeypatch.setattr(selectors, "COUNT_BUDGET_MS", 0.001)  # less than any read takes
    page = samples_page(params)
    with CaptureQueriesContext(connection) as counted:
        total = selectors.count_samples(params, page)
    assert total == Total(80, exact=False)  # the planner's estimate, said to be one
    assert not any("COUNT(" in query["sql"] for query in counted.captured_queries)
