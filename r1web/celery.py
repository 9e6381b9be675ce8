"""The Celery app. Workers: ``celery -A r1web worker -Q cpu`` (or ``-Q gpu``)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")

app = Celery("r1web")
app.config_from_object("django.conf:settings", namespace="CELERY")


def _configure(app: Celery) -> None:
    from django.conf import settings

    conf: dict = {
        # A stage is long and precious: acknowledge it only when it ends, and hand it
        # back to the broker if the worker process dies under it.
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "task_default_queue": settings.CELERY_DEFAULT_QUEUE,
        "broker_connection_retry_on_startup": True,
    }
    if settings.CELERY_BROKER_URL.startswith("filesystem://"):
        folder = settings.CELERY_BROKER_FOLDER
        folder.mkdir(parents=True, exist_ok=True)
        # Producer and consumer are different processes: both read and write one folder.
        conf["broker_transport_options"] = {
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "store_processed": False,
        }
    app.conf.update(conf)


app.on_after_configure.connect(lambda sender, **kw: _configure(sender))
app.autodiscover_tasks(["workers"])
