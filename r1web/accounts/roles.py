"""Three roles, as Django groups: viewers read, curators flag and curate, operators
launch, cancel and resume runs. Each role includes the rights of the ones before it."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser, Group

from r1domain.errors import Forbidden

VIEWER, CURATOR, OPERATOR = "viewer", "curator", "operator"
ORDER = (VIEWER, CURATOR, OPERATOR)


def role_of(user: AbstractBaseUser | AnonymousUser) -> str | None:
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return OPERATOR
    names = set(user.groups.values_list("name", flat=True))
    for role in reversed(ORDER):
        if role in names:
            return role
    return VIEWER


def allows(current: str | None, role: str) -> bool:
    """Whether a user holding ``current`` (None: signed out) has the rights of ``role``."""
    return current is not None and ORDER.index(current) >= ORDER.index(role)


def has_role(user, role: str) -> bool:
    return allows(role_of(user), role)


def check_role(user, role: str) -> None:
    """The one role check: views (``role_required``), services and the API call it.
    Raises ``Forbidden`` naming the role needed."""
    if not has_role(user, role):
        raise Forbidden(f"this needs the {role} role")


def role_grant(*, user, role: str) -> None:
    if role not in ORDER:
        raise ValueError(f"unknown role {role!r}; choose one of {', '.join(ORDER)}")
    group, _ = Group.objects.get_or_create(name=role)
    user.groups.remove(*Group.objects.filter(name__in=ORDER))
    user.groups.add(group)
