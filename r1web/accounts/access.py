"""Role checks for views: every write names the role it needs."""

from __future__ import annotations

from functools import wraps

from django.core.exceptions import PermissionDenied

from r1domain.errors import Forbidden
from r1web.accounts.roles import check_role


def role_required(role: str):
    """Refuse (403, the styled page) a request from a signed-in user below ``role``.

    Sign-in itself is enforced for every page by LoginRequiredMiddleware.
    """

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            try:
                check_role(request.user, role)
            except Forbidden as exc:
                raise PermissionDenied(exc.message) from None
            return view(request, *args, **kwargs)

        return wrapped

    return decorator
