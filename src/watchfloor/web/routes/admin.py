"""Admin JSON API: staff accounts (disable, enable, password, role, sessions).

Role ``admin`` only; every route changes state, so it needs the CSRF header
like the other staff mutations (checked with the session). Each change is
audited with the administrator as actor; a disable, a new password or a new role
ends the account's sessions. An administrator cannot disable or demote their own
account here (the CLI can), so the last one cannot lock everybody out by a slip.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field

from watchfloor.errors import ConflictError
from watchfloor.services.auth import (
    AccountChange,
    StaffUser,
    end_user_sessions,
    set_account_active,
    set_account_password,
    set_account_role,
)
from watchfloor.types import Role
from watchfloor.web.deps import DbSession, require_roles

__all__ = ["router"]

router = APIRouter(prefix="/api/admin", tags=["admin"])

Admin = Annotated[StaffUser, Depends(require_roles(Role.ADMIN))]
Username = Annotated[str, Path(min_length=2, max_length=64, pattern=r"^[a-z0-9][a-z0-9._-]+$")]


class AccountOut(BaseModel):
    """An account after a change, and how many of its sessions the change ended."""

    username: str
    role: Role
    active: bool
    sessions_ended: int


class PasswordSet(BaseModel):
    """A new password (at least 12 characters)."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=12, max_length=1024)


class RoleSet(BaseModel):
    """A new role."""

    model_config = ConfigDict(extra="forbid")

    role: Role


def _out(change: AccountChange) -> AccountOut:
    return AccountOut(
        username=change.username,
        role=change.role,
        active=change.active,
        sessions_ended=change.sessions_ended,
    )


def _not_self(admin: StaffUser, username: str, what: str) -> None:
    if admin.username == username:
        msg = f"you cannot {what} your own account here; ask another administrator"
        raise ConflictError(msg)


@router.post("/users/{username}/disable")
def disable_user(admin: Admin, session: DbSession, username: Username) -> AccountOut:
    """Disable an account and end its sessions."""
    _not_self(admin, username, "disable")
    change = set_account_active(session, username, active=False, actor_id=admin.id)
    session.commit()
    return _out(change)


@router.post("/users/{username}/enable")
def enable_user(admin: Admin, session: DbSession, username: Username) -> AccountOut:
    """Enable an account (also lifts a lock after failed log-ins)."""
    change = set_account_active(session, username, active=True, actor_id=admin.id)
    session.commit()
    return _out(change)


@router.post("/users/{username}/password")
def set_user_password(
    admin: Admin, session: DbSession, username: Username, body: PasswordSet
) -> AccountOut:
    """Give an account a new password; its sessions end."""
    change = set_account_password(session, username, body.password, actor_id=admin.id)
    session.commit()
    return _out(change)


@router.post("/users/{username}/role")
def set_user_role(
    admin: Admin, session: DbSession, username: Username, body: RoleSet
) -> AccountOut:
    """Give an account another role; its sessions end."""
    if body.role != Role.ADMIN:
        _not_self(admin, username, "demote")
    change = set_account_role(session, username, body.role, actor_id=admin.id)
    session.commit()
    return _out(change)


@router.post("/users/{username}/end-sessions")
def end_sessions(admin: Admin, session: DbSession, username: Username) -> AccountOut:
    """End every session of an account."""
    change = end_user_sessions(session, username, actor_id=admin.id)
    session.commit()
    return _out(change)
