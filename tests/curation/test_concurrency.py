"""Two curators working one queue at once, each on its own database connection."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from r1web.curation.models import CurationItem
from r1web.curation.services import curation_accept, curation_claim_next

CLAIMS_PER_CURATOR = 6


@pytest.mark.django_db(transaction=True)
def test_two_curators_claiming_at_once_never_get_the_same_item(
    make_run, make_samples, django_user_model
):
    if connection.vendor != "postgresql":
        pytest.skip("row locks (select_for_update skip_locked) need PostgreSQL; set DATABASE_URL")
    from r1web.curation.services import candidates_promote, curation_dataset_get_or_create
    from r1web.traces.models import Sample

    stage = make_run()
    make_samples(stage, steps=2, groups=3, per_group=4)  # 24 candidates
    users = [django_user_model.objects.create_user(username=name) for name in ("ann", "ben")]
    dataset = curation_dataset_get_or_create(name="race", user=users[0])
    candidates_promote(samples=Sample.objects.all(), dataset=dataset, user=users[0])
    claimed: dict[str, list[int]] = {user.username: [] for user in users}
    start = threading.Barrier(len(users))
    errors: list[BaseException] = []

    def work(user) -> None:
        try:
            start.wait()
            for _ in range(CLAIMS_PER_CURATOR):
                item = curation_claim_next(dataset=dataset, user=user)
                claimed[user.username].append(item.pk)
                curation_accept(
                    item=item, user=user, reasoning=item.reasoning, summary=item.summary
                )
        except BaseException as exc:  # noqa: BLE001 (surfaced below; a thread must not swallow it
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    ann, ben = claimed["ann"], claimed["ben"]
    assert len(ann) == len(ben) == CLAIMS_PER_CURATOR
    assert not set(ann) & set(ben)
    # every item was accepted exactly once, by the curator who claimed it
    assert CurationItem.objects.filter(status="accepted").count() == 2 * CLAIMS_PER_CURATOR
