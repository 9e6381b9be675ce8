"""Reads for the tokens page and the ingestion API."""

from __future__ import annotations

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from r1web.ingest.models import ApiToken, ExternalRun


def tokens_of(user) -> QuerySet[ApiToken]:
    return ApiToken.objects.filter(user=user).order_by("revoked_at", "-created_at")


def get_token_for_user(request, pk: int) -> ApiToken:
    """Only a token's owner sees or revokes it (404 for anyone else's)."""
    return get_object_or_404(ApiToken, pk=pk, user=request.user)


def external_run_of(user, key: str) -> ExternalRun | None:
    """The external run with this key, if ``user`` opened it."""
    return ExternalRun.objects.select_related("run").filter(key=key, created_by=user).first()
