"""Writing the audit log. Every service that makes a change for a person calls
``audit_record`` at its end, inside its own transaction, so the row exists exactly when
the change does."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models

from r1web.audit.models import Action, AuditEvent
from r1web.safe_text import db_json, db_text


def audit_record(
    *, actor, action: str, target: models.Model, detail: dict | None = None
) -> AuditEvent:
    """Record that ``actor`` (a user, or None for no signed-in person) did ``action`` to
    ``target``, a saved row. ``detail`` is small JSON (counts, labels), never secrets."""
    if action not in Action.values:
        raise ValueError(f"unknown audit action {action!r}")
    if target.pk is None:
        raise ValueError("the target of an audit event must be saved first")
    actor = actor if actor is not None and actor.is_authenticated else None
    return AuditEvent.objects.create(
        actor=actor,
        actor_name=actor.get_username() if actor else "",
        action=action,
        target_type=ContentType.objects.get_for_model(target),
        target_id=target.pk,
        target_label=db_text(str(target))[:200],
        detail=db_json(detail or {}),
    )
