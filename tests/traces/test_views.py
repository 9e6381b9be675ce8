from __future__ import annotations

import pytest
from django.urls import reverse

from r1web.traces.models import Flag, Sample

HTMX = {"HX-Request": "true"}
HOSTILE = '<script>window.pwned=1</script><img src=x onerror="window.pwned=1"><a href="javascript:alert(1)">x</a>'


@pytest.fixture
def samples(make_run, make_samples):
    stage = make_run()
    make_samples(stage, steps=2, groups=2, per_group=4)
    return stage


def test_the_browser_lists_samples_and_links_the_next_page(client, charlie, make_run, make_samples):
    make_samples(make_run(), steps=5, groups=3, per_group=4)  # 60 samples, 50 a page
    client.force_login(charlie)
    page = client.get(reverse("traces:list")).content.decode()
    assert page.count('class="sample-row"') == 50
    assert 'rel="next"' in page and "after=" in page


def test_a_filtered_htmx_request_gets_only_the_results(client, charlie, samples):
    client.force_login(charlie)
    response = client.get(reverse("traces:list"), {"correct": "no", "step_min": 2}, headers=HTMX)
    body = response.content.decode()
    assert body.strip().startswith('<section id="results"')
    assert body.count('class="sample-row"') == 4
    assert "trace-filters" not in body


def test_bulk_promotion_asks_for_confirmation_with_the_current_filter_for_curators_only(
    client, bob, charlie, samples
):
    confirm = reverse("curation:promote_confirm")
    client.force_login(bob)
    page = client.get(reverse("traces:list"), {"correct": "yes", "after": "99"}).content.decode()
    assert f'href="{confirm}?correct=yes"' in page  # a confirmation first, never one click
    assert f'action="{reverse("curation:promote")}"' not in page
    client.force_login(charlie)
    assert confirm not in client.get(reverse("traces:list")).content.decode()


def test_the_sample_page_shows_prompt_reasoning_and_answer_apart(client, charlie, samples):
    client.force_login(charlie)
    sample = Sample.objects.filter(index=0).first()
    page = client.get(sample.get_absolute_url()).content.decode()
    assert '<pre class="text" id="prompt">What is the largest' in page
    assert '<mark class="reflection">wait</mark>' in page
    assert '<pre class="text" id="answer">7</pre>' in page


def test_long_reasoning_starts_collapsed(client, charlie, make_run, make_samples):
    make_samples(make_run(), steps=1, groups=1, per_group=1, think="x" * 5000)
    client.force_login(charlie)
    page = client.get(Sample.objects.get().get_absolute_url()).content.decode()
    assert '<details id="think" >' in page


def test_hostile_completions_are_escaped(client, charlie, make_run, make_samples):
    make_samples(make_run(), steps=1, groups=1, per_group=1,
                 completion=HOSTILE, think=HOSTILE + " wait", answer=HOSTILE, prompt=HOSTILE)
    client.force_login(charlie)
    sample = Sample.objects.get()
    for url in (sample.get_absolute_url(), reverse("traces:list"),
                reverse("traces:group", args=[sample.stage_id, 1, 0])):
        page = client.get(url).content.decode()
        assert "<script>window.pwned" not in page, url
        assert "<img src=x" not in page, url
        assert 'href="javascript:' not in page, url


def test_every_column_of_the_trace_table_escapes_what_people_and_models_wrote(
    client, charlie, make_run, make_samples
):
    from r1web.traces.columns import COLUMNS
    from r1web.traces.models import Flag

    stage = make_run()
    stage.name = HOSTILE[:100]
    stage.save(update_fields=["name"])
    make_samples(stage, steps=1, groups=1, per_group=1, completion=HOSTILE, prompt=HOSTILE,
                 reflection_phrases=[HOSTILE], verdict=HOSTILE[:40])
    sample = Sample.objects.get()
    Flag.objects.create(sample=sample, run=sample.run, step=1, label="custom",
                        custom_label=HOSTILE[:100], created_by=charlie)
    client.force_login(charlie)
    page = client.get(reverse("traces:list"), {"cols": list(COLUMNS)}).content.decode()
    assert page.count('class="sample-row"') == 1
    assert "<script>" not in page and "<img src=x" not in page
    assert 'href="javascript:' not in page
    # Shown as text, in the stage's, the reflection's and the flag's cells.
    assert page.count("&lt;script&gt;window.pwned=1&lt;/script&gt;") >= 5


def test_a_curator_flags_with_htmx_and_gets_the_flags_fragment(client, bob, samples):
    client.force_login(bob)
    sample = Sample.objects.first()
    response = client.post(reverse("traces:flag", args=[sample.pk]), {"label": "aha", "note": "sudden re-check"},
                           headers=HTMX)
    body = response.content.decode()
    assert body.strip().startswith('<section id="flags">')
    assert "aha moment" in body and "sudden re-check" in body
    flag = Flag.objects.get()
    response = client.post(reverse("traces:unflag", args=[flag.pk]), headers=HTMX)
    assert "No flags yet" in response.content.decode()


def test_a_refused_flag_explains_itself_in_the_fragment(client, bob, samples):
    client.force_login(bob)
    sample = Sample.objects.first()
    response = client.post(reverse("traces:flag", args=[sample.pk]), {"label": "custom"}, headers=HTMX)
    assert response.status_code == 400
    assert "needs a label" in response.content.decode()


def test_flagged_samples_are_a_filter_in_the_browser(client, bob, samples):
    client.force_login(bob)
    sample = Sample.objects.last()
    client.post(reverse("traces:flag", args=[sample.pk]), {"label": "reflection"})
    page = client.get(reverse("traces:list"), {"flagged": "reflection"}).content.decode()
    assert page.count('class="sample-row"') == 1


def test_the_group_view_shows_the_g_completions_side_by_side(client, charlie, samples):
    client.force_login(charlie)
    page = client.get(reverse("traces:group", args=[samples.pk, 2, 1])).content.decode()
    assert page.count('class="completion"') == 4
    assert "adv -1.000" in page and "adv 1.000" in page


def test_the_evolution_view_follows_one_prompt_across_steps(client, charlie, samples):
    client.force_login(charlie)
    url = reverse("traces:evolution", args=[samples.run_id])
    page = client.get(url, {"key": "synthetic:1"}).content.decode()
    assert page.count("<tr><td>GRPO</td>") == 8  # 2 steps x 4 completions


def test_sample_navigation_keeps_the_filter(client, charlie, samples):
    client.force_login(charlie)
    first = Sample.objects.filter(correct=True).order_by("-id").first()
    page = client.get(first.get_absolute_url(), {"correct": "yes"}).content.decode()
    following = Sample.objects.filter(correct=True, id__lt=first.pk).order_by("-id").first()
    assert f'rel="next" href="/traces/samples/{following.pk}/?correct=yes"' in page


# --- the trace table (issue 9, point 4) ------------------------------------------------


@pytest.fixture
def evaluated(make_run, make_samples):
    """A run whose GRPO stage (2 steps) is followed by an evaluation (one step)."""
    from r1web.runs.models import Stage, StageKind

    grpo = make_run(name="zero")
    make_samples(grpo, steps=2, groups=1, per_group=2)
    evaluation = Stage.objects.create(run=grpo.run, position=1, name="Eval", kind=StageKind.EVAL,
                                      status="succeeded")
    make_samples(evaluation, steps=1, groups=1, per_group=2, advantage=0.0)
    return grpo, evaluation


def _rows(page: str) -> int:
    return page.count('class="sample-row"')


def test_the_table_says_how_many_samples_match_and_that_the_count_is_exact(
    client, charlie, make_run, make_samples
):
    make_samples(make_run(), steps=5, groups=3, per_group=4)  # 60: more than one page
    client.force_login(charlie)
    page = client.get(reverse("traces:list"), {"run": "", "correct": "yes"}).content.decode()
    assert "<strong>30</strong> matching samples <span class=\"muted\">(exact count)" in page
    page = client.get(reverse("traces:list"), {"run": ""}).content.decode()
    assert _rows(page) == 50 and "<strong>60</strong> matching samples" in page


def test_a_count_too_costly_to_make_exactly_says_it_is_not_exact(
    client, charlie, make_run, make_samples, monkeypatch
):
    from django.db import connection

    make_samples(make_run(), steps=5, groups=3, per_group=4)
    monkeypatch.setattr("r1web.traces.selectors.EXACT_UP_TO", 10)
    client.force_login(charlie)
    page = client.get(reverse("traces:list"), {"run": ""}).content.decode()
    assert 'data-exact="false"' in page
    if connection.vendor == "postgresql":  # the planner's estimate
        assert "about <strong>" in page and "(estimated by the database" in page
    else:
        assert "more than <strong>10</strong> matching samples" in page


def test_the_table_shows_the_prompt_with_search_hits_marked_and_escaped(
    client, charlie, make_run, make_samples
):
    make_samples(make_run(), steps=1, groups=1, per_group=1,
                 prompt="Is <b>7</b> larger than 3? Compare.", completion="<think>compare</think>")
    client.force_login(charlie)
    page = client.get(reverse("traces:list"), {"q": "COMPARE"}).content.decode()
    assert ('<td class="snippet prompt">Is &lt;b&gt;7&lt;/b&gt; larger than 3? '
            '<mark class="hit">Compare</mark>.</td>') in page
    assert '&lt;think&gt;<mark class="hit">compare</mark>&lt;/think&gt;' in page


def test_the_columns_are_chosen_in_the_url(client, charlie, samples):
    client.force_login(charlie)
    page = client.get(reverse("traces:list"), {"cols": ["reward", "prompt"]}).content.decode()
    headers = page.split("<thead>")[1].split("</thead>")[0]
    assert ">Prompt</th>" in headers and ">Reward</th>" in headers
    assert ">Completion</th>" not in headers and ">Advantage</th>" not in headers
    assert 'value="prompt" checked' in page and 'value="completion">' in page
    assert "cols=reward&amp;cols=prompt" in page  # kept by the links to samples


def test_group_and_index_read_as_words_not_as_a_decimal(client, charlie, samples):
    client.force_login(charlie)
    page = client.get(reverse("traces:list"), {"run": samples.run_id, "step_min": 2,
                                               "correct": "no"}).content.decode()
    assert "group 1 · #3</a>" in page
    assert ">1.3<" not in page


def test_an_evaluation_sample_has_no_advantage_rather_than_zero(client, charlie, evaluated):
    grpo, evaluation = evaluated
    client.force_login(charlie)
    page = client.get(reverse("traces:list"), {"stage": evaluation.pk}).content.decode()
    assert page.count('<td class="advantage"><span title="only GRPO samples have an advantage">—') == 2
    assert "0.00" not in page
    page = client.get(reverse("traces:list"), {"stage": grpo.pk}).content.decode()
    assert '<td class="advantage">1.00</td>' in page and '<td class="advantage">-1.00</td>' in page
    sample = evaluation.samples.first()
    assert "advantage <span" in client.get(sample.get_absolute_url()).content.decode()


def test_the_default_view_is_the_latest_runs_training_samples(
    client, charlie, make_run, make_samples, evaluated
):
    older = make_run(name="older run")
    make_samples(older, steps=1, groups=1, per_group=3)
    older.run.created_at = older.run.created_at.replace(year=2000)
    older.run.save()
    grpo, _ = evaluated
    client.force_login(charlie)
    page = client.get(reverse("traces:list")).content.decode()
    assert _rows(page) == 4  # zero's 4 GRPO samples: not its evaluation, not the older run
    assert f'<option value="{grpo.run_id}" selected>' in page
    assert '<option value="training" selected>' in page
    # Choosing "all runs" in the form is not overridden by the default.
    assert _rows(client.get(reverse("traces:list"), {"run": ""}).content.decode()) == 9


def test_a_sample_asked_for_by_htmx_comes_as_a_panel_fragment(client, charlie, samples):
    client.force_login(charlie)
    sample = Sample.objects.first()
    body = client.get(sample.get_absolute_url(), {"correct": "yes"}, headers=HTMX).content.decode()
    assert body.strip().startswith('<article class="sample-view"')
    assert "<html" not in body and "<h2>Sample" in body
    assert f'href="{sample.get_absolute_url()}?correct=yes">Open as a page' in body
    # The same URL is still the sample's own page.
    page = client.get(sample.get_absolute_url()).content.decode()
    assert "<html" in page and "<h1>Sample" in page
