"""The secret key: from ``SECRET_KEY``, or made once per install in the embedded mode.

A key that anyone can read in our sources signs everyone's sessions, so a deployment
(``DEBUG`` off) must never run with a placeholder; and an install that sets nothing gets
its own random key rather than one shared by every copy of r1web.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

MIN_LENGTH = 32
# Keys published in our sources, docs and Django's own project template.
PLACEHOLDERS = frozenset({
    "r1web-embedded-insecure-key-change-me", "change-me", "changeme", "secret",
    "secret-key", "secret_key", "your-secret-key", "insecure",
})
FILE_NAME = "secret_key"


def secret_key(*, value: str, var_dir: Path, debug: bool) -> str:
    """``value`` (the environment's SECRET_KEY, "" when unset), checked; or the key kept
    in ``var_dir``, made on first use."""
    if not value:
        return _kept_key(var_dir / FILE_NAME, debug)
    if not debug and is_weak(value):
        raise ImproperlyConfigured(
            f"SECRET_KEY is a placeholder or shorter than {MIN_LENGTH} characters; set a "
            "random one (for example: openssl rand -hex 32), or unset it to let r1web make "
            f"one in {var_dir / FILE_NAME}"
        )
    return value


def is_weak(key: str) -> bool:
    key = key.strip()
    placeholder = key.lower() in PLACEHOLDERS or key.startswith("django-insecure")
    return placeholder or len(key) < MIN_LENGTH


def _kept_key(path: Path, debug: bool) -> str:
    try:
        key = _read_or_create(path)
    except OSError as exc:
        raise ImproperlyConfigured(
            f"SECRET_KEY is unset and {path} cannot be read or written ({exc.strerror}); "
            "set SECRET_KEY or R1WEB_VAR_DIR"
        ) from None
    if not debug and is_weak(key):
        raise ImproperlyConfigured(f"SECRET_KEY is unset and {path} holds no usable key; "
                                   "delete the file to make a new one")
    return key


def _read_or_create(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written whole under a private name, then linked into place: several processes
        # (web workers, Celery) may start at once, and each must read the one winner's key.
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(50) + "\n")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()
