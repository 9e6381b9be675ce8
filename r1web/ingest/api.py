"""What every ingestion endpoint shares: token authentication, the body size limit, and
errors as JSON, always.

The API takes only ``Authorization: Bearer <token>``, never a session cookie: its views
are exempt from CSRF, which is safe only because a browser never sends the token by
itself. A missing, unknown or revoked token gets 401 and nothing is read or written; a
token whose user lacks the role gets 403; an address that sent too many wrong tokens
gets 429 (``r1web.accounts.throttle``).

What the API itself refuses before a view runs (401, 403, 405, 413, 429) is ``ApiError``;
what a view or the schema refuses is an ``R1WebError`` (400, or 404, 409 by its kind),
turned into JSON by ``r1web.errors`` as everywhere else, and so are Django's own error
pages under ``/api/`` (``r1web.errors.json_for_api``).
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from r1domain.errors import Forbidden, R1WebError
from r1web.accounts.roles import check_role
from r1web.accounts.throttle import token_failed, token_retry_after
from r1web.errors import error_json, error_response
from r1web.ingest.models import ApiToken
from r1web.ingest.schema import parse_body
from r1web.ingest.services import token_use


class ApiError(Exception):
    """A request the API refuses with ``status`` before any view runs; the message is
    sent as is, with ``headers``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JsonResponse:
    response = error_json(message, status)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def api_view(role: str):
    """A POST endpoint for tokens of users with at least ``role``; the view gets the
    parsed JSON body as ``body`` and the token as ``request.api_token``, and may raise
    any ``R1WebError``."""

    def decorator(view):
        @csrf_exempt
        @login_not_required
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            try:
                if request.method != "POST":
                    raise ApiError(405, "the API takes only POST", {"Allow": "POST"})
                request.api_token = _authorised(request, role)
                body = parse_body(_read_body(request))
                return view(request, *args, body=body, **kwargs)
            except ApiError as exc:
                return error(exc.status, str(exc), exc.headers)
            except R1WebError as exc:  # the schema's (400), a run's state (409), ...
                return error_response(request, exc)

        return wrapped

    return decorator


def _authorised(request: HttpRequest, role: str) -> ApiToken:
    wait = token_retry_after(request)
    if wait is not None:
        raise ApiError(
            429, f"too many wrong tokens from this address; try again in {wait} s",
            {"Retry-After": str(wait)},
        )
    secret = _bearer(request)
    token = token_use(secret)
    if token is None:
        if secret:
            token_failed(request)
        raise ApiError(
            401, "a valid API token is needed (Authorization: Bearer …)",
            {"WWW-Authenticate": 'Bearer realm="r1web"'},
        )
    try:
        check_role(token.user, role)
    except Forbidden as exc:
        raise ApiError(403, f"this token's user: {exc.message}") from None
    return token


def _bearer(request: HttpRequest) -> str:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


def _read_body(request: HttpRequest) -> bytes:
    # Read from the stream, not request.body: Django caps request.body at
    # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), far below a batch of completions.
    limit = settings.R1WEB_INGEST_MAX_BYTES
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    data = b"" if announced > limit else request.read(limit + 1)
    if announced > limit or len(data) > limit:
        raise ApiError(413, f"bodies are limited to {limit} bytes")
    return data
