"""Wrong API tokens, counted per address: django-axes throttles sign-ins, this the API.

A token is 43 random characters, so guessing one is hopeless; the throttle keeps a
guesser (or a script stuck with a revoked token) from hammering the database with token
lookups. Past ``R1WEB_API_TOKEN_FAILURE_LIMIT`` wrong tokens from one address within
the sign-in cool-off (``AXES_COOLOFF_TIME``), that address gets 429 with Retry-After
until the cool-off has passed; other addresses are never slowed down.

The count lives in Django's cache: each web process keeps its own unless ``CACHES``
names a shared one, so N processes allow up to N times the limit (still a bound).
"""

from __future__ import annotations

import math
import time

from axes.helpers import get_client_ip_address
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

PREFIX = "api-token-failures:"


def _keys(request: HttpRequest) -> tuple[str, str]:
    address = get_client_ip_address(request) or "unknown"
    return PREFIX + address, PREFIX + "until:" + address


def _cool_off() -> float:
    return settings.AXES_COOLOFF_TIME.total_seconds()


def token_retry_after(request: HttpRequest) -> int | None:
    """Seconds until this address may present a token again; None when it may now."""
    until = cache.get(_keys(request)[1])
    if until is None:
        return None
    left = math.ceil(until - time.time())
    return left if left > 0 else None


def token_failed(request: HttpRequest) -> None:
    """Count a wrong token from this request's address; at the limit, pause the address."""
    count_key, until_key = _keys(request)
    cache.add(count_key, 0, timeout=_cool_off())
    try:
        count = cache.incr(count_key)
    except ValueError:  # expired between add and incr: a new window starts
        cache.set(count_key, count := 1, timeout=_cool_off())
    if count >= settings.R1WEB_API_TOKEN_FAILURE_LIMIT:
        cache.set(until_key, time.time() + _cool_off(), timeout=_cool_off())
        cache.delete(count_key)
