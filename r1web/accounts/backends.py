"""Sign-in throttling (django-axes) for sign-ins made over HTTP, and its lockout page."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_client_username, get_cool_off, get_failure_limit
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


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """The page a locked-out sign-in gets (django-axes' AXES_LOCKOUT_CALLABLE): 429 with
    the wait in minutes, never an error page."""
    cool_off = get_cool_off(request)
    context = {
        "failure_limit": get_failure_limit(request, credentials),
        "username": get_client_username(request, credentials) or "",
        "minutes": max(1, round(cool_off.total_seconds() / 60)) if cool_off else None,
    }
    return render(request, "registration/locked_out.html", context, status=429)
