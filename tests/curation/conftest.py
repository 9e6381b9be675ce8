from __future__ import annotations

import pytest


@pytest.fixture
def queue(db, make_run, make_samples, bob):
    """A dataset whose queue holds the 4 correct samples of step 1 of an R1-Zero run."""
    from r1web.curation.services import candidates_promote, curation_dataset_get_or_create
    from r1web.traces.models import Sample

    stage = make_run(name="zero")
    make_samples(stage, steps=1, groups=2, per_group=4)
    dataset = curation_dataset_get_or_create(name="cold-start", user=bob)
    candidates_promote(samples=Sample.objects.filter(correct=True), dataset=dataset, user=bob)
    return dataset


