"""Each worker's own row says it is alive and what it consumes (``r1web.runs.presence``)."""

from __future__ import annotations

import pytest

from r1web.runs.presence import listening_workers, worker_gone, worker_seen

pytestmark = pytest.mark.django_db


def test_a_worker_listens_on_the_queues_it_named_until_it_stops_cleanly():
    worker_seen(name="celery@a", queues=["gpu", "cpu"])
    worker_seen(name="celery@b", queues=["gpu"])
    assert listening_workers("cpu") == ["celery@a"]
    assert listening_workers("gpu") == ["celery@a", "celery@b"]
    worker_gone(name="celery@a")
    assert listening_workers("cpu") == []


def test_a_worker_restarted_with_other_queues_is_one_worker_with_the_new_queues():
    worker_seen(name="celery@a", queues=["cpu"])
    worker_seen(name="celery@a", queues=["gpu"])
    assert (listening_workers("cpu"), listening_workers("gpu")) == ([], ["celery@a"])
