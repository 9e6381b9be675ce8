"""Django messages answer htmx requests too, where the person is looking.

A full page shows its messages in base.html. An htmx request swaps a fragment that has
no message list, so the messages queued while answering it travel in an ``HX-Trigger``
header instead; static/r1web/feedback.js shows them in the page's message area (and it
reports failed htmx requests there as well).
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.http import HttpRequest, HttpResponse

from r1web.htmx import wants_partial

EVENT = "r1web:messages"


class HtmxMessagesMiddleware:
    """After MessageMiddleware in MIDDLEWARE (so it runs first on the way out)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # A redirect's messages belong to the page it leads to (htmx follows it itself).
        if wants_partial(request) and not 300 <= response.status_code < 400:
            _to_trigger(request, response)
        return response


def _to_trigger(request: HttpRequest, response: HttpResponse) -> None:
    storage = messages.get_messages(request)
    if storage.used or not len(storage):  # a full page showed them, or there are none
        return
    queued = [{"level": m.level_tag, "text": str(m)} for m in storage]
    triggers = {}
    if response.has_header("HX-Trigger"):
        existing = response["HX-Trigger"]
        triggers = (
            json.loads(existing) if existing.startswith("{") else {existing: None}
        )
    triggers[EVENT] = queued
    # ASCII JSON: a header holds no raw non-Latin-1 text.
    response["HX-Trigger"] = json.dumps(triggers, ensure_ascii=True)
