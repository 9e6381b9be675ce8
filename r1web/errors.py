"""Where an ``R1WebError`` (``r1domain.errors``) becomes what the user sees, once for each
way in: a page, the JSON API, a management command.

A view that can show the error beside a form field catches it itself; anything it lets
through ends here, never as a 500: a 500 means a bug.
"""

from __future__ import annotations

from collections.abc import Callable

from django.core.management.base import BaseCommand, CommandError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from r1domain.errors import Conflict, Forbidden, NotFound, R1WebError

API_PREFIX = "/api/"


def status_of(exc: R1WebError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, Conflict):
        return 409
    return 400


def error_json(message: str, status: int, *, field: str | None = None) -> JsonResponse:
    """The API's one error shape: ``{"error": message, "field": name?}``."""
    body = {"error": message} if field is None else {"error": message, "field": field}
    return JsonResponse(body, status=status)


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def error_response(request: HttpRequest, exc: R1WebError) -> HttpResponse:
    status = status_of(exc)
    if is_api(request):
        return error_json(exc.message, status, field=exc.field)
    return render(request, "400.html", {"message": exc.message, "field": exc.field},
                  status=status)


# Django's own error pages (handler404 and the like in r1web.urls), as the API says them.
API_ERRORS = {
    400: "bad request",
    403: "not allowed",
    404: "no API endpoint at this path (the API is /api/v1/runs/…, by POST)",
    500: "the server failed to handle this request; it is logged, nothing was stored",
}


def json_for_api(page: Callable[..., HttpResponse], status: int) -> Callable[..., HttpResponse]:
    """Django's error view ``page`` answering JSON under ``/api/``: a training script
    reads the error, never an HTML page."""

    def handler(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if is_api(request):
            return error_json(API_ERRORS[status], status)
        return page(request, *args, **kwargs)

    return handler


class R1WebErrorMiddleware:
    """Turns an ``R1WebError`` a view did not handle into the page or JSON that says why."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception):
        if isinstance(exception, R1WebError):
            return error_response(request, exception)
        return None


class R1WebCommand(BaseCommand):
    """A management command whose refusals print as Django's CommandError: the message,
    exit status 1, no traceback."""

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except R1WebError as exc:
            raise CommandError(exc.message) from None
