"""Rejection sampling's verdicts in the trace browser: a filter, a column, the judge."""

from __future__ import annotations

import pytest
from django.http import QueryDict
from django.urls import reverse

from r1domain.base import SampleRecord
from r1web.traces.models import Sample
from r1web.traces.selectors import filter_samples
from r1web.traces.services import samples_record

HOSTILE = '<script>window.pwned=1</script>'
VERDICTS = ["kept", "incorrect", "incorrect", "mixed_language", "over_quota", ""]


def _record(index: int, verdict: str, judge: dict | None = None) -> SampleRecord:
    return SampleRecord(
        step=0, group=0, index=index, prompt="Find the largest of 3 9", completion="<answer>9",
        think="", answer="9", reference="9", rewards={"accuracy": 1.0}, reward=1.0,
        advantage=0.0, length_tokens=4, correct=verdict != "incorrect", format_ok=True,
        verdict=verdict, judge=judge or {},
    )


@pytest.fixture
def stage(make_run):
    stage = make_run(kind="rejection_sampling", name="rejection sampling")
    samples_record(stage=stage, records=[_record(i, v) for i, v in enumerate(VERDICTS)])
    return stage


def _verdicts(query: str) -> list[str]:
    return sorted(filter_samples(QueryDict(query)).values_list("verdict", flat=True))


def test_the_verdict_filter_returns_only_samples_with_that_verdict(stage):
    assert _verdicts(f"stage={stage.pk}&verdict=incorrect") == ["incorrect", "incorrect"]
    assert _verdicts(f"stage={stage.pk}&verdict=kept") == ["kept"]


def test_rejected_means_every_reason_but_not_kept_nor_unjudged_samples(stage):
    assert _verdicts(f"stage={stage.pk}&verdict=rejected") == [
        "incorrect", "incorrect", "mixed_language", "over_quota"]


def test_an_unknown_verdict_is_ignored_rather_than_matching_nothing(stage):
    assert len(_verdicts(f"stage={stage.pk}&verdict=bogus")) == len(VERDICTS)


def test_the_browser_shows_the_verdict_filter_and_column(client, charlie, stage):
    client.force_login(charlie)
    page = client.get(reverse("traces:list"), {"stage": stage.pk, "run": stage.run_id,
                                               "verdict": "incorrect"}).content.decode()
    assert page.count('class="sample-row"') == 2
    assert '<option value="incorrect" selected>' in page
    assert '<span class="verdict verdict-incorrect">incorrect</span>' in page
    assert "verdict-kept" not in page


def test_the_sample_page_shows_the_judges_prompt_and_raw_verdict_escaped(client, charlie, stage):
    judge = {"prompt": f"Question: {HOSTILE}\nVerdict:", "raw": f" correct {HOSTILE}",
             "verdict": "correct", "model": "/models/judge"}
    samples_record(stage=stage, records=[_record(9, "kept", judge)])
    sample = Sample.objects.get(stage=stage, index=9)
    client.force_login(charlie)
    page = client.get(sample.get_absolute_url()).content.decode()

    assert HOSTILE not in page
    assert "Question: &lt;script&gt;window.pwned=1&lt;/script&gt;" in page
    assert " correct &lt;script&gt;" in page
    assert "/models/judge" in page
    assert f"stage={stage.pk}&amp;verdict=kept" in page


def test_a_sample_no_judge_saw_has_no_judge_section(client, charlie, stage):
    client.force_login(charlie)
    sample = Sample.objects.filter(stage=stage).first()
    assert 'id="judge"' not in client.get(sample.get_absolute_url()).content.decode()
