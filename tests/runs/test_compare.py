from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from r1web.runs import compare
from r1web.runs.models import Recipe, Run, Stage, StageKind
from r1web.runs.services import metrics_record
from tests.runs.factories import eval_result

URL = reverse("runs:compare")


def make_evaluated_run(name: str, scores: dict[str, dict]) -> Run:
    """A finished R1-Zero run: a GRPO stage between evaluations labelled as ``scores``."""
    run = Run.objects.create(name=name, recipe=Recipe.R1_ZERO, status="succeeded")
    grpo = Stage.objects.create(run=run, position=0, key="grpo", name="GRPO",
                                kind=StageKind.GRPO, status="succeeded")
    metrics_record(stage_pk=grpo.pk, step=1, values={"kl": 0.5})
    for position, (label, result) in enumerate(scores.items(), start=1):
        Stage.objects.create(run=run, position=position, key=f"eval-{label}",
                             name=f"evaluate {label}", kind=StageKind.EVAL, status="succeeded",
                             params={"label": label, "k": 4}, result=result)
    return run


@pytest.fixture
def two_runs(db):
    first = make_evaluated_run("lr 1e-6", {"before": eval_result(0.25, 0.5),
                                           "after": eval_result(0.5, 0.75, length=60.0)})
    second = make_evaluated_run("lr 3e-6", {"before": eval_result(0.25, 0.5),
                                            "after": eval_result(0.625, 0.875, length=80.0)})
    return first, second


def cells(page: str, metric: str) -> str:
    start = page.index(f'<tr id="metric-{metric}">')
    return page[start:page.index("</tr>", start)]


def test_the_table_shows_every_evaluation_of_both_runs_side_by_side(viewer, two_runs):
    first, second = two_runs
    page = viewer.get(URL, {"runs": f"{first.pk},{second.pk}"}).content.decode()
    headings = [f"#{first.pk} before", f"#{first.pk} after", f"#{second.pk} before",
                f"#{second.pk} after"]
    positions = [page.index(heading + "</a>") for heading in headings]
    assert positions == sorted(positions)  # run by run, in the order named
    row = cells(page, "pass@1")
    assert row.count("<td>") == 4 and "0.625" in row
    for metric in compare.EVAL_METRICS:
        assert f'<tr id="metric-{metric}">' in page


def test_each_column_shows_its_delta_against_the_first_column(viewer, two_runs):
    first, second = two_runs
    page = viewer.get(URL, {"runs": f"{first.pk},{second.pk}"}).content.decode()
    assert "0.625 <span" in cells(page, "pass@1") and "(+0.375)" in cells(page, "pass@1")
    assert "(+40.0)" in cells(page, "mean_length")
    assert "(" not in cells(page, "k").split("</th>", 1)[1]  # k is a setting: no delta


def test_deltas_can_be_taken_against_each_runs_first_evaluation(viewer, two_runs):
    first, second = two_runs
    query = {"runs": f"{first.pk},{second.pk}", "baseline": "run"}
    row = cells(viewer.get(URL, query).content.decode(), "pass@1")
    # the second run's "after" against its own "before" (0.25), not the first column
    assert "(+0.375)" in row and "(+0.250)" in row


def test_the_same_table_downloads_as_csv(viewer, two_runs):
    first, second = two_runs
    response = viewer.get(URL, {"runs": f"{first.pk},{second.pk}", "format": "csv"})
    assert response["Content-Type"].startswith("text/csv")
    assert f"compare-runs-{first.pk}-{second.pk}.csv" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][:3] == ["metric", f"#{first.pk} before (lr 1e-6)", f"#{first.pk} before delta"]
    table = {row[0]: row[1:] for row in rows[1:]}
    assert list(table) == list(compare.EVAL_METRICS)
    assert table["pass@1"] == ["0.25", "", "0.5", "0.25", "0.25", "0", "0.625", "0.375"]
    assert table["k"][-2:] == ["4", ""]


def test_picking_stages_narrows_a_run_to_those_evaluations(viewer, two_runs):
    first, second = two_runs
    after = Stage.objects.get(run=second, params__label="after")
    query = {"runs": f"{first.pk},{second.pk}", "stages": str(after.pk)}
    page = viewer.get(URL, query).content.decode()
    assert f"#{second.pk} after</a>" in page and f"#{second.pk} before</a>" not in page
    assert f"#{first.pk} before</a>" in page  # a run with no stage picked shows all


def test_stages_alone_name_the_runs(viewer, two_runs):
    first, second = two_runs
    after = Stage.objects.get(run=second, params__label="after")
    page = viewer.get(URL, {"stages": str(after.pk)}).content.decode()
    assert f"#{second.pk} after</a>" in page and f"#{first.pk} before</a>" not in page


def test_the_form_ticks_the_compared_runs_and_offers_recent_ones(viewer, two_runs):
    first, second = two_runs
    page = viewer.get(URL, {"runs": str(first.pk)}).content.decode()
    assert f'name="runs" value="{first.pk}" checked' in page
    assert f'name="runs" value="{second.pk}">' in page  # offered, not ticked
    assert 'method="get"' in page  # the URL of a comparison can be shared


def test_the_training_curves_of_the_runs_are_overlaid(viewer, two_runs):
    first, second = two_runs
    page = viewer.get(URL, {"runs": f"{first.pk},{second.pk}"}).content.decode()
    assert '<script id="run-figures" type="application/json">' in page
    assert f"#{first.pk} lr 1e-6: KL" in page and f"#{second.pk} lr 3e-6: KL" in page
    assert f'data-compare="{second.pk}"' in page


def test_unknown_ids_are_dropped_and_an_empty_pick_explains_itself(viewer, db):
    page = viewer.get(URL, {"runs": "999,abc"}).content.decode()
    assert "Tick two or more runs" in page


def test_a_run_name_is_escaped_on_the_comparison_page(viewer, db):
    run = make_evaluated_run("<b>bold</b>", {"before": eval_result(0.1, 0.2)})
    page = viewer.get(URL, {"runs": str(run.pk)}).content.decode()
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page


def test_the_comparison_needs_a_signed_in_user(client, two_runs):
    response = client.get(URL, {"runs": str(two_runs[0].pk)})
    assert response.status_code == 302 and "login" in response["Location"]


def test_the_run_list_and_the_run_page_link_to_the_comparison(viewer, two_runs):
    first, _ = two_runs
    assert URL in viewer.get(reverse("runs:list")).content.decode()
    page = viewer.get(reverse("runs:detail", args=[first.pk])).content.decode()
    assert f"{URL}?runs={first.pk}" in page and "Compare with…" in page


# --- the pure table -------------------------------------------------------------------

def column(run_id: int, label: str, **result) -> compare.Column:
    return compare.Column(run_id, f"run {run_id}", run_id * 10, label, "/", result)


def test_a_missing_score_shows_a_dash_and_has_no_delta():
    rows = compare.comparison_rows([column(1, "before", **{"pass@1": 0.5}), column(2, "after")])
    pass1 = rows[0].cells
    assert pass1[1].text == "–" and pass1[1].delta is None


def test_a_drop_is_shown_with_a_minus_sign():
    rows = compare.comparison_rows([column(1, "a", **{"pass@1": 0.5}),
                                    column(2, "b", **{"pass@1": 0.25})])
    assert rows[0].cells[1].delta_text == "−0.250"
