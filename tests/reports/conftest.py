"""Fixtures for the reporting-service tests: a migrated database (SQLite, PostgreSQL) and keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres import empty_postgres, fresh_database
from watchfloor.services.auth import StaffUser, hash_password
from watchfloor.settings import Settings
from watchfloor.storage.db import Database, open_database, upgrade_database
from watchfloor.storage.keys import KeyRing, load_keyring
from watchfloor.storage.models import User
from watchfloor.types import Role

SECRET = b"test-secret-key-0123456789abcdef"


@pytest.fixture(scope="session")
def report_pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (dropped after)."""
    with fresh_database("wf_reports_") as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data home, migrated."""
    result = Settings(home=tmp_path / "home", secret_key=SECRET.decode())
    upgrade_database(result)
    return result


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """Migrated settings on SQLite, then on the local PostgreSQL server (emptied)."""
    url = None if request.param == "sqlite" else request.getfixturevalue("report_pg_url")
    result = Settings(home=tmp_path / "home", secret_key=SECRET.decode(), database_url=url)
    upgrade_database(result)
    if url is not None:
        empty_postgres(result.resolved_database_url)
    return result


@pytest.fixture
def any_database(any_settings: Settings) -> Iterator[Database]:
    """The database of ``any_settings`` (SQLite, then PostgreSQL)."""
    db = open_database(any_settings)
    yield db
    db.dispose()


@pytest.fixture
def any_keyring(any_settings: Settings) -> KeyRing:
    """The report key ring of ``any_settings``."""
    return load_keyring(any_settings.home)


@pytest.fixture
def database(settings: Settings) -> Iterator[Database]:
    """The database of ``settings``."""
    db = open_database(settings)
    yield db
    db.dispose()


@pytest.fixture
def keyring(settings: Settings) -> KeyRing:
    """The report key ring (created in the data home)."""
    return load_keyring(settings.home)


@pytest.fixture(scope="session")
def password_hash() -> str:
    """One argon2 hash shared by the test accounts (hashing is slow on purpose)."""
    return hash_password("p" * 12)


@pytest.fixture
def users(database: Database, password_hash: str) -> dict[str, StaffUser]:
    """One staff account per role used in the tests."""
    made = {}
    with database.session() as session:
        for role in ("reviewer", "ct_analyst", "supervisor", "planner"):
            user = User(username=role.replace("_", "-"), role=role, password_hash=password_hash)
            session.add(user)
            session.flush()
            made[role] = StaffUser(id=user.id, username=user.username, role=Role(role))
    return made
