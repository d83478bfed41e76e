"""Role checks declared on routes: only roles of the vocabulary, messages in its order."""

from __future__ import annotations

import asyncio

import pytest

from watchfloor.errors import PermissionDeniedError
from watchfloor.services.auth import StaffUser
from watchfloor.types import Role
from watchfloor.web.deps import require_roles


def test_require_roles_refuses_a_role_outside_the_vocabulary() -> None:
    with pytest.raises(ValueError, match=r"unknown role\(s\) \['superuser'\]"):
        require_roles(Role.SUPERVISOR, "superuser")
    with pytest.raises(ValueError, match="unknown role"):
        require_roles()


def test_require_roles_admits_listed_roles_and_names_them_in_vocabulary_order() -> None:
    # Given as a set (no order) and as strings: the message lists them as Role does.
    check = require_roles(*{Role.ADMIN, Role.SUPERVISOR}, "reviewer")
    assert check.__name__ == "require_reviewer_or_supervisor_or_admin"
    supervisor = StaffUser(id=1, username="sam", role=Role.SUPERVISOR)
    assert asyncio.run(check(supervisor)) is supervisor  # type: ignore[operator]
    planner = StaffUser(id=2, username="pat", role=Role.PLANNER)
    with pytest.raises(PermissionDeniedError, match=r"needs one of: reviewer, supervisor, admin$"):
        asyncio.run(check(planner))  # type: ignore[operator]
