from __future__ import annotations

from django.contrib.contenttypes.prefetch import GenericPrefetch
from django.db.models import QuerySet

from r1web.audit.models import AuditEvent
from r1web.datasets.models import DatasetVersion


def audit_events() -> QuerySet[AuditEvent]:
    """Newest first, with actors and (still existing) targets fetched in a few queries
    (a dataset version's link names its dataset: read with it, not once per row)."""
    return AuditEvent.objects.select_related("actor", "target_type").prefetch_related(
        GenericPrefetch("target", [DatasetVersion.objects.select_related("dataset")])
    )
