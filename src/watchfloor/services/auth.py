"""Staff accounts and login sessions; roles are :class:`watchfloor.types.Role`.

Passwords are hashed with argon2id; a login creates a server-side session whose
random token is given to the browser once and stored only as its SHA-256.

A password check costs about 64 MiB and a fraction of a second of CPU, so log-ins
are guarded twice before one runs: a username (known or not, so the answer says
nothing about which names exist) that failed :data:`FREE_FAILURES` times in a row
is locked for a time that doubles with every further failure, up to
:data:`MAX_LOCKOUT` (stored, so the lock holds in every process and host); and at
most :data:`MAX_CONCURRENT_PASSWORD_CHECKS` checks run at once in a process
(:class:`PasswordGate`), beyond which a log-in is refused at once with 429. Every
failed or refused log-in is audited with the username tried and the time, never
the client's address. Imports storage and the foundation.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from watchfloor.errors import (
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    ThrottledError,
)
from watchfloor.storage.models import AuditEntry, LoginThrottle, StaffSession, User, utc_now
from watchfloor.types import Role

__all__ = [
    "FREE_FAILURES",
    "MAX_CONCURRENT_PASSWORD_CHECKS",
    "MAX_LOCKOUT",
    "SESSION_LIFETIME",
    "AccountChange",
    "PasswordGate",
    "StaffUser",
    "authenticate",
    "create_user",
    "end_session",
    "end_user_sessions",
    "hash_password",
    "list_users",
    "password_gate",
    "resolve_session",
    "set_account_active",
    "set_account_password",
    "set_account_role",
    "start_session",
    "verify_password",
]

log = logging.getLogger(__name__)

SESSION_LIFETIME = timedelta(hours=12)

#: Password checks one process runs at once (each holds about 64 MiB for its duration).
MAX_CONCURRENT_PASSWORD_CHECKS = 4
#: Failed log-ins in a row a username may have before it is locked.
FREE_FAILURES = 5
#: The first lock; each further failure doubles it, up to MAX_LOCKOUT.
FIRST_LOCKOUT = timedelta(seconds=30)
MAX_LOCKOUT = timedelta(minutes=15)
#: Seconds a client refused for a full gate is asked to wait.
GATE_RETRY_AFTER_S = 2

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


class PasswordGate:
    """A bound on the password checks running at once in this process.

    Parameters
    ----------
    max_concurrent : int
        Checks allowed at once; one more is refused at once, never queued (a
        queued check would still hold a worker thread the public form needs).
    """

    def __init__(self, max_concurrent: int = MAX_CONCURRENT_PASSWORD_CHECKS) -> None:
        self.max_concurrent = max_concurrent
        self._slots = threading.BoundedSemaphore(max_concurrent)
        self._lock = threading.Lock()
        self.running = 0
        self.peak = 0
        self.refused = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for a password check.

        Raises
        ------
        ThrottledError
            (429) When every slot is taken.
        """
        if not self._slots.acquire(blocking=False):
            with self._lock:
                self.refused += 1
            msg = "too many log-ins are being checked right now; wait a few seconds and retry"
            raise ThrottledError(msg, retry_after_s=GATE_RETRY_AFTER_S)
        with self._lock:
            self.running += 1
            self.peak = max(self.peak, self.running)
        try:
            yield
        finally:
            with self._lock:
                self.running -= 1
            self._slots.release()


_gate = PasswordGate()


def password_gate() -> PasswordGate:
    """Return the process's password gate (what :func:`authenticate` checks through)."""
    return _gate


def _throttle_key(username: str) -> str:
    return username[:64]


def _audit_username(username: str) -> str:
    # The name as typed, without control characters (it is shown to administrators).
    return "".join(ch for ch in username[:64] if ch.isprintable()) or "(empty)"


def _lockout_for(failures: int) -> timedelta | None:
    if failures < FREE_FAILURES:
        return None
    doublings = min(failures - FREE_FAILURES, 10)
    lockout: timedelta = FIRST_LOCKOUT * (2**doublings)
    return min(lockout, MAX_LOCKOUT)


def _refuse_locked(session: Session, username: str, locked_until: datetime, now: datetime) -> None:
    session.add(
        AuditEntry(actor_id=None, action="session.login_locked", detail=_audit_username(username))
    )
    session.commit()
    wait_s = max(1, int((locked_until - now).total_seconds()) + 1)
    minutes = max(1, round(wait_s / 60))
    msg = (
        f"too many failed log-ins for this username; wait {minutes} minute(s) and try again, "
        "or ask an administrator to enable the account (watchfloor users enable NAME)"
    )
    raise ThrottledError(msg, retry_after_s=wait_s)


def _record_failure(session: Session, username: str, user: User | None, now: datetime) -> None:
    key = _throttle_key(username)
    detail = _audit_username(username) + ("" if user else " (no such active user)")
    for attempt in range(2):
        row = session.get(LoginThrottle, key, with_for_update=True)
        if row is None:
            row = LoginThrottle(username=key, failures=0, last_failure_at=now)
            session.add(row)
        row.failures += 1
        row.last_failure_at = now
        lockout = _lockout_for(row.failures)
        row.locked_until = now + lockout if lockout else None
        session.add(AuditEntry(actor_id=None, action="session.login_failed", detail=detail))
        try:
            session.commit()
            return
        except IntegrityError:  # another process recorded this name's first failure just now
            session.rollback()
            if attempt:
                raise


def authenticate(
    session: Session,
    username: str,
    password: str,
    *,
    gate: PasswordGate | None = None,
    now: datetime | None = None,
) -> StaffUser:
    """Return the staff member whose ``username`` and ``password`` match.

    A failure is recorded and audited (committed on ``session``) before the error
    is raised; a success clears the username's failures (committed by the caller
    with the new session).

    Raises
    ------
    ThrottledError
        (429) When the username is locked after repeated failures (no password is
        checked), or when ``gate`` (default :func:`password_gate`) is full.
    PermissionDeniedError
        When the name is unknown or the password is wrong (one message for both).
    """
    now = now or utc_now()
    throttle = session.get(LoginThrottle, _throttle_key(username))
    if throttle is not None and throttle.locked_until is not None and throttle.locked_until > now:
        _refuse_locked(session, username, throttle.locked_until, now)
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    with (gate or _gate).slot():
        ok = verify_password(user.password_hash if user else _dummy_hash(), password)
    if user is None or not ok:
        _record_failure(session, username, user, now)
        msg = "the username or password is not right; try again"
        raise PermissionDeniedError(msg)
    if throttle is not None:
        session.delete(throttle)
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


@dataclass(frozen=True)
class AccountChange:
    """What an account change did: the account as it now is and the sessions it ended."""

    username: str
    role: Role
    active: bool
    sessions_ended: int


def _account(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        msg = f"there is no staff account named {username!r}; see watchfloor users list"
        raise NotFoundError(msg)
    return user


def _end_all(session: Session, user: User) -> int:
    result = session.execute(delete(StaffSession).where(StaffSession.user_id == user.id))
    return int(getattr(result, "rowcount", 0) or 0)


def _changed(
    session: Session, user: User, *, action: str, actor_id: int | None, end: bool, detail: str = ""
) -> AccountChange:
    ended = _end_all(session, user) if end else 0
    session.add(
        AuditEntry(
            actor_id=actor_id,
            action=action,
            detail=f"{user.username}{detail}; {ended} session(s) ended",
        )
    )
    session.flush()
    log.info("%s: %d session(s) ended", action, ended)
    return AccountChange(
        username=user.username, role=Role(user.role), active=user.active, sessions_ended=ended
    )


def _clear_throttle(session: Session, username: str) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.username == _throttle_key(username)))


def set_account_active(
    session: Session, username: str, *, active: bool, actor_id: int | None = None
) -> AccountChange:
    """Return the account after disabling (and ending its sessions) or enabling it.

    Enabling also lifts a lock after failed log-ins. Audited as ``user.disable`` or
    ``user.enable`` (committed by the caller).

    Raises
    ------
    NotFoundError
        When there is no account ``username``.
    """
    user = _account(session, username)
    user.active = active
    if active:
        _clear_throttle(session, username)
    action = "user.enable" if active else "user.disable"
    return _changed(session, user, action=action, actor_id=actor_id, end=not active)


def set_account_password(
    session: Session, username: str, password: str, *, actor_id: int | None = None
) -> AccountChange:
    """Return the account after giving it ``password``; its sessions end and any lock lifts.

    Raises
    ------
    NotFoundError
        When there is no account ``username``.
    InvalidInputError
        For a password shorter than 12 characters.
    """
    if len(password) < _MIN_PASSWORD:
        msg = f"the password is too short; use at least {_MIN_PASSWORD} characters"
        raise InvalidInputError(msg)
    if len(password) > 1024:
        msg = "the password is too long; use at most 1024 characters"
        raise InvalidInputError(msg)
    user = _account(session, username)
    user.password_hash = hash_password(password)
    _clear_throttle(session, username)
    return _changed(session, user, action="user.set_password", actor_id=actor_id, end=True)


def set_account_role(
    session: Session, username: str, role: str | Role, *, actor_id: int | None = None
) -> AccountChange:
    """Return the account after giving it ``role``; its sessions end (they carried the old role).

    Raises
    ------
    NotFoundError
        When there is no account ``username``.
    InvalidInputError
        For an unknown role.
    """
    if role not in tuple(Role):
        msg = f"unknown role {role!r}; choose one of {', '.join(Role)}"
        raise InvalidInputError(msg)
    user = _account(session, username)
    old = user.role
    user.role = Role(role).value
    detail = f" {old} -> {user.role}"
    return _changed(
        session, user, action="user.set_role", actor_id=actor_id, end=True, detail=detail
    )


def end_user_sessions(
    session: Session, username: str, *, actor_id: int | None = None
) -> AccountChange:
    """Return the account after ending every session of it (audited ``user.end_sessions``).

    Raises
    ------
    NotFoundError
        When there is no account ``username``.
    """
    user = _account(session, username)
    return _changed(session, user, action="user.end_sessions", actor_id=actor_id, end=True)
