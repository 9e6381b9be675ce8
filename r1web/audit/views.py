from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from r1web.accounts.access import role_required
from r1web.accounts.roles import OPERATOR
from r1web.audit.selectors import audit_events

EVENTS_PER_PAGE = 50


@require_GET
@role_required(OPERATOR)
def audit_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(audit_events(), EVENTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "audit/list.html", {"page": page})
