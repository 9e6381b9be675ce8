"""Sign-in throttling (django-axes) for sign-ins made over HTTP, and its lockout page.

Two limits, both from one address only, so a guesser elsewhere never locks anyone out:
``AXES_FAILURE_LIMIT`` wrong passwords for one username, and
``R1WEB_LOGIN_ADDRESS_FAILURE_LIMIT`` for any usernames together (one address trying
many usernames). ``AXES_LOCKOUT_PARAMETERS`` lists the two in that order.
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.handlers.database import AxesDatabaseHandler
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
from django.conf import settings
from django.db.models import QuerySet, Sum
from django.http import HttpResponse
from django.shortcuts import render


class ThrottleBackend(AxesStandaloneBackend):
    """django-axes' lockout check, skipped when there is no request.

    Throttling is about guesses sent over HTTP, which always carry a request (the sign-in
    page, the admin). Code that checks a password directly, such as a management command
    or the test client's ``login()``, has none, and axes would refuse it outright.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _failures(attempts: QuerySet) -> int:
    return attempts.aggregate(n=Sum("failures_since_start"))["n"] or 0


class ThrottleHandler(AxesDatabaseHandler):
    """django-axes' database handler with a limit per username and one per address."""

    def failure_counts(self, request, credentials=None) -> tuple[int, int]:
        """Recent failures of this username from this address, and of this address."""
        per_username, per_address = self.get_user_attempts(request, credentials)
        return _failures(per_username), _failures(per_address)

    def get_failures(self, request, credentials=None) -> int:
        per_username, per_address = self.failure_counts(request, credentials)
        # axes compares one count with AXES_FAILURE_LIMIT: the address's count is put on
        # that scale, where it reaches the limit exactly when the address reaches its own.
        limit = get_failure_limit(request, credentials)
        return max(per_username, per_address * limit // settings.R1WEB_LOGIN_ADDRESS_FAILURE_LIMIT)

    def reset_user_attempts(self, request, credentials=None) -> int:
        # A sign-in clears its own username's failures, not its address's: an account of
        # one's own must not reset the count of guesses at everyone else's.
        per_username = self.filter_user_attempts(request, credentials)[0]
        return per_username.delete()[0]


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """The page a locked-out sign-in gets (django-axes' AXES_LOCKOUT_CALLABLE): 429 with
    the wait in minutes, never an error page."""
    cool_off = get_cool_off(request)
    limit = get_failure_limit(request, credentials)
    per_username, _ = ThrottleHandler().failure_counts(request, credentials)
    by_address = per_username < limit
    context = {
        "failure_limit": settings.R1WEB_LOGIN_ADDRESS_FAILURE_LIMIT if by_address else limit,
        "username": "" if by_address else get_client_username(request, credentials) or "",
        "minutes": max(1, round(cool_off.total_seconds() / 60)) if cool_off else None,
    }
    return render(request, "registration/locked_out.html", context, status=429)
