"""Staff accounts and login sessions; roles are :class:`watchfloor.types.Role`.

Passwords are hashed with argon2id; a login creates a server-side session whose
random token is given to the browser once and stored only as its SHA-256.
Imports storage and the foundation.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchfloor.errors import InvalidInputError, NotFoundError, PermissionDeniedError
from watchfloor.storage.models import AuditEntry, StaffSession, User, utc_now
from watchfloor.types import Role

__all__ = [
    "SESSION_LIFETIME",
    "StaffUser",
    "authenticate",
    "create_user",
    "end_session",
    "hash_password",
    "list_users",
    "resolve_session",
    "start_session",
    "verify_password",
]

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_MIN_PASSWORD = 12
_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Compared against when the username is unknown, so both paths take as long.
    return _hasher.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class StaffUser:
    """The logged-in staff member as the web layer and services see them."""

    id: int
    username: str
    role: Role


def hash_password(password: str) -> str:
    """Return the argon2id hash of ``password``."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Return whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def create_user(session: Session, username: str, *, role: str | Role, password: str) -> StaffUser:
    """Return the new staff account ``username`` with ``role`` (committed by the caller).

    Raises
    ------
    InvalidInputError
        For an unknown role, a malformed or taken username or a short password.
    """
    if role not in tuple(Role):
        msg = f"unknown role {role!r}; choose one of {', '.join(Role)}"
        raise InvalidInputError(msg)
    role = Role(role)
    if not _USERNAME.match(username):
        msg = (
            "usernames are 2-64 characters of a-z, 0-9, '.', '_' or '-', "
            "starting with a letter or digit"
        )
        raise InvalidInputError(msg)
    if len(password) < _MIN_PASSWORD:
        msg = f"the password is too short; use at least {_MIN_PASSWORD} characters"
        raise InvalidInputError(msg)
    user = User(username=username, role=role.value, password_hash=hash_password(password))
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        msg = f"a user named {username!r} already exists; choose another name"
        raise InvalidInputError(msg) from None
    session.add(AuditEntry(actor_id=None, action="user.create", detail=f"{username} as {role}"))
    log.info("created staff account with role %s", role)
    return StaffUser(id=user.id, username=user.username, role=Role(user.role))


def list_users(session: Session) -> list[StaffUser]:
    """Return every active staff account, by username."""
    rows = session.scalars(select(User).where(User.active.is_(True)).order_by(User.username))
    return [StaffUser(id=u.id, username=u.username, role=Role(u.role)) for u in rows]


def authenticate(session: Session, username: str, password: str) -> StaffUser:
    """Return the staff member whose ``username`` and ``password`` match.

    Raises
    ------
    PermissionDeniedError
        When the name is unknown or the password is wrong (one message for both).
    """
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    if user is None or not ok:
        msg = "the username or password is not right; try again"
        raise PermissionDeniedError(msg)
    return StaffUser(id=user.id, username=user.username, role=Role(user.role))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: StaffUser) -> str:
    """Return a new session token for ``user`` (the only copy; store its digest)."""
    token = secrets.token_urlsafe(32)
    now = utc_now()
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now))
    session.add(
        StaffSession(
            token_hash=_digest(token),
            user_id=user.id,
            created_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    session.add(AuditEntry(actor_id=user.id, action="session.login"))
    return token


def resolve_session(session: Session, token: str) -> StaffUser:
    """Return the staff member of the live session ``token``.

    Raises
    ------
    NotFoundError
        When the token is unknown or expired.
    """
    row = session.get(StaffSession, _digest(token))
    if row is None or row.expires_at < utc_now() or not row.user.active:
        msg = "the session has ended; log in again"
        raise NotFoundError(msg)
    return StaffUser(id=row.user.id, username=row.user.username, role=Role(row.user.role))


def end_session(session: Session, token: str) -> None:
    """End the session ``token`` (no error when it has already ended)."""
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _digest(token)))
