from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from r1web.datasets.content import content_hash
from r1web.datasets.files import read_examples
from r1web.datasets.models import Dataset, DatasetVersion
from r1web.datasets.services import dataset_version_create


def _records(n: int, completion: str = "") -> list[dict]:
    return [
        {"key": f"k{i}", "prompt": f"p{i}", "answer": str(i), "completion": completion}
        for i in range(n)
    ]


@pytest.fixture
def two_versions(db):
    first = dataset_version_create(name="ds", records=_records(3), source="t")
    changed = _records(4)
    changed[1]["answer"] = "changed"
    del changed[0]
    return first, dataset_version_create(name="ds", records=changed, source="t")


def test_the_dataset_page_lists_versions_with_counts(client, charlie, two_versions):
    client.force_login(charlie)
    page = client.get(reverse("datasets:detail", args=["ds"])).content.decode()
    assert ">v1<" in page and ">v2<" in page
    assert "train 3" in page


def test_the_diff_names_added_removed_and_changed_examples(client, charlie, two_versions):
    client.force_login(charlie)
    page = client.get(reverse("datasets:diff", args=["ds"]) + "?old=1&new=2").content.decode()
    assert "1 added · 1 removed · 1 changed · 1 unchanged" in page
    assert "<li>k3</li>" in page and "<li>k0</li>" in page and "<li>k1</li>" in page


def test_a_version_downloads_in_each_format_with_its_content(
    client, charlie, two_versions, tmp_path
):
    client.force_login(charlie)
    _, version = two_versions
    for fmt in ("jsonl", "parquet", "hf"):
        response = client.get(reverse("datasets:download", args=["ds", 2, fmt]))
        assert response.status_code == 200
        data = b"".join(response.streaming_content)
        path = tmp_path / f"download.{fmt}"
        if fmt == "hf":
            zipfile.ZipFile(io.BytesIO(data)).extractall(path)
        else:
            path.write_bytes(data)
        assert content_hash(read_examples(path, fmt=fmt)) == version.content_hash


def test_a_curator_uploads_a_file(client, bob):
    client.force_login(bob)
    upload = SimpleUploadedFile("tiny.jsonl", b'{"question": "Q", "answer": "#### 3"}\n')
    response = client.post(
        reverse("datasets:upload"),
        {"file": upload, "name": "up", "format": "auto", "split": "test"},
    )
    version = DatasetVersion.objects.get(dataset__name="up")
    assert response.status_code == 302
    assert version.splits == {"test": 1}


def test_a_bad_upload_names_the_line_and_imports_nothing(client, bob):
    client.force_login(bob)
    upload = SimpleUploadedFile(
        "bad.jsonl", b'{"question": "Q", "answer": "#### 3"}\n{"question": "no answer"}\n'
    )
    response = client.post(
        reverse("datasets:upload"),
        {"file": upload, "name": "up", "format": "auto", "split": "train"},
    )
    assert response.status_code == 400
    assert "line 2" in response.content.decode()
    assert not Dataset.objects.exists()


def test_a_viewer_cannot_upload(client, charlie):
    client.force_login(charlie)
    assert client.get(reverse("datasets:upload")).status_code == 403


def test_the_version_page_paginates_examples_as_an_htmx_fragment(client, charlie, two_versions):
    client.force_login(charlie)
    response = client.get(reverse("datasets:version", args=["ds", 1]), HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="examples">')
    assert "<html" not in body


def test_the_version_page_shows_which_stages_trained_on_it(client, charlie, make_run, two_versions):
    from r1web.runs.models import StageInput

    _, version = two_versions
    stage = make_run(name="sft run", kind="sft", status="succeeded")
    StageInput.objects.create(stage=stage, version=version, role="train")
    client.force_login(charlie)
    page = client.get(version.get_absolute_url()).content.decode()
    assert "Used by" in page
    assert stage.get_absolute_url() in page


def test_only_operators_see_the_sft_form(client, bob, alice, two_versions):
    url = reverse("datasets:version", args=["ds", 2])
    client.force_login(bob)
    assert "Start SFT" not in client.get(url).content.decode()
    client.force_login(alice)
    assert "Start SFT" in client.get(url).content.decode()
