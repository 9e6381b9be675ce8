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
    assert body.strip().startswith('<section id="results">')
    assert body.count('class="sample-row"') == 4
    assert "trace-filters" not in body


def test_the_promote_form_carries_the_current_filter_for_curators_only(client, bob, charlie, samples):
    client.force_login(bob)
    page = client.get(reverse("traces:list"), {"correct": "yes", "after": "99"}).content.decode()
    assert 'name="filter_query" value="correct=yes"' in page
    client.force_login(charlie)
    assert "filter_query" not in client.get(reverse("traces:list")).content.decode()


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
