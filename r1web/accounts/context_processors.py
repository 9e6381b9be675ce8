from __future__ import annotations

from r1web.accounts.roles import CURATOR, OPERATOR, has_role, role_of


def roles(request) -> dict:
    user = request.user
    return {
        "role": role_of(user),
        "is_curator": has_role(user, CURATOR),
        "is_operator": has_role(user, OPERATOR),
    }
