"""Role checks for views: every write names the role it needs."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied

from r1web.accounts.roles import has_role


def role_required(role: str):
    """Refuse (403) a request from a signed-in user below ``role``.

    Sign-in itself is enforced for every page by LoginRequiredMiddleware.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            if not has_role(request.user, role):
                raise PermissionDenied(f"this needs the {role} role")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
