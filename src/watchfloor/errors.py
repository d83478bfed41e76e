"""The one exception tree of watchfloor.

Every error a user can cause is a :class:`WatchfloorError`; its message says
what was wrong and what to do. The CLI turns it into one line on stderr and
exit code 2; the web app turns it into a JSON problem with an HTTP status.

::

    WatchfloorError
    ├── InvalidInputError        bad argument, file content or request field   (422)
    │   └── IngestError          a source file that cannot be read or parsed   (422)
    ├── NotFoundError            a region, report, user or file that is absent (404)
    ├── PermissionDeniedError    the caller's role does not allow the action   (403)
    ├── InfeasibleError          valid input, but no solution exists           (422)
    └── ConfigurationError       settings or installation are wrong            (500)

Solvers report a time limit or a proven gap as a status on their result, not
as an exception; :class:`InfeasibleError` is for problems with no answer.
"""

from __future__ import annotations

__all__ = [
    "ConfigurationError",
    "InfeasibleError",
    "IngestError",
    "InvalidInputError",
    "NotFoundError",
    "PermissionDeniedError",
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


class NotFoundError(WatchfloorError, LookupError):
    """A named thing (region, report, user, file) does not exist."""

    http_status = 404


class PermissionDeniedError(WatchfloorError):
    """The caller is known but their role does not allow the action."""

    http_status = 403


class InfeasibleError(WatchfloorError):
    """The input is valid but no solution satisfies it."""

    http_status = 422


class ConfigurationError(WatchfloorError):
    """Settings, keys or the installation are wrong; an operator must fix them."""

    http_status = 500
