"""Account lifecycle: disable, enable, set-password, set-role, end-sessions (CLI and admin API).

Known answers: each change is one audit row naming the account, with the
administrator as actor through the API; a disable, a new password or a new role
ends every session of the account (its next request is 401); enable lifts a lock
after failed log-ins; only admins may call the API, with the CSRF header.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.web._server import PASSWORD, add_user
from watchfloor.cli.main import app as cli
from watchfloor.services.auth import FREE_FAILURES
from watchfloor.storage.db import open_database
from watchfloor.storage.models import AuditEntry
from watchfloor.types import Role

NEW_PASSWORD = "a completely new passphrase"
runner = CliRunner()


def _audit(settings, action: str) -> list[AuditEntry]:
    database = open_database(settings)
    try:
        with database.sessions() as session:
            return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))
    finally:
        database.dispose()


def _login(client, username: str, password: str):
    return client.post("/api/staff/session", json={"username": username, "password": password})


def _user_session(client_factory, settings, username: str, role: str):
    """A new client logged in as ``username`` through the login endpoint."""
    add_user(settings, username, role)
    other = client_factory()
    response = _login(other, username, PASSWORD)
    assert response.status_code == 200
    other.headers["x-csrf-token"] = response.json()["csrf_token"]
    return other


@pytest.fixture
def fresh(any_client):
    from fastapi.testclient import TestClient  # noqa: PLC0415 (its import warns; conftest silences it)

    made = []

    def factory():
        c = TestClient(any_client.app, raise_server_exceptions=False)
        made.append(c)
        return c

    yield factory
    for c in made:
        c.close()


def test_disable_ends_sessions_and_enable_lets_back_in(any_staff, any_settings, fresh):
    admin = any_staff("admin")
    rita = _user_session(fresh, any_settings, "rita", "reviewer")
    assert rita.get("/api/staff/reports").status_code == 200
    response = admin.post("/api/admin/users/rita/disable")
    assert response.status_code == 200
    assert response.json() == {
        "username": "rita",
        "role": "reviewer",
        "active": False,
        "sessions_ended": 1,
    }
    assert rita.get("/api/staff/reports").status_code == 401
    assert _login(fresh(), "rita", PASSWORD).status_code == 403
    assert admin.post("/api/admin/users/rita/enable").json()["active"] is True
    assert _login(fresh(), "rita", PASSWORD).status_code == 200
    (disabled,) = _audit(any_settings, "user.disable")
    assert disabled.detail == "rita; 1 session(s) ended"
    assert disabled.actor_id is not None
    assert len(_audit(any_settings, "user.enable")) == 1


def test_password_change_ends_sessions_and_only_the_new_one_works(any_staff, any_settings, fresh):
    admin = any_staff("admin")
    rita = _user_session(fresh, any_settings, "rita", "reviewer")
    response = admin.post("/api/admin/users/rita/password", json={"password": NEW_PASSWORD})
    assert response.status_code == 200
    assert response.json()["sessions_ended"] == 1
    assert rita.get("/api/staff/reports").status_code == 401
    assert _login(fresh(), "rita", PASSWORD).status_code == 403
    assert _login(fresh(), "rita", NEW_PASSWORD).status_code == 200
    short = admin.post("/api/admin/users/rita/password", json={"password": "short"})
    assert short.status_code == 422
    assert len(_audit(any_settings, "user.set_password")) == 1


def test_role_change_ends_sessions_and_the_new_login_has_the_new_role(
    any_staff, any_settings, fresh
):
    admin = any_staff("admin")
    rita = _user_session(fresh, any_settings, "rita", "reviewer")
    response = admin.post("/api/admin/users/rita/role", json={"role": "supervisor"})
    assert response.status_code == 200
    assert response.json()["role"] == "supervisor"
    assert rita.get("/api/staff/reports").status_code == 401
    again = fresh()
    assert _login(again, "rita", PASSWORD).json()["role"] == "supervisor"
    assert admin.post("/api/admin/users/rita/role", json={"role": "chief"}).status_code == 422
    (entry,) = _audit(any_settings, "user.set_role")
    assert entry.detail == "rita reviewer -> supervisor; 1 session(s) ended"


def test_end_sessions_and_unknown_accounts(any_staff, any_settings, fresh):
    admin = any_staff("admin")
    rita = _user_session(fresh, any_settings, "rita", "reviewer")
    assert admin.post("/api/admin/users/rita/end-sessions").json()["sessions_ended"] == 1
    assert rita.get("/api/staff/reports").status_code == 401
    missing = admin.post("/api/admin/users/nobody/disable")
    assert missing.status_code == 404
    assert "no staff account named 'nobody'" in missing.json()["detail"]
    assert admin.post("/api/admin/users/%00x/disable").status_code == 422


def test_admin_api_is_for_admins_with_csrf(any_staff, any_settings, any_client):
    add_user(any_settings, "rita", "reviewer")
    for role in Role:
        if role == Role.ADMIN:
            continue
        assert any_staff(role).post("/api/admin/users/rita/disable").status_code == 403
    assert any_client.post("/api/admin/users/rita/disable").status_code == 401
    admin = any_staff("admin")
    del admin.headers["x-csrf-token"]
    refused = admin.post("/api/admin/users/rita/disable")
    assert refused.status_code == 403
    assert "reload the page" in refused.json()["detail"]
    assert _audit(any_settings, "user.disable") == []


def test_an_admin_cannot_disable_or_demote_themselves(staff, settings):
    admin = staff("admin")
    me = admin.get("/api/staff/users").json()
    name = next(u["username"] for u in me if u["role"] == "admin")
    assert admin.post(f"/api/admin/users/{name}/disable").status_code == 409
    demote = admin.post(f"/api/admin/users/{name}/role", json={"role": "reviewer"})
    assert demote.status_code == 409
    assert admin.get("/api/staff/users").status_code == 200


def test_enable_lifts_a_lock_after_failed_logins(client, staff, settings):
    add_user(settings, "rita", "reviewer")
    for _ in range(FREE_FAILURES):
        _login(client, "rita", "wrong password here")
    assert _login(client, "rita", PASSWORD).status_code == 429
    assert staff("admin").post("/api/admin/users/rita/enable").status_code == 200
    assert _login(client, "rita", PASSWORD).status_code == 200


def test_cli_disable_enable_set_password_set_role_end_sessions(home: Path):
    added = runner.invoke(
        cli,
        ["users", "add", "rita", "--role", "reviewer", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    steps = [
        (["users", "disable", "rita"], "rita: reviewer, disabled; 0 session(s) ended"),
        (["users", "enable", "rita"], "rita: reviewer, active; 0 session(s) ended"),
        (["users", "set-role", "rita", "--role", "supervisor"], "rita: supervisor, active"),
        (["users", "end-sessions", "rita"], "0 session(s) ended"),
    ]
    for args, expected in steps:
        result = runner.invoke(cli, args)
        assert result.exit_code == 0, result.output
        assert expected in " ".join(result.output.split())
    changed = runner.invoke(
        cli, ["users", "set-password", "rita", "--password-stdin"], input=NEW_PASSWORD + "\n"
    )
    assert changed.exit_code == 0, changed.output
    unknown = runner.invoke(cli, ["users", "disable", "nobody"])
    assert unknown.exit_code == 2
    assert "no staff account named 'nobody'" in unknown.output
    bad_role = runner.invoke(cli, ["users", "set-role", "rita", "--role", "chief"])
    assert bad_role.exit_code == 2
    listed = runner.invoke(cli, ["users", "list", "--json"])
    assert json.loads(listed.stdout.strip().splitlines()[-1]) == [
        {"username": "rita", "role": "supervisor"}
    ]
