from __future__ import annotations

import json

import pytest


@pytest.fixture
def model_dir(tmp_path, settings):
    """A base model folder under the models directory, enough to launch a recipe."""
    settings.MODELS_DIR = tmp_path / "models"
    folder = settings.MODELS_DIR / "base"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "qwen2"}))
    return folder


@pytest.fixture
def queue(db, make_run, make_samples, bob):
    """A curation dataset holding 2 promoted samples."""
    from r1web.curation.services import (
        candidates_promote,
        curation_dataset_get_or_create,
    )
    from r1web.traces.models import Sample

    make_samples(make_run(name="zero"), steps=1, groups=1, per_group=4)
    dataset = curation_dataset_get_or_create(name="cold-start", user=bob)
    candidates_promote(samples=Sample.objects.filter(correct=True), dataset=dataset, user=bob)
    return dataset
