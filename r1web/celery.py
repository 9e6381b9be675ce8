"""The Celery app. Workers: ``celery -A r1web worker -Q cpu`` (or ``-Q gpu``).

Its configuration is the ``CELERY_*`` block of ``r1web/settings.py``.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "r1web.settings")

app = Celery("r1web")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["workers"])
