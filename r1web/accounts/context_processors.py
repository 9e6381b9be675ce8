from __future__ import annotations

from r1web.accounts.roles import CURATOR, OPERATOR, allows, role_of


def roles(request) -> dict:
    """The template's role flags, by the same rule as every role check (``allows``)."""
    role = role_of(request.user)  # one groups query per page, not one per flag
    return {
        "role": role,
        "is_curator": allows(role, CURATOR),
        "is_operator": allows(role, OPERATOR),
    }
