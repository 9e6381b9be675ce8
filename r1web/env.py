"""Strict readers for settings from the environment (after healthchecks' envbool/envint).

A typo in a deployment's environment should stop the process at start-up with a message
naming the variable, not surface later as a confusing default.
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def envstr(name: str, default: str) -> str:
    return os.environ.get(name, default)


def envbool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be one of true/false/1/0/yes/no, got {raw!r}")


def envint(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def envlist(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def envheader(name: str) -> tuple[str, str] | None:
    """A request header and the value that marks a request as secure, written as an
    HTTP header line ("X-Forwarded-Proto: https"), as Django's META key and value."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    header, sep, value = (part.strip() for part in raw.partition(":"))
    if not sep or not value or not header or not all(c.isalnum() or c == "-" for c in header):
        raise ImproperlyConfigured(
            f'{name} must look like "X-Forwarded-Proto: https", got {raw!r}'
        )
    return "HTTP_" + header.upper().replace("-", "_"), value
