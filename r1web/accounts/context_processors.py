from __future__ import annotations

from r1web.accounts.roles import CURATOR, OPERATOR, ORDER, role_of


def roles(request) -> dict:
    role = role_of(request.user)  # one groups query per page, not one per flag
    rank = ORDER.index(role) if role else -1
    return {
        "role": role,
        "is_curator": rank >= ORDER.index(CURATOR),
        "is_operator": rank >= ORDER.index(OPERATOR),
    }
