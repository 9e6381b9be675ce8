"""Which workers are alive and which queues they consume.

Each worker keeps its own row (``Worker``): written when it starts and every heartbeat
interval after (``workers.tasks``), deleted when it stops cleanly. A worker killed
outright stops writing, and counts as gone once its row is older than the stale limit,
as its stage does. Pages poll every few seconds, so they read this one small table
instead of asking the workers through the broker (a broadcast that waits out its
timeout: ``bench/worker_presence.py`` measures both).
"""

from __future__ import annotations

from django.conf import settings
from django.utils import timezone

from r1web.runs.models import Worker


def worker_seen(*, name: str, queues: list[str]) -> None:
    """Record that worker ``name`` is alive and consumes ``queues``. Called by the
    worker itself: no person acts, so no audit row."""
    Worker.objects.update_or_create(
        name=name, defaults={"queues": sorted(queues), "seen_at": timezone.now()}
    )


def worker_gone(*, name: str) -> None:
    """Forget worker ``name``: it is stopping cleanly."""
    Worker.objects.filter(name=name).delete()


def listening_workers(queue: str) -> list[str]:
    """Names of the workers alive (seen within the stale limit) that consume ``queue``."""
    alive_after = timezone.now() - timezone.timedelta(seconds=settings.R1WEB_STALE_AFTER_SECONDS)
    rows = Worker.objects.filter(seen_at__gte=alive_after).values_list("name", "queues")
    return [name for name, queues in rows if queue in queues]
