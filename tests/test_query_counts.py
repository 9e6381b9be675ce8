"""A page costs the same number of queries however many rows it shows: one query per
row is what makes a page slow on a real database (bench/demo_pages.py times them all).

The runs list (3 runs or 25) and the run page (however many samples) are checked in
tests/runs/test_views.py, the audit log's bound in tests/audit/test_views.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from r1web.audit.services import audit_record
from r1web.datasets.models import DatasetVersion
from r1web.datasets.services import dataset_version_create
from r1web.runs.models import Stage, StageInput, StageKind
from r1web.traces.models import Flag, Sample


def queries(client, url: str, params: dict | None = None) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(url, params or {}).status_code == 200
    return len(captured)


def same_cost(client, url: str, more: Callable[[], None], params: dict | None = None) -> None:
    few = queries(client, url, params)
    more()
    assert queries(client, url, params) == few


def _version(name: str, examples: int = 2, **fields) -> DatasetVersion:
    records = [
        {"key": f"{name}:{n}", "prompt": f"{name} {n}?", "answer": str(n)} for n in range(examples)
    ]
    return dataset_version_create(name=name, records=records, source="test", **fields)


def test_the_trace_table_costs_the_same_for_5_samples_or_50(viewer, bob, make_run, make_samples):
    stage = make_run()
    make_samples(stage, steps=1, groups=1, per_group=5)

    def more():
        make_samples(stage, steps=1, groups=9, per_group=5, step=2)  # 50 in all: one page
        for sample in Sample.objects.filter(stage=stage)[:20]:
            Flag.objects.create(
                sample=sample,
                run=stage.run,
                step=sample.step,
                label="aha",
                created_by=bob,
            )

    url = reverse("traces:list")
    # Every column, flags and group links included.
    same_cost(
        viewer,
        url,
        more,
        {
            "run": stage.run_id,
            "cols": ["run", "group", "flags", "verdict", "advantage"],
        },
    )
    assert viewer.get(url, {"run": stage.run_id}).content.decode().count('class="sample-row"') == 50


def test_the_run_page_costs_the_same_for_3_stages_or_8(viewer, make_run):
    grpo = make_run(status="succeeded")
    run = grpo.run

    def add_stages(first: int, last: int) -> None:
        for position in range(first, last):
            stage = Stage.objects.create(
                run=run,
                position=position,
                name=f"evaluate {position}",
                kind=StageKind.EVAL,
                key=f"eval-{position}",
                status="succeeded",
                input_from=grpo,
                params={"label": "after"},
                result={"pass@1": 0.5, "k": 4},
            )
            stage.needs.add(grpo)
            StageInput.objects.create(
                stage=stage,
                version=_version(f"in-{position}"),
                role=StageInput.Role.EVAL,
            )
            _version(f"out-{position}", produced_by=stage)

    add_stages(1, 3)
    same_cost(viewer, run.get_absolute_url(), lambda: add_stages(3, 8))
    page = viewer.get(run.get_absolute_url()).content.decode()
    assert page.count('class="lineage-item"') == 8 and "out-7 v1" in page


def test_the_datasets_list_costs_the_same_for_1_dataset_or_6(viewer, db):
    _version("first")

    def more():
        for number in range(5):
            _version(f"more-{number}")
            _version(f"more-{number}", examples=3)  # a second version: the newest is shown

    same_cost(viewer, reverse("datasets:list"), more)
    page = viewer.get(reverse("datasets:list")).content.decode()
    assert 'href="/datasets/d/more-4/v2/">v2</a> · 3 examples' in page


def test_a_datasets_page_costs_the_same_for_1_version_or_6(viewer, db):
    _version("growing", examples=1)
    url = reverse("datasets:detail", args=["growing"])
    same_cost(viewer, url, lambda: [_version("growing", examples=n) for n in range(2, 7)])


def test_the_audit_log_costs_the_same_for_2_versions_or_12(operator, alice, db):
    def freeze(count: int) -> None:
        for _ in range(count):
            version = _version(f"frozen-{DatasetVersion.objects.count()}")
            audit_record(actor=alice, action="curation.freeze", target=version)

    freeze(2)
    same_cost(operator, reverse("audit:list"), lambda: freeze(10))


def test_the_evolution_view_costs_the_same_for_3_probe_rounds_or_20(viewer, make_run, make_samples):
    stage = make_run(status="succeeded")

    def rounds(steps: range) -> None:
        for step in steps:
            make_samples(
                stage,
                steps=1,
                groups=1,
                per_group=1,
                step=step,
                probe=True,
                example_key="probe:0",
            )

    rounds(range(0, 30, 10))
    url = reverse("traces:evolution", args=[stage.run_id])
    same_cost(viewer, url, lambda: rounds(range(30, 200, 10)), {"key": "probe:0"})


@pytest.mark.parametrize("decided", [2, 10])
def test_the_curation_queue_costs_a_fixed_number_of_queries(
    curator, bob, make_run, make_samples, decided, django_assert_max_num_queries
):
    from r1web.curation import services

    stage = make_run()
    make_samples(stage, steps=1, groups=3, per_group=4)
    dataset = services.curation_dataset_get_or_create(name="cold-start", user=bob)
    services.candidates_promote(
        samples=Sample.objects.filter(stage=stage), dataset=dataset, user=bob
    )
    for _ in range(decided):
        item = services.curation_claim_next(dataset=dataset, user=bob)
        services.curation_reject(item=item, user=bob, reason="no")
    services.curation_claim_next(dataset=dataset, user=bob)
    with django_assert_max_num_queries(10):  # 9 today, with 2 decisions or 10
        assert curator.get(reverse("curation:queue", args=["cold-start"])).status_code == 200
