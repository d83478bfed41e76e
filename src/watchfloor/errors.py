"""The one exception tree of watchfloor.

Every error a user can cause is a :class:`WatchfloorError`; its message says
what was wrong and what to do. The CLI turns it into one line on stderr and
exit code 2; the web app turns it into a JSON problem (or an HTML page) with
the class's HTTP status, in one handler each. Every class of the tree lives
here, so a reader sees all the ways watchfloor can refuse in one place::

    WatchfloorError
    ├── InvalidInputError               bad argument, file content or request field      (422)
    │   ├── IngestError                 a source file that cannot be read or parsed      (422)
    │   └── FieldError                  one named request field is at fault              (422)
    ├── NotFoundError                   a region, report, user or file that is absent    (404)
    ├── AuthenticationRequiredError     no live staff session came with the request      (401)
    ├── PermissionDeniedError           the caller's role does not allow the action      (403)
    │   └── CsrfError                   a state-changing request without its CSRF token  (403)
    ├── ConflictError                   the request contradicts what is stored           (409)
    │   └── IdempotencyConflictError    an idempotency key reused for another submission (409)
    ├── RequestTooLargeError            a request body over the server's limit           (413)
    ├── TooManyRequestsError            over the rate limit                              (429)
    │   └── ThrottledError              over a limit, with the seconds to wait (Retry-After)
    ├── InfeasibleError                 valid input, but no solution exists              (422)
    ├── StoreUnavailableError           the database cannot store it just now; retry     (503)
    └── ConfigurationError              settings or installation are wrong               (500)

Solvers report a time limit or a proven gap as a status on their result, not
as an exception; :class:`InfeasibleError` is for problems with no answer.

Part of the foundation: imports nothing of watchfloor.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationRequiredError",
    "ConfigurationError",
    "ConflictError",
    "CsrfError",
    "FieldError",
    "IdempotencyConflictError",
    "InfeasibleError",
    "IngestError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
    "RequestTooLargeError",
    "StoreUnavailableError",
    "ThrottledError",
    "TooManyRequestsError",
    "WatchfloorError",
]


class WatchfloorError(Exception):
    """Base of every error a user of watchfloor can cause or must act on."""

    http_status: int = 400


class InvalidInputError(WatchfloorError, ValueError):
    """An argument, a file's content or a request field is not acceptable."""

    http_status = 422


class IngestError(InvalidInputError):
    """A source file (OSM PBF, CSV, GeoJSON) cannot be read or parsed."""


class FieldError(InvalidInputError):
    """One input field is not acceptable; ``field`` names it for an API client.

    For example ``"incident"``, ``"busy"`` or ``"units[2]"`` in dispatch advice.
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class NotFoundError(WatchfloorError, LookupError):
    """A named thing (region, report, user, file) does not exist."""

    http_status = 404


class AuthenticationRequiredError(WatchfloorError):
    """No live staff session came with the request."""

    http_status = 401


class PermissionDeniedError(WatchfloorError):
    """The caller is known but their role does not allow the action."""

    http_status = 403


class CsrfError(PermissionDeniedError):
    """A state-changing request lacked the CSRF token of its cookie."""


class ConflictError(WatchfloorError):
    """The request contradicts what is already stored."""

    http_status = 409


class IdempotencyConflictError(ConflictError):
    """An idempotency key was reused for a different submission."""


class RequestTooLargeError(WatchfloorError):
    """The request body is larger than the server accepts."""

    http_status = 413


class TooManyRequestsError(WatchfloorError):
    """The client sent more requests than the rate limit allows."""

    http_status = 429


class ThrottledError(TooManyRequestsError):
    """Over a limit (requests, failed log-ins, password checks at once); retry later.

    ``retry_after_s`` is the whole number of seconds to wait; the web sends it as
    the ``Retry-After`` header.
    """

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, int(retry_after_s))


class InfeasibleError(WatchfloorError):
    """The input is valid but no solution satisfies it."""

    http_status = 422


class StoreUnavailableError(WatchfloorError):
    """The database could not store the data just now (the client should retry)."""

    http_status = 503


class ConfigurationError(WatchfloorError):
    """Settings, keys or the installation are wrong; an operator must fix them."""

    http_status = 500
