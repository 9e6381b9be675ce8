"""The runs list, the run page and the comparison in real Chromium: what a researcher
used to W&B reads at a glance, and that axe-core finds nothing serious on them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from r1web.runs import rollups
from r1web.runs.models import MetricPoint, Run, Stage, StageKind
from r1web.runs.services import metrics_record
from r1web.traces.models import Flag, Sample
from tests.browser.conftest import assert_no_serious_axe_violations

pytestmark = pytest.mark.browser


@pytest.fixture(autouse=True)
def patient_navigation(page):
    """The run page loads plotly.js (3.5 MB) and draws six charts before "load": on a
    busy two-core machine that alone can take most of the default ten seconds."""
    page.set_default_navigation_timeout(30_000)


def _run(name: str, *, minutes_ago: int, by=None, status: str = "succeeded",
         recipe: str = "r1-zero", before: float | None = None, after: float | None = None) -> Run:
    now = timezone.now()
    run = Run.objects.create(
        name=name, recipe=recipe, status=status, created_by=by,
        created_at=now - timedelta(minutes=minutes_ago),
        started_at=now - timedelta(minutes=minutes_ago),
        finished_at=now - timedelta(minutes=minutes_ago - 3) if status == "succeeded" else None,
    )
    Stage.objects.create(run=run, position=1, name="GRPO", kind=StageKind.GRPO, status=status)
    for position, label, score in ((0, "before", before), (2, "after", after)):
        if score is not None:
            Stage.objects.create(run=run, position=position, name=f"evaluate {label}",
                                 kind=StageKind.EVAL, status="succeeded",
                                 params={"label": label}, result={"pass@1": score, "k": 8})
    return run


def _row_names(page) -> list[str]:
    return page.locator("#run-table tbody tr td:first-child a").all_inner_texts()


# --- 1. the runs list -----------------------------------------------------------------

def test_the_runs_list_reads_like_a_summary_newest_first(page, sign_in, alice, charlie):
    _run("older", minutes_ago=60, by=alice, before=0.194, after=0.448)
    _run("newer", minutes_ago=10, by=alice, status="failed", before=0.3)
    sign_in(charlie).goto("/")
    assert _row_names(page) == ["newer", "older"]
    older = page.locator("#run-table tbody tr", has_text="older")
    expect(older).to_contain_text("0.194 → 0.448 +0.254")
    expect(older.locator(".delta.up")).to_have_text("+0.254")
    expect(older).to_contain_text("3m 00s")  # duration
    expect(older).to_contain_text("alice")
    expect(older.locator(".badge")).to_have_text("succeeded")
    assert_no_serious_axe_violations(page)


def test_sorting_filtering_and_paging_swap_the_table_and_keep_a_bookmarkable_url(
    page, sign_in, alice, bob, charlie
):
    for i in range(27):
        _run(f"zero {i:02d}", minutes_ago=100 - i, by=alice)
    _run("bob's r1", minutes_ago=5, by=bob, recipe="r1", status="failed")
    sign_in(charlie).goto("/")
    page.evaluate("window.__sameDocument = true")  # lost if a link reloads the page
    expect(page.locator("#run-count")).to_contain_text("28 runs")

    page.get_by_role("link", name="Status").click()
    expect(page).to_have_url(re.compile(r"sort=status"))
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Status")
    assert _row_names(page)[0] == "bob's r1"  # failed < succeeded

    page.get_by_role("link", name="Next →").click()
    expect(page).to_have_url(re.compile(r"sort=status.*page=2|page=2.*sort=status"))
    expect(page.locator("#run-table tbody tr")).to_have_count(3)

    page.select_option("#id_by", "alice")
    expect(page).to_have_url(re.compile(r"by=alice"))
    expect(page.locator("#run-count")).to_contain_text("27 runs match these filters")
    assert page.evaluate("window.__sameDocument") is True  # htmx swapped only the table
    assert "page=" not in page.url  # a new filter starts on page 1

    bookmarked = page.url
    page.goto(bookmarked)  # the filtered, sorted view is a URL to share
    expect(page.locator("#id_by")).to_have_value("alice")
    expect(page.locator("th[aria-sort=ascending]")).to_contain_text("Status")
    expect(page.locator("#run-table tbody tr")).to_have_count(25)

    page.select_option("#id_recipe", "r1")
    expect(page.locator("#run-table tbody")).to_contain_text("No run matches these filters")


# --- 2. the run page --------------------------------------------------------------------

@pytest.fixture
def trained(make_run, make_samples, bob):
    stage = make_run(status="succeeded", total_steps=60, step=60)
    Stage.objects.create(run=stage.run, position=1, name="evaluate before", kind=StageKind.EVAL,
                         status="succeeded", params={"label": "before"},
                         result={"pass@1": 0.2, "maj@k": 0.25, "k": 8})
    Stage.objects.create(run=stage.run, position=2, name="evaluate after", kind=StageKind.EVAL,
                         status="succeeded", params={"label": "after"},
                         result={"pass@1": 0.45, "maj@k": 0.5, "k": 8})
    make_samples(stage, steps=4, groups=1, per_group=4)
    MetricPoint.objects.bulk_create(
        MetricPoint(stage=stage, step=step, key=key, value=value)
        for step in range(1, 61)
        for key, value in (("reward", step / 60 + (0.2 if step % 2 else 0.0)),
                           ("entropy", 1.0 - step / 120),
                           ("loss", 50.0 if step == 33 else 1.0))  # one spike
    )
    rollups.rebuild(stage_pk=stage.pk)  # a bulk load keeps the chart summaries by hand
    samples = list(Sample.objects.filter(stage=stage).order_by("pk")[:3])
    for sample, step in zip(samples, (1, 1, 2), strict=True):
        Flag.objects.create(sample=sample, run=stage.run, step=step, label="aha", created_by=bob)
    return stage


def _figure(page, slug: str) -> dict:
    return page.evaluate(
        """(slug) => {
          const el = document.getElementById("chart-" + slug);
          return {data: el.data.map(t => ({name: t.name, color: t.line && t.line.color,
                                          opacity: t.opacity, showlegend: t.showlegend})),
                  yrange: el._fullLayout.yaxis.range, title: el._fullLayout.title.text};
        }""",
        slug,
    )


def test_the_run_page_opens_with_a_summary_and_ends_with_the_lineage(
    page, sign_in, charlie, trained
):
    sign_in(charlie).goto(f"/runs/{trained.run_id}/")
    pass_at_1 = page.locator("#eval-metric-pass\\@1")
    expect(pass_at_1).to_contain_text("0.200")
    expect(pass_at_1.locator(".delta.up")).to_have_text("+0.250")
    expect(page.locator("#eval-metric-k")).to_contain_text("8")
    expect(page.locator("#eval-metric-k")).not_to_contain_text("8.000")
    expect(page.locator("#story-reward .delta.up")).to_be_visible()  # reward rose
    expect(page.locator("#stages")).to_contain_text("k: 8")
    expect(page.locator("#stages")).not_to_contain_text("k: 8.000")
    tops = [page.locator(sel).bounding_box()["y"]
            for sel in ("#summary", "#charts", "#lineage")]
    assert tops == sorted(tops)
    expect(page.locator("#charts[data-drawn=true]")).to_have_count(1)
    assert_no_serious_axe_violations(page)


def test_charts_are_smoothed_with_the_raw_line_faint_behind_and_the_slider_turns_it_off(
    page, sign_in, charlie, trained
):
    sign_in(charlie).goto(f"/runs/{trained.run_id}/")
    expect(page.locator("#charts[data-drawn=true]")).to_have_count(1)
    raw, smoothed = _figure(page, "reward")["data"]
    assert raw["opacity"] < 0.5 and raw["showlegend"] is False
    assert raw["color"] == smoothed["color"]
    page.locator("#smoothing").fill("0")  # the range input: fires input and change
    expect(page.locator("#smoothing-value")).to_have_text("0.00")
    expect(page).to_have_url(re.compile(r"smoothing=0"))
    expect(page.locator("#charts[data-drawn=true]")).to_have_count(1)
    expect(page.locator("#chart-reward .scatterlayer .trace")).to_have_count(1)
    page.reload()  # the setting is kept in the URL
    expect(page.locator("#smoothing")).to_have_value("0")
    expect(page.locator("#chart-reward .scatterlayer .trace")).to_have_count(1)


def test_each_chart_has_a_legend_a_true_title_whole_ticks_for_counts_and_unclipped_spikes(
    page, sign_in, charlie, trained
):
    sign_in(charlie).goto(f"/runs/{trained.run_id}/?smoothing=0")
    expect(page.locator("#charts[data-drawn=true]")).to_have_count(1)
    expect(page.locator("#chart-loss .legend")).to_contain_text("loss")  # one line, a legend
    # beta = 0: TRL logs entropy and no KL, and the title says so
    expect(page.locator("#chart-kl .gtitle")).to_have_text("Entropy")
    flags_ticks = page.locator("#chart-reflection .y2tick text").all_text_contents()
    assert flags_ticks and all(re.fullmatch(r"\d+", tick) for tick in flags_ticks), flags_ticks
    assert _figure(page, "loss")["yrange"][1] >= 50  # the spike is inside the axis
    page.hover("#chart-loss .nsewdrag", position={"x": 150, "y": 100})
    expect(page.locator("#chart-loss .hoverlayer")).to_contain_text(re.compile(r"\d"))


def test_a_queued_run_says_no_data_yet_instead_of_empty_grids(page, sign_in, charlie, make_run):
    stage = make_run(status="queued")
    sign_in(charlie).goto(f"/runs/{stage.run_id}/")
    expect(page.locator("#charts[data-drawn=true]")).to_have_count(1)
    charts = page.locator(".chart")
    for index in range(charts.count()):
        expect(charts.nth(index)).to_contain_text("No data yet")
    expect(page.locator(".chart .gridlayer path")).to_have_count(0)


def test_in_a_comparison_each_run_has_one_colour_in_every_chart(page, sign_in, charlie, make_run):
    stages = [make_run(name=name, status="succeeded") for name in ("first", "second")]
    for stage, shift in zip(stages, (0.0, 0.5), strict=True):
        for step in (1, 2, 3):
            metrics_record(stage_pk=stage.pk, step=step, values={
                "reward": step + shift, "entropy": 1 - shift, "loss": 2 - shift})
    ids = ",".join(str(stage.run_id) for stage in stages)
    sign_in(charlie).goto(f"/runs/compare/?runs={ids}")
    expect(page.locator("#charts[data-drawn=true]")).to_have_count(1)
    colours: dict[str, set[str]] = {}
    for slug in ("reward", "kl", "loss"):
        for trace in _figure(page, slug)["data"]:
            colours.setdefault(trace["name"].split(":")[0], set()).add(trace["color"])
    assert len(colours) == 2 and all(len(found) == 1 for found in colours.values()), colours
    assert len(set.union(*colours.values())) == 2


# --- 7. one light stylesheet, served from here -------------------------------------------

def test_every_page_gets_the_local_stylesheet(page, sign_in, charlie, trained, live_server):
    sign_in(charlie)
    for url in ("/", f"/runs/{trained.run_id}/", "/runs/compare/", "/traces/", "/login/"):
        page.goto(url)
        sheets = page.evaluate("[...document.styleSheets].map(s => s.href).filter(Boolean)")
        assert sheets and all(href.startswith(live_server.url) for href in sheets), sheets
        # One stylesheet for every page, not one per feature.
        assert [href.rsplit("/", 1)[-1] for href in sheets] == ["r1web.css"], (url, sheets)
        font = page.evaluate("getComputedStyle(document.body).fontFamily")
        assert "system-ui" in font, (url, font)
    page.goto("/")
    header = page.evaluate("getComputedStyle(document.querySelector('thead th')).backgroundColor")
    assert header == "rgb(246, 248, 250)"  # the theme's surface colour, not the browser's
