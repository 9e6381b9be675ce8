"""Provenance from an imported file is data: pages show it escaped and link only the ids
that are valid ids, so a hostile file can never break a dataset's pages."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from r1web.datasets.models import Example
from r1web.datasets.services import dataset_import_file

HOSTILE = {
    "run_id": "abc",
    "stage_id": [1, {"x": 2}],
    "sample_id": 10**30,
    "curation_item_id": -4,
    "run": "<script>alert(1)</script>",
    "nested": {"stage_id": "x"},
}


def _import(tmp_path, provenances: list, name: str = "hostile"):
    path = tmp_path / "export.jsonl"
    lines = [
        json.dumps({"prompt": f"q{i}", "answer": "1", "completion": "c", "provenance": p})
        for i, p in enumerate(provenances)
    ]
    path.write_text("\n".join(lines) + "\n")
    return dataset_import_file(path=path, name=name, fmt="jsonl")


@pytest.mark.parametrize("field", sorted(HOSTILE))
def test_a_hostile_provenance_field_never_breaks_the_dataset_pages(viewer, tmp_path, field):
    version = _import(tmp_path, [{field: HOSTILE[field]}, {"stage_id": True}])
    example = version.examples.order_by("position").first()
    for url in (version.dataset.get_absolute_url(), version.get_absolute_url(),
                example.get_absolute_url(), reverse("datasets:list")):
        response = viewer.get(url)
        assert response.status_code == 200, url
    page = viewer.get(example.get_absolute_url()).content.decode()
    assert "<script>alert" not in page
    assert 'href="/runs/' not in page and 'href="/traces/samples/' not in page


def test_valid_ids_in_provenance_are_links_and_everything_is_shown(viewer, tmp_path, make_run):
    stage = make_run()
    provenance = {**HOSTILE, "run_id": stage.run_id, "stage_id": stage.pk, "run": "zero"}
    version = _import(tmp_path, [provenance])
    example = Example.objects.get(version=version)
    page = viewer.get(example.get_absolute_url()).content.decode()
    assert f'<a href="{reverse("runs:detail", args=[stage.run_id])}">run zero</a>' in page
    assert f'href="{reverse("runs:stage", args=[stage.pk])}"' in page
    assert "1000000000000000000000000000000" in page  # shown as data, not linked
    assert 'href="/traces/samples/' not in page
    # The version's lineage names the stage the examples were curated from.
    lineage = viewer.get(version.get_absolute_url()).content.decode()
    assert "Curated from" in lineage and stage.get_absolute_url() in lineage


def test_provenance_links_take_only_positive_integer_ids():
    example = Example(provenance={"run_id": 3, "stage_id": "3", "sample_id": True,
                                  "curation_item_id": 2**63})
    assert example.provenance_links() == [("run 3", reverse("runs:detail", args=[3]))]
    assert Example(provenance=["not", "a", "dict"]).provenance_links() == []
    assert Example(provenance=["x"]).provenance_items() == [("provenance", ["x"])]
