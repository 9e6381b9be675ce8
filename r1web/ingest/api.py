"""What every ingestion endpoint shares: token authentication, the body size limit and
JSON errors.

The API takes only ``Authorization: Bearer <token>``, never a session cookie: its views
are exempt from CSRF, which is safe only because a browser never sends the token by
itself. A missing, unknown or revoked token gets 401 and nothing is read or written; a
token whose user lacks the role gets 403.
"""

from __future__ import annotations

from functools import wraps

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from r1domain.errors import Forbidden
from r1web.accounts.roles import check_role
from r1web.errors import error_json
from r1web.ingest.schema import SchemaError, parse_body
from r1web.ingest.services import token_use


def error(status: int, message: str) -> JsonResponse:
    return error_json(message, status)


def _bearer(request: HttpRequest) -> str:
    scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


def api_view(role: str):
    """A POST endpoint for tokens of users with at least ``role``; the view gets the
    parsed JSON body as ``body`` and the token as ``request.api_token``."""

    def decorator(view):
        @csrf_exempt
        @login_not_required
        @require_POST
        @wraps(view)
        def wrapped(request: HttpRequest, *args, **kwargs):
            token = token_use(_bearer(request))
            if token is None:
                response = error(401, "a valid API token is needed (Authorization: Bearer …)")
                response["WWW-Authenticate"] = 'Bearer realm="r1web"'
                return response
            try:
                check_role(token.user, role)
            except Forbidden as exc:
                return error(403, f"this token's user: {exc.message}")
            request.api_token = token
            try:
                body = parse_body(_read_body(request))
            except _TooLarge:
                return error(413, f"bodies are limited to {settings.R1WEB_INGEST_MAX_BYTES} bytes")
            except SchemaError as exc:
                return error(400, str(exc))
            return view(request, *args, body=body, **kwargs)

        return wrapped

    return decorator


class _TooLarge(Exception):
    pass


def _read_body(request: HttpRequest) -> bytes:
    # Read from the stream, not request.body: Django caps request.body at
    # DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB), far below a batch of completions.
    limit = settings.R1WEB_INGEST_MAX_BYTES
    try:
        announced = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        announced = 0
    if announced > limit:
        raise _TooLarge()
    data = request.read(limit + 1)
    if len(data) > limit:
        raise _TooLarge()
    return data
