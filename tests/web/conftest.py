"""Fixtures for the web tests: migrated databases (SQLite, PostgreSQL) and app clients."""

from __future__ import annotations

import secrets
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

with warnings.catch_warnings():
    # starlette's TestClient warns that it wants httpx2; httpx is what is installed.
    warnings.filterwarnings("ignore", message="Using `httpx` with `starlette.testclient`")
    from fastapi.testclient import TestClient

from tests.postgres import empty_postgres, fresh_database
from tests.web._server import PASSWORD
from watchfloor.services.auth import StaffUser, hash_password, start_session
from watchfloor.settings import Settings, WebOptions
from watchfloor.storage.db import open_database, upgrade_database
from watchfloor.storage.models import User
from watchfloor.types import Role
from watchfloor.web.app import create_app
from watchfloor.web.security import CSRF_COOKIE, SESSION_COOKIE, csrf_token_for

SECRET = "test-secret-key-0123456789abcdef"


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session (dropped after)."""
    with fresh_database("wf_test_") as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh SQLite data home and a secret key, migrated."""
    result = Settings(home=tmp_path / "home", secret_key=SECRET)
    upgrade_database(result)
    return result


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Migrated settings on SQLite, then on the local PostgreSQL server (emptied)."""
    if request.param == "sqlite":
        result = Settings(home=tmp_path / "home", secret_key=SECRET)
    else:
        url = request.getfixturevalue("pg_url")
        result = Settings(home=tmp_path / "home", secret_key=SECRET, database_url=url)
    upgrade_database(result)
    if request.param == "postgresql":
        empty_postgres(result.resolved_database_url)
    return result


def _client(settings: Settings) -> TestClient:
    app = create_app(settings, options=WebOptions(rate_limit_per_minute=100_000))
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    """A test client of the app for SQLite ``settings``."""
    with _client(settings) as test_client:
        yield test_client


@pytest.fixture
def any_client(any_settings: Settings) -> Iterator[TestClient]:
    """A test client of the app on each database backend."""
    with _client(any_settings) as test_client:
        yield test_client


StaffLogin = Callable[[str], TestClient]


@pytest.fixture(scope="session")
def password_hash() -> str:
    """The argon2 hash of the shared test password, made once (0.4 s a hash here)."""
    return hash_password(PASSWORD)


def _staff_logins(
    settings: Settings, client: TestClient, password_hash: str
) -> Iterator[StaffLogin]:
    """Yield a function giving a new client logged in with a role (session cookie, CSRF header).

    The session is started as the login endpoint starts it (``start_session``);
    the password check itself is tested on its own, without paying for an
    argon2 verification per role here.
    """
    opened: list[TestClient] = []
    database = open_database(settings)

    def login(role: str) -> TestClient:
        username = role.replace("_", "-") + "-" + secrets.token_hex(2)
        with database.session() as session:
            user = User(username=username, role=role, password_hash=password_hash)
            session.add(user)
            session.flush()
            staff_user = StaffUser(id=user.id, username=username, role=Role(role))
            token = start_session(session, staff_user)
        staff_client = TestClient(client.app, raise_server_exceptions=False)
        opened.append(staff_client)
        csrf_cookie = secrets.token_urlsafe(16)
        staff_client.cookies.set(SESSION_COOKIE, token)
        staff_client.cookies.set(CSRF_COOKIE, csrf_cookie)
        staff_client.headers["x-csrf-token"] = csrf_token_for(SECRET.encode(), csrf_cookie)
        return staff_client

    yield login
    for c in opened:
        c.close()
    database.dispose()


@pytest.fixture
def staff(settings: Settings, client: TestClient, password_hash: str) -> Iterator[StaffLogin]:
    """Return a function giving a new logged-in client for a role on SQLite."""
    yield from _staff_logins(settings, client, password_hash)


@pytest.fixture
def any_staff(
    any_settings: Settings, any_client: TestClient, password_hash: str
) -> Iterator[StaffLogin]:
    """Return a function giving a new logged-in client for a role, on each database backend."""
    yield from _staff_logins(any_settings, any_client, password_hash)
