"""Fixtures for the reporting-service tests: a migrated SQLite database and keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from watchfloor.services.auth import StaffUser, hash_password
from watchfloor.settings import Settings
from watchfloor.storage.db import Database, open_database, upgrade_database
from watchfloor.storage.keys import KeyRing, load_keyring
from watchfloor.storage.models import User
from watchfloor.types import Role

SECRET = b"test-secret-key-0123456789abcdef"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings with a fresh data home, migrated."""
    result = Settings(home=tmp_path / "home", secret_key=SECRET.decode())
    upgrade_database(result)
    return result


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
