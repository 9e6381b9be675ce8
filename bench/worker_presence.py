"""What telling "no worker listens on queue cpu" costs a page poll: the workers' own rows
(``r1web.runs.presence``, what the pages read) against asking them through the broker
(Celery's ``inspect().active_queues()``, which waits out its timeout for replies).

    DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://... .venv/bin/python bench/worker_presence.py

Adds one queued run and three worker rows, times the presence read, the queued stage's
notice, and the run page's polled fragment that shows it, then a few broadcasts, and
removes what it added. Prints median and minimum milliseconds of each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")

WORKERS = {"celery@gpu-1": ["gpu"], "celery@gpu-2": ["gpu"], "celery@import": ["imports"]}


def timed(func: Callable[[], object], repeat: int) -> tuple[float, float]:
    seconds = []
    for _ in range(repeat):
        started = time.perf_counter()
        func()
        seconds.append(time.perf_counter() - started)
    return 1000 * statistics.median(seconds), 1000 * min(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30, help="timed page polls")
    parser.add_argument("--broadcasts", type=int, default=3, help="timed broker broadcasts")
    args = parser.parse_args()
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from r1web.celery import app
    from r1web.runs.models import Run, Stage, StageKind, Worker
    from r1web.runs.presence import listening_workers, worker_seen
    from r1web.runs.waiting import stage_notices

    call_command("migrate", verbosity=0)
    user, _ = get_user_model().objects.get_or_create(username="bench-worker-presence")
    run = Run.objects.create(name="bench: worker presence", recipe="r1-zero", status="queued")
    Stage.objects.create(run=run, position=0, name="GRPO", kind=StageKind.GRPO,
                         status="queued", queue="cpu")
    for name, queues in WORKERS.items():
        worker_seen(name=name, queues=queues)
    client = Client()
    client.force_login(user)
    url = reverse("runs:detail", args=[run.pk])

    def poll() -> None:
        body = client.get(url, headers={"HX-Request": "true"}).content.decode()
        assert "no worker is listening on queue cpu" in body

    try:
        poll()  # warm
        rows = timed(lambda: listening_workers("cpu"), args.repeat)
        stages = list(run.stages.select_related("run"))
        notices = timed(lambda: stage_notices(stages), args.repeat)
        page = timed(poll, args.repeat)
        ping = timed(lambda: app.control.inspect(timeout=1.0).active_queues(), args.broadcasts)
    finally:
        run.delete()
        Worker.objects.filter(name__in=WORKERS).delete()
        user.delete()
    print(f"presence read (listening_workers):     median {rows[0]:7.1f} ms  min {rows[1]:7.1f} ms")
    print(f"its notice (stage_notices):            median {notices[0]:7.1f} ms  min {notices[1]:7.1f} ms")
    print(f"run page poll, queued stage explained: median {page[0]:7.1f} ms  min {page[1]:7.1f} ms")
    print(f"broker broadcast, 1 s timeout:         median {ping[0]:7.1f} ms  min {ping[1]:7.1f} ms")


if __name__ == "__main__":
    main()
