from __future__ import annotations

from django.db.models import QuerySet

from r1web.audit.models import AuditEvent


def audit_events() -> QuerySet[AuditEvent]:
    """Newest first, with actors and (still existing) targets fetched in a few queries."""
    return AuditEvent.objects.select_related("actor", "target_type").prefetch_related("target")
