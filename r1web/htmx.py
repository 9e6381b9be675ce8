"""One convention for pages that htmx also asks for a fragment of.

A page and its fragment share a URL, so every such response says ``Vary: HX-Request``:
otherwise a browser (or a proxy) may serve the cached fragment as the page, which is
what "back" after an htmx navigation showed. htmx asks for the full page again when its
history cache misses (``HX-History-Restore-Request``), and a boosted link wants the
whole page too: both get it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import patch_vary_headers

STOP_POLLING = 286  # htmx stops polling on this status and still swaps the content in


def wants_partial(request: HttpRequest) -> bool:
    """True for an htmx request that swaps a fragment into the page it came from."""
    htmx = getattr(request, "htmx", None)
    return bool(htmx) and not htmx.boosted and not htmx.history_restore_request


def vary_on_htmx(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ("HX-Request",))
    return response


def render_partial(
    request: HttpRequest, template: str, partial: str, context: dict, *, status: int = 200
) -> HttpResponse:
    """``template`` as a page, or only its ``{% partialdef partial %}`` for htmx."""
    name = f"{template}#{partial}" if wants_partial(request) else template
    return vary_on_htmx(render(request, name, context, status=status))


def stop_polling_when(finished: bool, response: HttpResponse) -> HttpResponse:
    """The same response (headers kept) with htmx's stop-polling status once finished."""
    if finished:
        response.status_code = STOP_POLLING
        response.reason_phrase = "Stop Polling"
    return response
