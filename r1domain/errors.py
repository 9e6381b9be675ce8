"""The application's one error type, and the few kinds of it a caller must tell apart.

Every request r1web refuses (bad input, a missing thing, a state that does not allow it)
raises an ``R1WebError`` whose message is shown to the user as is. Views, management
commands and the API each turn it into a response in one place (``r1web.errors``); a
500 means a bug, never bad input. Domain concepts subclass it (``ConfigError``,
``RunError``, ``DatasetError``...) so callers can catch what concerns them.

It is a ``ValueError`` too: code that validates with the standard library's conventions
keeps working.
"""

from __future__ import annotations


class R1WebError(ValueError):
    """A request that cannot be done; the message says why, for the user.

    ``field`` names the input at fault when there is one (a form field, a JSON key).
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class NotFound(R1WebError):
    """What the request names does not exist (or is not the caller's to see)."""


class Forbidden(R1WebError):
    """The caller's role does not allow this."""


class Conflict(R1WebError):
    """The request is well formed, but what it acts on is in a state that refuses it
    (a finished run, a claimed item)."""
