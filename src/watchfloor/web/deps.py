"""FastAPI dependencies: database sessions, the logged-in staff member and roles.

Usage in a router::

    from watchfloor.web.deps import CurrentUser, DbSession, require_roles

    @router.get("/api/things")
    def things(user: CurrentUser, db: DbSession) -> list[Thing]: ...

    @router.post(
        "/api/plans", dependencies=[Depends(require_roles(Role.PLANNER, Role.SUPERVISOR))]
    )
    def plan(...): ...

    # or, to get the user as well:
    Planner = Annotated[StaffUser, Depends(require_roles(Role.PLANNER, Role.SUPERVISOR))]

A request without a live session gets 401; a user whose role is not listed
gets 403. State-changing requests (POST, PUT, PATCH, DELETE) authenticated by
the session cookie must also carry the CSRF token, as the form field
``csrf_token`` or the header ``X-CSRF-Token`` (pages expose it in
``<meta name="csrf-token">``); :func:`csrf_token` returns it. The anonymous
public forms use :func:`refuse_cross_site` and their own signed form token
instead (no cookie needed; see :mod:`watchfloor.web.security`).

Sessions reach routes only through :data:`DbSession` (the one place of the web
edge that names SQLAlchemy's ``Session``); routes pass it to services and run
no SQL of their own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from watchfloor.errors import (
    AuthenticationRequiredError,
    CsrfError,
    NotFoundError,
    PermissionDeniedError,
)
from watchfloor.services.auth import StaffUser, resolve_session
from watchfloor.settings import Settings
from watchfloor.storage.db import Database
from watchfloor.types import Role
from watchfloor.web.security import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    csrf_token_for,
    csrf_token_is_valid,
    is_cross_site,
)

__all__ = [
    "CurrentUser",
    "DbSession",
    "StaffUser",
    "csrf_token",
    "current_user",
    "get_database",
    "get_session",
    "get_settings",
    "refuse_cross_site",
    "require_roles",
    "verify_csrf",
]

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_settings(request: Request) -> Settings:
    """Return the settings the app was created with."""
    settings: Settings = request.app.state.settings
    return settings


def get_database(request: Request) -> Database:
    """Return the app's database (engine and session factory)."""
    database: Database = request.app.state.db
    return database


def get_session(request: Request) -> Iterator[Session]:
    """Yield a database session for one request; the route commits what it changes."""
    with get_database(request).sessions() as session:
        yield session


DbSession = Annotated[Session, Depends(get_session)]


def csrf_token(request: Request) -> str:
    """Return the CSRF token for the request's ``wf_csrf`` cookie ("" when none yet)."""
    cookie = request.state.csrf_cookie if hasattr(request.state, "csrf_cookie") else None
    cookie = cookie or request.cookies.get(CSRF_COOKIE)
    if not cookie:
        return ""
    secret: bytes = request.app.state.secret
    return csrf_token_for(secret, cookie)


async def verify_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token does not match its cookie.

    Raises
    ------
    CsrfError
        With 403 and a message asking to reload the page.
    """
    if request.method in _SAFE_METHODS:
        return
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
            form = await request.form()
            value = form.get(CSRF_FIELD)
            token = value if isinstance(value, str) else None
    secret: bytes = request.app.state.secret
    if not csrf_token_is_valid(secret, request.cookies.get(CSRF_COOKIE), token):
        msg = (
            "this form has expired or did not come from this site; "
            "reload the page and send it again"
        )
        raise CsrfError(msg)


async def refuse_cross_site(request: Request) -> None:
    """Refuse a state-changing request that another site's page sent (fetch metadata).

    Raises
    ------
    CsrfError
        With 403, when ``Sec-Fetch-Site`` or ``Origin`` names another site.
    """
    if request.method in _SAFE_METHODS:
        return
    if is_cross_site(request.headers):
        msg = (
            "this form was sent from another website; open this service's own page "
            "and send it from there"
        )
        raise CsrfError(msg)


async def current_user(request: Request) -> StaffUser:
    """Return the staff member of the request's session cookie.

    Raises
    ------
    AuthenticationRequiredError
        (401) When there is no live session.
    CsrfError
        (403) When a state-changing request lacks its CSRF token.
    """
    cached = getattr(request.state, "staff_user", None)
    if isinstance(cached, StaffUser):
        return cached
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        msg = "log in to see this page"
        raise AuthenticationRequiredError(msg)
    database = get_database(request)
    try:
        with database.sessions() as session:
            user = resolve_session(session, token)
    except NotFoundError:
        msg = "your session has ended; log in again"
        raise AuthenticationRequiredError(msg) from None
    await verify_csrf(request)
    request.state.staff_user = user
    return user


CurrentUser = Annotated[StaffUser, Depends(current_user)]


def require_roles(*roles: str | Role) -> Callable[..., object]:
    """Return a dependency that admits only staff whose role is one of ``roles``.

    The dependency returns the :class:`StaffUser`; ``admin`` is not implied.

    Raises
    ------
    ValueError
        At import time of the router, for a role that is not a :class:`Role`.
    """
    known = tuple(Role)
    unknown = [role for role in roles if role not in known]
    if unknown or not roles:
        msg = f"unknown role(s) {unknown}; roles are {', '.join(Role)}"
        raise ValueError(msg)
    # In the vocabulary's order, so that messages and names do not depend on set order.
    allowed = tuple(role for role in Role if role in roles)

    async def _require(user: CurrentUser) -> StaffUser:
        if user.role not in allowed:
            msg = f"your role ({user.role}) cannot do this; it needs one of: {', '.join(allowed)}"
            raise PermissionDeniedError(msg)
        return user

    _require.__name__ = "require_" + "_or_".join(allowed)
    return _require
